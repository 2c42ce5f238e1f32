"""Every routed request becomes one ``route_decision`` row (route, models in order, trigger and
why, each attempt's provider, tokens, cost, latency, outcome), written in batches by the same
spilling writer as observations: nothing is lost or doubled across a database outage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from signalbox.db import make_engine, normalize_url
from signalbox.migrate import upgrade
from signalbox.route_record import RouteDecisionRecord
from signalbox.writer import RouteDecisionWriter
from tests.core.tcp_proxy import TcpProxy
from tests.probe.scripted_server import Script
from tests.router.routes_harness import Env, answer, ask, routes_env


@pytest.fixture(scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    async with routes_env(tmp_path_factory.mktemp("routes-decisions")) as running:
        yield running


def _rows(env: Env) -> list[dict]:
    engine = make_engine(_db_url(env))
    try:
        with engine.connect() as conn:
            result = conn.execute(text("SELECT * FROM route_decision ORDER BY id"))
            return [dict(r._mapping) for r in result]
    finally:
        engine.dispose()


def _db_url(env: Env) -> str:
    log = env.router.state.route_log
    assert log is not None
    return log.engine.url.render_as_string(hide_password=False)


async def test_an_escalated_request_is_recorded_with_every_attempt_and_why(env: Env) -> None:
    env.script(answer("cut", finish="length"))
    response = await env.post(ask("all"))
    assert response.status_code == 200
    await _flush(env)
    row = _rows(env)[-1]
    assert row["route"] == "all" and row["objective"] == "balanced"
    assert _json(row["path"]) == ["small", "large"]
    assert row["trigger"] == "finish_length"
    assert "small: finish reason length" in row["trigger_detail"]
    attempts = _json(row["attempts"])
    assert [(a["model"], a["provider"], a["outcome"]) for a in attempts] == [
        ("small", "ps", "ok"),
        ("large", "pl", "ok"),
    ]
    assert row["final_model"] == "large" and row["final_provider"] == "pl"
    assert row["outcome"] == "escalated"
    assert row["input_tokens"] == 24 and row["output_tokens"] == 10  # both answers were paid for
    assert row["cost_usd"] == pytest.approx((12 + 5) * 1e-6 + (12 + 5) * 10e-6)
    assert row["latency_ms"] > 0 and row["ttft_ms"] is not None
    assert not row["stream"] and not row["buffered"] and row["prompt_tokens_estimated"]


async def test_held_streams_and_failures_are_recorded_too(env: Env) -> None:
    env.script(answer("cut", finish="length"))
    async with env.http.stream(
        "POST", "/v1/chat/completions", json={**ask("all@cost"), "stream": True}
    ) as response:
        await response.aread()
    down = Script(status=503, content_type="application/json", writes=[(0.0, b"{}")])
    env.script(down, down)
    failed = await env.post(ask("plain"))
    assert failed.status_code == 502
    await _flush(env)
    streamed, lost = _rows(env)[-2:]
    assert streamed["stream"] and streamed["buffered"] and streamed["objective"] == "cost"
    assert streamed["outcome"] == "escalated"
    assert lost["outcome"] == "failed" and lost["final_model"] is None
    assert lost["trigger"] == "failure" and lost["ttft_ms"] is None
    assert [a["outcome"] for a in _json(lost["attempts"])] == ["http_5xx", "http_5xx"]


async def _flush(env: Env) -> None:
    log = env.router.state.route_log
    assert log is not None
    await log.flush(timeout_s=10)


def _json(value: object) -> object:
    import json

    return json.loads(value) if isinstance(value, str) else value


def _record(seq: int) -> RouteDecisionRecord:
    """A decision whose ``input_tokens`` carries a sequence number for order checks."""
    return RouteDecisionRecord(
        ts=datetime.now(UTC),
        route="support",
        objective="balanced",
        path=["small", "large"],
        trigger="invalid_json",
        trigger_detail="small: response_format json_object: the answer is not JSON",
        attempts=[{"model": "small", "provider": "ps", "outcome": "ok"}],
        final_model="large",
        final_provider="pl",
        outcome="escalated",
        input_tokens=seq,
        output_tokens=5,
        cost_usd=0.001,
        latency_ms=120.0,
        ttft_ms=80.0,
        stream=False,
        buffered=False,
        prompt_tokens_estimated=True,
    )


def _stored(engine: Engine) -> tuple[list[int], int]:
    with engine.connect() as conn:
        seqs = list(
            conn.execute(text("SELECT input_tokens FROM route_decision ORDER BY id")).scalars()
        )
        distinct = conn.execute(text("SELECT count(DISTINCT uid) FROM route_decision")).scalar()
    return seqs, int(distinct or 0)


@pytest.mark.slow
async def test_no_route_decision_lost_or_doubled_when_postgres_is_cut(
    fresh_pg_url: str, tmp_path: Path
) -> None:
    upgrade(fresh_pg_url)
    direct = make_engine(fresh_pg_url)
    target = make_url(normalize_url(fresh_pg_url))
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        via_proxy = make_engine(target.set(port=proxy.port).render_as_string(hide_password=False))
        writer = RouteDecisionWriter(
            via_proxy,
            batch_size=20,
            flush_interval_s=0.05,
            max_buffer=100,  # small, so the outage also exercises the spill file
            spill_path=tmp_path / "routes-spill.jsonl",
            max_backoff_s=0.3,
        )
        await writer.start()
        sent = 0

        async def produce(seconds: float) -> None:
            nonlocal sent
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                writer.submit(_record(sent))
                sent += 1
                await asyncio.sleep(0.004)

        await produce(0.5)
        proxy.cut()
        await produce(1.5)
        assert writer.spilled > 0, "the outage should have pushed decisions to the spill file"
        proxy.restore()
        await produce(0.5)
        await writer.flush(timeout_s=60)
        await writer.close()
        via_proxy.dispose()
    seqs, distinct = _stored(direct)
    direct.dispose()
    assert seqs == list(range(sent)) and distinct == sent
    assert not (tmp_path / "routes-spill.jsonl").exists()


async def test_route_decisions_spilled_while_the_store_is_down_replay_after_a_restart(
    sqlite_url: str, tmp_path: Path
) -> None:
    upgrade(sqlite_url)
    spill = tmp_path / "routes-spill.jsonl"
    dead = make_engine("postgresql://postgres@127.0.0.1:1/none")  # nothing listens on port 1
    writer = RouteDecisionWriter(
        dead, batch_size=5, flush_interval_s=0.05, max_buffer=4, spill_path=spill
    )
    await writer.start()
    for i in range(10):
        writer.submit(_record(i))
    await writer.close(timeout_s=0.5)
    dead.dispose()
    assert spill.exists()
    engine = make_engine(sqlite_url)
    writer = RouteDecisionWriter(engine, batch_size=5, flush_interval_s=0.05, spill_path=spill)
    await writer.start()
    writer.submit(_record(10))
    await writer.flush(timeout_s=10)
    await writer.close()
    assert _stored(engine) == (list(range(11)), 11)
    assert not spill.exists()
    engine.dispose()


async def test_a_stream_broken_after_its_first_byte_is_recorded_as_failed(env: Env) -> None:
    from tests.probe.scripted_server import openai_chunk

    cut = Script(
        writes=[(0.0, openai_chunk(role="assistant")), (0.0, openai_chunk("part"))], abort=True
    )
    env.script(cut)
    async with env.http.stream(
        "POST", "/v1/chat/completions", json={**ask("nobuf"), "stream": True}
    ) as response:
        await response.aread()
    await _flush(env)
    row = _rows(env)[-1]
    assert row["route"] == "nobuf" and row["outcome"] == "failed"
    assert row["final_model"] == "small" and row["ttft_ms"] is not None
    assert [a["outcome"] for a in _json(row["attempts"])] == ["stream_broken"]


async def test_each_step_counts_as_traffic_in_its_providers_statistics(env: Env) -> None:
    live = env.router.state.live
    before = live.full_snapshot("pl/large").samples
    env.script(answer("cut", finish="length"))
    assert (await env.post(ask("all"))).status_code == 200
    assert live.full_snapshot("pl/large").samples > before
    assert live.full_snapshot("ps/small").samples > 0


async def test_the_console_reads_the_decisions_the_router_wrote(env: Env) -> None:
    from datetime import timedelta

    from signalbox.dashboard.queries import route_decisions

    env.script(answer("cut", finish="length"))
    assert (await env.post(ask("all"))).status_code == 200
    await _flush(env)
    engine = make_engine(_db_url(env))
    try:
        frame = route_decisions(engine, datetime.now(UTC) - timedelta(hours=1), "all")
    finally:
        engine.dispose()
    newest = frame.row(0, named=True)
    assert newest["path"] == "small → large" and newest["trigger"] == "finish_length"
    assert newest["outcome"] == "escalated" and newest["final_provider"] == "pl"
