"""Warm the live state from the store, then follow new observations (``signalbox.tail``: by id,
late commits handled; LISTEN ``signalbox_observation`` on PostgreSQL to wake early). Outages mark
the state degraded and never stop routing; the follower catches up when the database returns."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from signalbox.router.live import LiveState
from signalbox.schema import Observation1m
from signalbox.tail import ObservationTail, TailRow

log = logging.getLogger(__name__)

MAX_OWN_UIDS = 200_000


def describe_db_error(exc: BaseException) -> str:
    """One line saying why the store cannot be used (never the URL or a password)."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = detail[0][:200] if detail else type(exc).__name__
    hint = (
        "; run: signalbox db upgrade"
        if "no such table" in first or "does not exist" in first
        else ""
    )
    return f"database unavailable: {type(exc).__name__}: {first}{hint}"


class StoreFollower:
    """Keeps a :class:`LiveState` in step with the ``observation`` table."""

    def __init__(
        self,
        engine: Engine,
        live: LiveState,
        poll_interval_s: float = 1.0,
        warm_half_lives: float = 4.0,
    ) -> None:
        self.engine = engine
        self.live = live
        self.poll_interval_s = poll_interval_s
        self.warm_half_lives = warm_half_lives
        self.tail = ObservationTail(engine)
        self.warmed = False
        self._own: OrderedDict[uuid.UUID, None] = OrderedDict()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def mark_own(self, uid: uuid.UUID) -> None:
        """An observation this router already folded in: skip it when the store returns it."""
        self._own[uid] = None
        if len(self._own) > MAX_OWN_UIDS:
            self._own.popitem(last=False)

    # --- warm -----------------------------------------------------------------------------
    def warm_sync(self) -> int:
        """Load the last few half-lives of observations (and a day of minute rollups for
        uptime); return how many observations were folded in."""
        now = self.live.clock()
        since = now - self.warm_half_lives * max(self.live.half_lives)
        day_ago = datetime.fromtimestamp(now - 86400, UTC)
        with self.engine.connect() as conn:
            rollups = conn.execute(
                select(
                    Observation1m.endpoint_id,
                    Observation1m.bucket,
                    Observation1m.n,
                    Observation1m.ok_n,
                ).where(
                    Observation1m.bucket >= day_ago,
                    Observation1m.bucket < datetime.fromtimestamp(since, UTC),
                )
            )
            for endpoint_id, bucket, total, ok in rollups:
                key = self.live.keys_by_id.get(endpoint_id)
                if key:
                    for stats in self.live.books[key].stats.values():
                        stats.add_uptime_bucket(bucket.timestamp(), total, ok)
        n = sum(self._fold(row) for row in self.tail.warm(since, time.monotonic()))
        self.warmed = True
        return n

    # --- follow ---------------------------------------------------------------------------
    def poll_sync(self) -> int:
        """Fold in observations stored since the last poll (at most one batch); return how
        many (this router's own rows, already folded, do not count)."""
        return sum(self._fold(row, live=True) for row in self.tail.poll(time.monotonic()))

    def _fold(self, row: TailRow, live: bool = False) -> int:
        if row.uid in self._own:
            del self._own[row.uid]
            return 0
        key = self.live.keys_by_id.get(row.endpoint_id)
        if key is None:
            return 0
        self.live.observe(key, row.sample, now=self.live.clock() if live else None)
        return 1

    async def start(self) -> None:
        """Warm (in a thread), then follow in the background. A database outage at start leaves
        the state empty and degraded; warming is retried by the poll loop."""
        try:
            n = await asyncio.to_thread(self.warm_sync)
            log.info("router warmed from %d observations", n)
            self.live.degraded = None
        except Exception as exc:
            self.live.degraded = describe_db_error(exc)
            log.warning("cannot warm from the store (%s); routing on live data", self.live.degraded)
        self._tasks.append(asyncio.create_task(self._poll_loop(), name="store-follower"))
        if self.engine.dialect.name == "postgresql":
            self._tasks.append(asyncio.create_task(self._listen_loop(), name="store-listen"))

    async def close(self) -> None:
        """Stop the background tasks."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _poll_loop(self) -> None:
        interval = self.poll_interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            try:
                if not self.warmed:
                    await asyncio.to_thread(self.warm_sync)
                await asyncio.to_thread(self.poll_sync)
                while self.tail.behind:
                    await asyncio.to_thread(self.poll_sync)
                self.live.degraded = None
                interval = self.poll_interval_s
            except Exception as exc:
                self.live.degraded = describe_db_error(exc)
                interval = min(interval * 2, 10.0)
                log.warning(
                    "observation poll failed (%s); retry in %.0f s", self.live.degraded, interval
                )

    async def _listen_loop(self) -> None:
        import psycopg

        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        backoff = 1.0
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    url, autocommit=True, connect_timeout=5
                )
                async with conn:
                    await conn.execute("LISTEN signalbox_observation")
                    backoff = 1.0
                    async for _ in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info(
                    "LISTEN unavailable (%s); polling only, retry in %.0f s",
                    type(exc).__name__,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
