"""Probe claims: several probe workers on one store split the endpoints, each probed once per interval.

Before each scheduled run, a job claims the lease ``probe:<endpoint_id>:<shape>`` for 0.9 x the
interval (:func:`signalbox.claim.claim_lease`: taken when free, expired or already ours). The worker
that wins probes; the others skip that run. The holder renews at each of its runs (one interval
apart, plus jitter), so an endpoint x shape stays with one worker.

A worker that loses a claim moves that job's next run to just after the holder's next run would
have renewed the lease (lease expiry + 0.1 x interval + jitter + a margin): when the holder is
alive it has renewed, and the worker loses again and stands by for the next one; when the holder
stopped or died, the worker takes over, about one interval (plus jitter) after the last probe.

Balance: a worker that loses a claim to a holder with at least two more live leases than itself
(counting the take-overs it already planned) runs instead just after the lease lapses, before the
holder's own next run: the endpoint changes hands without a gap or a double probe. So workers
started at different times still end up with about equal shares.

A probe is thus never closer than 0.9 x interval to the previous one, and never more than about
one interval plus jitter late (a worker stalled longer than its margin loses its endpoints).

The claim runs on a small private thread pool, awaited by the job on the probe loop before any
timing starts, with a short deadline: the probe loop never waits on the database. When the store
cannot answer in time, the job probes anyway (better twice than never) and the log says so once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from signalbox.claim import (
    LeaseHolder,
    claim_lease,
    lease_holder,
    live_lease_counts,
    release_lease,
)
from signalbox.leader import default_holder

log = logging.getLogger(__name__)

PREFIX = "probe:"
LEASE_SHARE = 0.9  # of the interval: lapses before the holder's next run, long enough to split
TAKEOVER_DELAY_SHARE = 0.02  # of the interval: a take-over runs this long after the lease lapses
STANDBY_MARGIN_SHARE = 0.05  # of the interval (at least STANDBY_MARGIN_MIN_S): a holder's delay
STANDBY_MARGIN_MIN_S = 0.25
DEFAULT_TIMEOUT_S = 2.0


def lease_name(endpoint_id: int, shape: str) -> str:
    """The lease row of one endpoint x shape: ``probe:<endpoint_id>:<shape>``."""
    return f"{PREFIX}{endpoint_id}:{shape}"


@dataclass(frozen=True, slots=True)
class Claim:
    """Whether to probe now, and (when not) when this job should run next (None: as scheduled)."""

    run: bool
    next_run_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Lost:
    """What the store said about a claim another worker won."""

    now: datetime
    current: LeaseHolder | None
    counts: dict[str, int]


class ProbeClaims:
    """Claims probe runs in the store for one worker; :meth:`claim` is awaited on the probe loop."""

    def __init__(
        self,
        engine: Engine,
        *,
        holder: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        balance: bool = True,
        threads: int = 2,
    ) -> None:
        self._engine = engine
        self.holder = holder or default_holder()
        self.timeout_s = timeout_s
        self.balance = balance
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="probe-claim")
        self.failing = False  # the last claim could not be made: probing without claims
        self._trying = False  # while failing, one claim at a time tests whether the store is back
        self._planned: dict[str, tuple[str, float]] = {}  # name -> (holder, monotonic deadline)
        self.counts: Counter[str] = Counter()

    async def claim(self, name: str, interval_s: float, jitter_s: float = 0.0) -> Claim:
        """Claim one run. ``run`` is True when claimed or when the store cannot say; never raises;
        waits at most ``min(timeout_s, interval_s / 4)``."""
        self._planned.pop(name, None)  # this is the planned run (or the plan is void)
        testing_store = self.failing
        if testing_store:
            if self._trying:
                self.counts["unclaimed"] += 1
                return Claim(True)
            self._trying = True
        timeout_s = min(self.timeout_s, interval_s / 4)
        deadline = time.monotonic() + timeout_s
        loop = asyncio.get_running_loop()
        try:
            result = await asyncio.wait_for(
                loop.run_in_executor(self._executor, self._claim, name, interval_s, deadline),
                timeout_s,
            )
        except Exception as exc:  # TimeoutError or a database error: probe anyway
            self._failed(exc)
            return Claim(True)
        finally:
            if testing_store:
                self._trying = False
        if result is None:  # its turn on the thread came after the deadline: not tried
            self._failed(TimeoutError())
            return Claim(True)
        if self.failing:
            self.failing = False
            log.info("probe claims work again: endpoints are split with the other workers")
        if result is True:
            self.counts["claimed"] += 1
            return Claim(True)
        self.counts["held_elsewhere"] += 1
        return Claim(False, self._next_run_at(name, result, interval_s, jitter_s))

    def _claim(self, name: str, interval_s: float, deadline: float) -> bool | _Lost | None:
        """On a claim thread: True (won), the facts to plan the next run (lost), None (late)."""
        if time.monotonic() > deadline:
            return None  # a queued claim must not take a lease nobody will probe under
        now = datetime.now(UTC)
        expires_at = now + timedelta(seconds=LEASE_SHARE * interval_s)
        with self._engine.begin() as conn:
            if claim_lease(conn, name, self.holder, now, expires_at):
                return True
            return _Lost(now, lease_holder(conn, name), live_lease_counts(conn, PREFIX, now))

    def _next_run_at(
        self, name: str, lost: _Lost, interval_s: float, jitter_s: float
    ) -> datetime | None:
        """When to run ``name`` next after losing its claim: a take-over from a holder with more
        work just after its lease lapses, else a stand-by just after its next renewal is due."""
        current = lost.current
        if current is None or current.holder == self.holder:
            return None
        now_mono = time.monotonic()
        self._planned = {n: p for n, p in self._planned.items() if p[1] > now_mono}
        planned_from = Counter(holder for holder, _ in self._planned.values())
        mine = lost.counts.get(self.holder, 0) + len(self._planned)
        theirs = lost.counts.get(current.holder, 0) - planned_from[current.holder]
        takeover = self.balance and theirs - mine >= 2
        if takeover:
            delay_s = TAKEOVER_DELAY_SHARE * interval_s
        else:
            margin_s = max(STANDBY_MARGIN_SHARE * interval_s, STANDBY_MARGIN_MIN_S)
            delay_s = (1 - LEASE_SHARE) * interval_s + jitter_s + margin_s
        next_run_at = current.expires_at + timedelta(seconds=delay_s)
        ahead_s = (next_run_at - lost.now).total_seconds()
        if not 0 < ahead_s <= interval_s + delay_s:  # clocks disagree, or intervals differ
            return None
        if takeover:
            self._planned[name] = (current.holder, now_mono + 2 * interval_s)
            self.counts["takeovers_planned"] += 1
        return next_run_at

    async def release(self, name: str) -> None:
        """Give up a claim this worker will not probe under (at shutdown). Never raises."""
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.run_in_executor(self._executor, self._release, name), self.timeout_s
            )
        except Exception as exc:  # the lease lapses on its own
            log.warning("cannot release probe claim %s: %s", name, type(exc).__name__)

    def _release(self, name: str) -> None:
        with self._engine.begin() as conn:
            release_lease(conn, name, self.holder)

    def _failed(self, exc: BaseException) -> None:
        self.counts["unclaimed"] += 1
        if not self.failing:
            self.failing = True
            reason = "no answer in time" if isinstance(exc, TimeoutError) else type(exc).__name__
            log.warning(
                "cannot claim probes in the store (%s): probing without claims, so another worker"
                " may probe the same endpoints until the store answers again",
                reason,
            )

    def close(self) -> None:
        """Stop the claim threads (a claim in progress finishes on its own)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
