"""The alert job under leader election and APScheduler: one sender among several processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine
from sqlmodel import Session, select

from signalbox.alerts.evaluator import AlertEvaluator, AlertService, run_alert_job
from signalbox.alerts.notify import RetryPolicy
from signalbox.catalog import Catalog
from signalbox.db import make_engine
from signalbox.leader import AdvisoryLockLeader, LeaseLeader
from signalbox.schema import Alert
from tests.alerts.fleet import (
    OUTAGE_RULE,
    FakeClock,
    Fleet,
    Receiver,
    fleet_catalog,
    poll_until,
    sync,
    webhook_toml,
)

STEP_S = 10.0
FAST = RetryPolicy(max_attempts=6, base_s=0.01, max_s=0.05, budget_s=5.0)
INSTANT_RULE = OUTAGE_RULE.replace("for_s = 30", "for_s = 0")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as c:
        yield c


def evaluator(
    engine: Engine, catalog: Catalog, clock: FakeClock, client: httpx.AsyncClient
) -> AlertEvaluator:
    return AlertEvaluator(engine, catalog, clock=clock, http_client=client, env={}, retry=FAST)


@pytest.mark.postgres
async def test_two_evaluators_on_one_postgres_never_send_twice(
    fresh_pg_url: str, receiver: Receiver, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    # Two scheduler processes: own engines, own leaders, own evaluators, one store.
    engines = [make_engine(fresh_pg_url) for _ in range(2)]
    catalog = fleet_catalog(OUTAGE_RULE, webhook_toml("oncall", receiver.url))
    fleet = Fleet(engines[0], sync(engines[0], catalog))
    candidates = [
        (evaluator(e, catalog, clock, client), AdvisoryLockLeader(e, "alerts-test", holder=n))
        for e, n in zip(engines, "ab", strict=True)
    ]
    leaders_seen: list[str] = []

    async def step(seconds: float, live: list[tuple[AlertEvaluator, AdvisoryLockLeader]]) -> None:
        for _ in range(round(seconds / STEP_S)):
            clock.advance(STEP_S)
            fleet.observe(clock())
            reports = await asyncio.gather(*(run_alert_job(ev, ld) for ev, ld in live))
            ran = [ld.holder for (_, ld), r in zip(live, reports, strict=True) if r is not None]
            assert len(ran) <= 1  # never two evaluations in one interval
            leaders_seen.extend(ran)

    try:
        await step(300, candidates)
        fleet.behaviour["alpha"].ok = False
        await step(180, candidates)
        assert len(receiver.by_status("firing")) == 1
        first = leaders_seen[-1]
        # The leader stops: the other takes over at its next check, one interval later.
        stopping = next(c for c in candidates if c[1].holder == first)
        await stopping[1].release()
        survivor = [c for c in candidates if c is not stopping]
        await step(STEP_S, survivor)
        assert leaders_seen[-1] != first
        await step(120, survivor)
        assert len(receiver.by_status("firing")) == 1
        fleet.behaviour["alpha"].ok = True
        await step(600, survivor)
        assert len(receiver.by_status("resolved")) == 1
        assert len(receiver.messages) == 2
    finally:
        for _, leader in candidates:
            await leader.release()
        for e in engines:
            e.dispose()


async def test_scheduled_job_on_asyncio_scheduler_evaluates_and_notifies(
    sqlite_url: str, receiver: Receiver, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    engine = make_engine(sqlite_url)
    catalog = fleet_catalog(INSTANT_RULE, webhook_toml("oncall", receiver.url))
    fleet = Fleet(engine, sync(engine, catalog))
    fleet.behaviour["alpha"].ok = False
    for _ in range(10):
        clock.advance(STEP_S)
        fleet.observe(clock())
    scheduler = AsyncIOScheduler()
    service = AlertService(
        engine,
        catalog,
        env={},
        interval_s=0.05,
        leader=LeaseLeader(engine, holder="only", lease_s=60, clock=clock),
        clock=clock,
        http_client=client,
        retry=FAST,
    )
    scheduler.start()
    try:
        await service.start(scheduler)
        await poll_until(lambda: len(receiver.messages) >= 1)
        assert receiver.by_status("firing", "provider_down")
    finally:
        await service.stop()
        scheduler.shutdown(wait=False)
        engine.dispose()
    with Session(engine) as session:
        assert [a.state for a in session.exec(select(Alert)).all()] == ["firing"]
