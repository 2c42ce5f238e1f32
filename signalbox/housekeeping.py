"""The leader's store upkeep: minute/hour rollups and expiry of raw observations (docs/architecture.md §3).

Scheduled as APScheduler 3 jobs in the scheduler process. Every run checks leadership first, so of
several processes sharing one store only the leader rolls up and expires; when it stops, the next
leader picks up at its next run (rollups are idempotent upserts over a lookback, so nothing is
missed or double-counted across a hand-over).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from signalbox.claim import expire_leases
from signalbox.leader import Leader
from signalbox.rollup import expire_raw, run_rollups

log = logging.getLogger(__name__)

ROLLUP_JOB_ID = "signalbox-rollups"
RETENTION_JOB_ID = "signalbox-retention"
# A lease lapsed this long is nobody's: no holder renews that late (probe claims are renewed every
# interval, leadership at every check).
LEASE_KEEP = timedelta(days=1)


async def rollup_job(engine: Engine, leader: Leader) -> bool:
    """Roll up recent observations if this process leads; True when it ran."""
    if not await leader.check():
        return False
    report = await asyncio.to_thread(run_rollups, engine, datetime.now(UTC))
    log.debug("rollups: %s", report)
    return True


async def retention_job(engine: Engine, leader: Leader, retention: timedelta) -> int | None:
    """Delete raw observations older than ``retention`` if this process leads; returns how many
    (and deletes leases lapsed for over a day, left by removed endpoints or dead workers)."""
    if not await leader.check():
        return None
    now = datetime.now(UTC)
    deleted = await asyncio.to_thread(expire_raw, engine, now - retention)
    if deleted:
        log.info("retention: deleted %d raw observations older than %s", deleted, retention)
    leases = await asyncio.to_thread(_expire_leases, engine, now - LEASE_KEEP)
    if leases:
        log.info("retention: deleted %d leases lapsed before %s", leases, now - LEASE_KEEP)
    return deleted


def _expire_leases(engine: Engine, lapsed_before: datetime) -> int:
    with engine.begin() as conn:
        return expire_leases(conn, lapsed_before)


def schedule_housekeeping(
    scheduler: Any,
    engine: Engine,
    leader: Leader,
    *,
    retention: timedelta,
    rollup_interval_s: float = 60.0,
    retention_interval_s: float = 3600.0,
) -> None:
    """Add the rollup and retention jobs to an ``AsyncIOScheduler`` (leader-gated)."""
    from apscheduler.triggers.interval import IntervalTrigger

    common = {"max_instances": 1, "coalesce": True, "replace_existing": True}
    scheduler.add_job(
        rollup_job,
        IntervalTrigger(seconds=rollup_interval_s),
        args=(engine, leader),
        id=ROLLUP_JOB_ID,
        name="rollups",
        next_run_time=datetime.now(UTC) + timedelta(seconds=5),
        misfire_grace_time=max(int(rollup_interval_s), 1),
        **common,
    )
    scheduler.add_job(
        retention_job,
        IntervalTrigger(seconds=retention_interval_s),
        args=(engine, leader, retention),
        id=RETENTION_JOB_ID,
        name="retention",
        next_run_time=datetime.now(UTC) + timedelta(seconds=30),
        misfire_grace_time=max(int(retention_interval_s), 1),
        **common,
    )
