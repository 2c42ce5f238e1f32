"""Rollups and retention run in the leader only, and do their work."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select

from signalbox.catalog import parse_catalog
from signalbox.claim import claim_lease
from signalbox.housekeeping import retention_job, rollup_job
from signalbox.leader import make_leader
from signalbox.records import utcnow
from signalbox.schema import Lease, Observation1m
from signalbox.schema import Observation as ObservationRow
from signalbox.sync import sync_catalog
from signalbox.writer import insert_observations
from tests.core.factories import CATALOG_TOML, observation


def _seed(engine: Engine, ages: list[timedelta]) -> None:
    endpoint_id = sync_catalog(engine, parse_catalog(CATALOG_TOML)).endpoint_ids[
        ("alpha", "llama-3.1-70b")
    ]
    rows = []
    for i, age in enumerate(ages):
        obs = observation(endpoint_id, i)
        obs.ts = utcnow() - age
        rows.append(obs.to_row())
    insert_observations(engine, rows)


def _count(engine: Engine, table: type) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


async def test_only_the_leader_rolls_up(engine: Engine) -> None:
    _seed(engine, [timedelta(minutes=m) for m in (1, 2, 3)])
    first = make_leader(engine, "housekeeping-test", lease_s=30)
    second = make_leader(engine, "housekeeping-test", lease_s=30)
    try:
        ran = [await rollup_job(engine, first), await rollup_job(engine, second)]
        assert ran == [True, False]
        assert _count(engine, Observation1m) >= 3
        await first.release()
        assert await rollup_job(engine, second) is True  # the other takes over
    finally:
        await first.release()
        await second.release()


async def test_retention_deletes_only_old_raw_rows(engine: Engine) -> None:
    _seed(engine, [timedelta(days=10), timedelta(days=8), timedelta(hours=1)])
    leader = make_leader(engine, "retention-test", lease_s=30)
    try:
        assert await retention_job(engine, leader, timedelta(days=7)) == 2
    finally:
        await leader.release()
    assert _count(engine, ObservationRow) == 1


async def test_retention_deletes_leases_nobody_renewed_for_a_day(engine: Engine) -> None:
    now = utcnow()
    with engine.begin() as conn:  # a removed endpoint's claim, a dead worker's, a live one
        claim_lease(conn, "probe:999:chat", "w1", now, now - timedelta(days=2))
        claim_lease(conn, "probe:998:chat", "w2", now, now - timedelta(hours=3))
        claim_lease(conn, "probe:1:chat", "w1", now, now + timedelta(seconds=2))
    leader = make_leader(engine, "retention-test", lease_s=30)
    try:
        await retention_job(engine, leader, timedelta(days=7))
    finally:
        await leader.release()
    with engine.connect() as conn:
        names = set(conn.execute(select(Lease.name)).scalars())
    assert {"probe:998:chat", "probe:1:chat"} <= names
    assert "probe:999:chat" not in names
