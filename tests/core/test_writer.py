"""The batched writer stores every observation once, in order, across database outages."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from signalbox.catalog import parse_catalog
from signalbox.db import make_engine, normalize_url
from signalbox.sync import sync_catalog
from signalbox.writer import ObservationWriter
from tests.core.factories import CATALOG_TOML, observation
from tests.core.tcp_proxy import TcpProxy


def _endpoint_id(engine: Engine) -> int:
    return sync_catalog(engine, parse_catalog(CATALOG_TOML)).endpoint_ids[
        ("alpha", "llama-3.1-70b")
    ]


def _stored_sequence(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(text("SELECT input_tokens FROM observation ORDER BY id")).scalars()
        )


async def _wait_until(predicate, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        await asyncio.sleep(0.02)


async def test_writer_flushes_by_size_and_by_time(engine: Engine) -> None:
    endpoint_id = _endpoint_id(engine)
    writer = ObservationWriter(engine, batch_size=10, flush_interval_s=0.2)
    await writer.start()
    for i in range(25):
        writer.submit(observation(endpoint_id, i))
    await _wait_until(lambda: writer.written >= 20)  # two full batches go without waiting
    await _wait_until(lambda: writer.written == 25)  # the remainder goes on the timer
    await writer.close()
    assert _stored_sequence(engine) == list(range(25))


@pytest.mark.slow
async def test_no_observation_lost_or_duplicated_when_postgres_is_cut(
    fresh_pg_url: str, tmp_path: Path
) -> None:
    direct = make_engine(fresh_pg_url)
    endpoint_id = _endpoint_id(direct)
    target = make_url(normalize_url(fresh_pg_url))
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        via_proxy = make_engine(target.set(port=proxy.port).render_as_string(hide_password=False))
        writer = ObservationWriter(
            via_proxy,
            batch_size=50,
            flush_interval_s=0.05,
            max_buffer=300,  # small, so the outage also exercises the spill file
            spill_path=tmp_path / "spill.jsonl",
            max_backoff_s=0.3,
        )
        await writer.start()
        sent = 0

        async def produce(seconds: float) -> None:
            nonlocal sent
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                writer.submit(observation(endpoint_id, sent))
                sent += 1
                await asyncio.sleep(0.002)

        await produce(0.8)
        proxy.cut()
        await produce(2.0)
        assert writer.spilled > 0, "the outage should have pushed observations to the spill file"
        proxy.restore()
        await produce(0.8)
        await writer.flush(timeout_s=60)
        await writer.close()
        via_proxy.dispose()

    stored = _stored_sequence(direct)
    with direct.connect() as conn:
        distinct = conn.execute(text("SELECT count(DISTINCT uid) FROM observation")).scalar()
    direct.dispose()
    assert len(stored) == sent and distinct == sent
    assert stored == list(range(sent)), "rows must be stored in arrival order"
    assert not (tmp_path / "spill.jsonl").exists()


async def test_spill_survives_a_restart_and_replays_once(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    endpoint_id = _endpoint_id(engine)
    spill = tmp_path / "spill.jsonl"
    dead = make_engine("postgresql://postgres@127.0.0.1:1/none")  # nothing listens on port 1
    writer = ObservationWriter(
        dead, batch_size=5, flush_interval_s=0.05, max_buffer=4, spill_path=spill
    )
    await writer.start()
    for i in range(12):
        writer.submit(observation(endpoint_id, i))
    await writer.close(timeout_s=0.5)
    dead.dispose()
    assert spill.exists()

    # Simulate a crash that left a torn line, then a restart against a working database.
    with spill.open("ab") as fh:
        fh.write(b'{"endpoint_id": 1, "ts": "2026')
    writer = ObservationWriter(engine, batch_size=5, flush_interval_s=0.05, spill_path=spill)
    await writer.start()
    writer.submit(observation(endpoint_id, 12))
    await _wait_until(lambda: writer.pending == 0)
    await writer.close()
    assert _stored_sequence(engine) == list(range(13))
    assert not spill.exists()
    engine.dispose()


async def test_replaying_rows_already_stored_does_not_duplicate(engine: Engine) -> None:
    endpoint_id = _endpoint_id(engine)
    batch = [observation(endpoint_id, i) for i in range(5)]
    for _ in range(2):
        writer = ObservationWriter(engine, batch_size=100, flush_interval_s=0.05)
        await writer.start()
        for obs in batch:
            writer.submit(obs)
        await writer.flush(timeout_s=10)
        await writer.close()
    assert _stored_sequence(engine) == list(range(5))
