"""Warm from the store, follow new rows (poll everywhere, LISTEN on PostgreSQL), skip our own
traffic rows, and keep routing when the database is away."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import Engine

from signalbox.catalog import parse_catalog
from signalbox.records import Observation, Sample, Source
from signalbox.router.follow import StoreFollower
from signalbox.router.live import LiveState
from signalbox.settings import Settings
from signalbox.sync import sync_catalog
from signalbox.writer import insert_observations
from tests.router.conftest import TWO_ENDPOINTS as CATALOG
from tests.router.conftest import FakeClock, eventually


def obs(endpoint_id: int, ts: float, ok: bool = True, ttft_ms: float = 100.0) -> Observation:
    return Observation(
        endpoint_id=endpoint_id,
        ts=datetime.fromtimestamp(ts, UTC),
        source=Source.PROBE,
        ok=ok,
        ttft_ms=ttft_ms,
        tps=50.0,
    )


def setup_live(engine: Engine, clock: FakeClock) -> tuple[LiveState, dict[str, int]]:
    live = LiveState(CATALOG, clock)
    report = sync_catalog(engine, CATALOG)
    live.set_endpoint_ids(report.endpoint_ids)
    return live, live.ids


def test_warm_loads_recent_half_lives_then_poll_follows_new_rows(engine: Engine) -> None:
    clock = FakeClock()
    live, ids = setup_live(engine, clock)
    now = clock()
    insert_observations(
        engine, [obs(ids["p1/m"], now - 3600).to_row()]
    )  # 60 half-lives old: skipped
    insert_observations(engine, [obs(ids["p1/m"], now - 10 * i).to_row() for i in range(1, 4)])
    follower = StoreFollower(engine, live)
    assert follower.warm_sync() == 3
    own = obs(ids["p2/m"], now)
    follower.mark_own(own.uid)
    insert_observations(engine, [own.to_row(), obs(ids["p2/m"], now, ok=False).to_row()])
    assert follower.poll_sync() == 1  # our own row is not counted twice
    assert follower.poll_sync() == 0
    assert live.full_snapshot("p2/m").error_rate > 0.3


async def test_listen_wakes_the_follower_on_postgres(pg_url: str) -> None:
    from signalbox.db import make_engine

    engine = make_engine(pg_url)
    try:
        live, ids = setup_live(engine, FakeClock(time.time()))
        follower = StoreFollower(engine, live, poll_interval_s=60.0)  # only NOTIFY can wake it
        await follower.start()
        before = live.observed
        await asyncio.to_thread(
            insert_observations, engine, [obs(ids["p1/m"], time.time()).to_row()]
        )
        deadline = time.monotonic() + 10
        # the LISTEN connection may come up a moment after start: insert again until woken
        while live.observed == before and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if live.observed == before and time.monotonic() > deadline - 8:
                await asyncio.to_thread(
                    insert_observations, engine, [obs(ids["p1/m"], time.time()).to_row()]
                )
        assert live.observed > before
        await follower.close()
    finally:
        engine.dispose()


async def test_database_down_routes_anyway_and_readyz_says_degraded(
    tmp_path, router_factory
) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://postgres@127.0.0.1:1/nothing")
    async with (
        router_factory(CATALOG, settings=settings) as router,
        httpx.AsyncClient(base_url=router.url) as http,
    ):
        ready = (await http.get("/readyz")).json()
        assert ready["status"] == "degraded" and "database unavailable" in ready["reason"]
        resp = await http.get("/v1/route", params={"model": "m"})
        assert resp.status_code == 200


@pytest.mark.parametrize("n", [0, 5])
def test_wanted_probes_lists_stale_and_thin_endpoints(n: int) -> None:
    clock = FakeClock()
    live = LiveState(CATALOG, clock)
    for i in range(n):
        live.observe("p1/m", Sample(clock() - i, True, ttft_ms=100))
    wanted = live.wanted_probes()
    assert "p2/m" in wanted
    assert ("p1/m" in wanted) == (n == 0)


def test_sampled_decisions_are_written_in_batches(engine: Engine) -> None:
    from sqlalchemy import func, select

    from signalbox.router.decisions import DecisionLog
    from signalbox.routing.objectives import Objective
    from signalbox.routing.select import Candidate
    from signalbox.routing.select import select as choose
    from signalbox.schema import Decision as DecisionRow

    clock = FakeClock()
    live, ids = setup_live(engine, clock)
    log = DecisionLog(engine, rate=0.5, endpoint_ids=ids, rng=iter([0.1, 0.9, 0.2]).__next__)
    candidates: list[Candidate] = live.candidates("m", Objective.LATENCY)
    for _ in range(3):
        log.record(choose("m", candidates, Objective.LATENCY), "route", clock())
    assert log.flush_sync() == 2
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DecisionRow)).scalar() == 2
        row = conn.execute(select(DecisionRow.ranking, DecisionRow.reason)).first()
    assert row is not None and len(row.ranking) == 2 and row.reason


def test_objective_with_its_own_half_life_reads_its_own_stats() -> None:
    from signalbox.routing.objectives import Objective

    catalog = parse_catalog(
        '[[provider]]\nname = "p"\nbase_url = "http://x/v1"\n[[model]]\nname = "m"\n'
        '[[model.endpoint]]\nprovider = "p"\nupstream_model = "u"\n'
        "[routing]\nhalf_life_s = 600\nhalf_life_by_objective_s = { latency = 10 }\n"
    )
    clock = FakeClock()
    live = LiveState(catalog, clock)
    live.observe("p/m", Sample(clock() - 100, True, ttft_ms=100))  # ten short half-lives ago
    latency = live.candidates("m", Objective.LATENCY)[0].snapshot
    throughput = live.candidates("m", Objective.THROUGHPUT)[0].snapshot
    assert latency.samples < 0.001 < throughput.samples


async def test_follower_catches_up_when_the_database_comes_back(tmp_path) -> None:
    from signalbox.db import make_engine
    from signalbox.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'late.db'}"
    engine = make_engine(url)
    try:
        clock = FakeClock(time.time())
        live = LiveState(CATALOG, clock)
        follower = StoreFollower(engine, live, poll_interval_s=0.05)
        await follower.start()  # given: no usable store yet
        assert live.degraded and "signalbox db upgrade" in live.degraded
        await asyncio.to_thread(upgrade, url)  # when: the store comes back
        report = await asyncio.to_thread(sync_catalog, engine, CATALOG)
        live.set_endpoint_ids(report.endpoint_ids)
        await asyncio.to_thread(
            insert_observations, engine, [obs(live.ids["p1/m"], clock()).to_row()]
        )
        # the failed polls backed off (doubling, at most 10 s) while the migration ran, which on a
        # loaded machine takes seconds: the catch-up may wait out one full backoff
        caught_up = await eventually(lambda: live.degraded is None and live.observed == 1, 25.0)
        assert caught_up
        await follower.close()
    finally:
        engine.dispose()
