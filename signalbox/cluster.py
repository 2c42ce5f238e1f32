"""The cluster-wide jobs: alert evaluation, rollups and retention, run by one leader of many.

Every process that may run them (today the scheduler process, ``signalbox probe``) owns one
:class:`ClusterJobs`: an ``AsyncIOScheduler`` on its main loop and one leader election shared by
every job, so that of several processes on one store exactly one runs each job. The process's
composition root (``signalbox.cli.probe``) starts them beside its service; no service starts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED
from sqlalchemy import Engine

from signalbox.catalog import Catalog

log = logging.getLogger(__name__)

LEADER_NAME = "signalbox-leader"


class ClusterJobs:
    """Alerts, rollups and retention on this loop, gated by one leader election."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        retention: timedelta,
        alert_interval_s: float = 30.0,
        rollup_interval_s: float = 60.0,
        grace_s: float = 10.0,
    ) -> None:
        self.env = env
        self.retention = retention
        self.alert_interval_s = alert_interval_s
        self.rollup_interval_s = rollup_interval_s
        self.grace_s = grace_s
        self._leader: Any = None
        self._scheduler: Any = None
        self._alerts: Any = None
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self, engine: Engine, catalog: Catalog, holder: str) -> None:
        """Start the scheduler and add every job; ``holder`` names this process in the election."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        from signalbox.alerts.evaluator import AlertService
        from signalbox.housekeeping import schedule_housekeeping
        from signalbox.leader import make_leader

        check_s = min(self.alert_interval_s, self.rollup_interval_s)
        # lease_s matters on SQLite only (PostgreSQL uses an advisory lock): two checks' worth.
        self._leader = make_leader(engine, LEADER_NAME, holder=holder, lease_s=2 * check_s)
        self._scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone="UTC")
        self._scheduler.add_listener(
            self._on_job_event, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
        )
        self._scheduler.start()
        self._alerts = AlertService(
            engine, catalog, env=self.env, interval_s=self.alert_interval_s, leader=self._leader
        )
        await self._alerts.start(self._scheduler)
        schedule_housekeeping(
            self._scheduler,
            engine,
            self._leader,
            retention=self.retention,
            rollup_interval_s=self.rollup_interval_s,
        )
        log.info(
            "leader jobs (run by whichever process leads): alerts every %g s, rollups every %g s,"
            " raw retention %g days",
            self.alert_interval_s,
            self.rollup_interval_s,
            self.retention.total_seconds() / 86400,
        )

    def reload(self, catalog: Catalog) -> None:
        """Apply a reloaded catalog (alert rules and webhooks)."""
        if self._alerts is not None:
            self._alerts.reload(catalog)

    def _on_job_event(self, event: Any) -> None:
        self._running += 1 if event.code == EVENT_JOB_SUBMITTED else -1
        if self._running > 0:
            self._idle.clear()
        else:
            self._idle.set()

    async def stop(self) -> None:
        """Stop the jobs, letting runs in flight finish (up to ``grace_s``), and hand leadership
        over (another process takes it at its next check)."""
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.pause()  # no new runs; one in flight finishes rather than being cut
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), self.grace_s)
        if self._alerts is not None:
            await self._alerts.stop()  # removes its job, releases the leader
            self._alerts = None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._leader is not None:
            await self._leader.release()  # a second release does nothing
            self._leader = None
