"""Leader election: one leader at a time, and a takeover within one check when it goes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from signalbox.db import make_engine
from signalbox.leader import AdvisoryLockLeader, LeaseLeader, make_leader
from tests.alerts.fleet import FakeClock


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    eng = make_engine(pg_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


@pytest.mark.postgres
async def test_make_leader_picks_the_mechanism_of_the_database(
    pg_engine: Engine, sqlite_engine: Engine
) -> None:
    assert isinstance(make_leader(pg_engine), AdvisoryLockLeader)
    assert isinstance(make_leader(sqlite_engine), LeaseLeader)


@pytest.mark.postgres
async def test_only_one_advisory_lock_candidate_leads(pg_engine: Engine) -> None:
    a = AdvisoryLockLeader(pg_engine, "test-one-leads", holder="a")
    b = AdvisoryLockLeader(pg_engine, "test-one-leads", holder="b")
    try:
        assert await a.check() is True
        assert await b.check() is False
        assert await a.check() is True  # confirming does not stack or lose the lock
        assert await b.check() is False
    finally:
        await a.release()
        await b.release()


@pytest.mark.postgres
async def test_advisory_lock_passes_on_when_the_leader_releases(pg_engine: Engine) -> None:
    a = AdvisoryLockLeader(pg_engine, "test-release", holder="a")
    b = AdvisoryLockLeader(pg_engine, "test-release", holder="b")
    try:
        assert await a.check()
        assert not await b.check()
        await a.release()
        assert await b.check()
    finally:
        await b.release()


@pytest.mark.postgres
async def test_advisory_lock_passes_on_when_the_leaders_session_dies(pg_url: str) -> None:
    # Two engines: two processes. The leader's session is killed as if its process died.
    eng_a, eng_b = make_engine(pg_url), make_engine(pg_url)
    a = AdvisoryLockLeader(eng_a, "test-death", holder="a")
    b = AdvisoryLockLeader(eng_b, "test-death", holder="b")
    try:
        assert await a.check()
        assert not await b.check()
        assert a._conn is not None
        pid = a._conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with eng_b.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        # Termination is asynchronous: the lock is free once the backend has exited.
        deadline = time.monotonic() + 10
        while not await b.check():
            assert time.monotonic() < deadline, "lock of a dead session never freed"
            await asyncio.sleep(0.02)
        assert not await a.check()  # the old leader notices it lost
    finally:
        await a.release()
        await b.release()
        eng_a.dispose()
        eng_b.dispose()


async def test_lease_is_held_by_one_and_renewed(sqlite_engine: Engine, clock: FakeClock) -> None:
    a = LeaseLeader(sqlite_engine, holder="a", lease_s=20, clock=clock)
    b = LeaseLeader(sqlite_engine, holder="b", lease_s=20, clock=clock)
    assert await a.check()
    for _ in range(5):
        clock.advance(15)  # a renews before its lease lapses
        assert await a.check()
        assert not await b.check()
    await a.release()
    await b.release()


async def test_lease_passes_on_at_release(sqlite_engine: Engine, clock: FakeClock) -> None:
    a = LeaseLeader(sqlite_engine, holder="a", lease_s=20, clock=clock)
    b = LeaseLeader(sqlite_engine, holder="b", lease_s=20, clock=clock)
    assert await a.check()
    await a.release()
    assert await b.check()
    await b.release()


async def test_lapsed_lease_of_a_dead_holder_is_taken_over(
    engine: Engine, clock: FakeClock
) -> None:
    a = LeaseLeader(engine, holder="a", lease_s=20, clock=clock)
    b = LeaseLeader(engine, holder="b", lease_s=20, clock=clock)
    assert await a.check()
    clock.advance(10)
    assert not await b.check()
    clock.advance(11)  # a stopped renewing (died): its lease lapsed
    assert await b.check()
    assert not await a.check()
    await b.release()
    await a.release()
