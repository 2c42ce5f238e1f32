"""The prober: every endpoint x shape an APScheduler job on the dedicated probe loop, within budget.

Jobs run on an ``AsyncIOScheduler`` bound to the probe loop (``probe_loop.ProbeLoop``), each with
its interval and jitter, ``max_instances=1`` and ``coalesce`` (after a pause, one run, not a burst);
an endpoint lock keeps one probe per endpoint in flight across shapes and a global semaphore bounds
concurrency. Observations cross to the main loop with ``call_soon_threadsafe`` and go to the batched
writer there: the timing loop never waits on the database.

Several workers on one store (``claims``): before each scheduled run the job claims the endpoint x
shape in the store (``probe.claims``); when another worker holds it, the run is skipped and the
job's next run moved to where it can take over if that worker stops (or has more than its share).

Traffic coverage (``coverage``, with ``skip_with_traffic``): a scheduled run of an endpoint that
served successful traffic within the last interval is skipped (``probe.coverage``), and the job's
next run moves to when that traffic is an interval old, so no endpoint goes unmeasured for much
more than an interval (routing benchmark, held-out ``gen-095``: a provider that lost its traffic
to a slowdown was next probed 30 s after its last request, at a 15 s interval). A sooner run is
never skipped: the router asks for one only when what it has is not enough (a circuit opened, and
the traffic that covers the endpoint is the success before the failures; or one answer off the
estimate waits for a second), so the covering traffic is not the news it asked for (generated
outages: a recovered provider's first probe waited out the whole probe interval after its last
good request, and traffic came back 11-12 s after recovery).

Sooner probes: :meth:`Prober.probe_soon` moves the next run of an endpoint's jobs to now (at most
once per ``soon_min_gap_s``); ``probe.router_poll`` calls it for the endpoints the router lists in
``wanted_probes`` (stale, too few samples, a step waiting for more evidence, or a
circuit not closed).

A scheduled run that finds the endpoint's previous probe still in flight is skipped and counted
(``skipped_running``), not logged: a slow provider's probe may outlast the interval.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from signalbox.catalog import ProbeSettings
from signalbox.probe.budget import Budget
from signalbox.probe.claims import ProbeClaims, lease_name
from signalbox.probe.coverage import TrafficCoverage
from signalbox.probe.loop_lag import LoopLagMonitor
from signalbox.probe.probe_loop import ProbeLoop
from signalbox.probe.runner import Target, Timeouts, make_client, probe_target
from signalbox.records import ErrorClass, Observation, utcnow

log = logging.getLogger(__name__)


class _StillRunningFilter(logging.Filter):
    """Drops APScheduler's warning that a job's run was skipped because its previous run is
    still going: for a probe that is the design (one probe per endpoint in flight; a slow
    provider's probe may outlast the interval), counted as ``skipped_running`` instead of a
    warning per interval for as long as the provider stays slow."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in str(record.msg)


# APScheduler logs through the logger it is given: ours, so the filter touches only the prober's.
_scheduler_log = logging.getLogger(f"{__name__}.apscheduler")
_scheduler_log.addFilter(_StillRunningFilter())

DEFAULT_DROP_LAG_MS = 10.0
SOON_MIN_GAP_S = 2.0  # an endpoint is probed early at most this often (the router paces the rest)
TIMING_ERRORS = {ErrorClass.TIMEOUT_TTFT, ErrorClass.TIMEOUT_TOTAL}


def freeze_startup_objects(*, collect: bool) -> None:
    """Move every object alive now out of the garbage collector's reach (``gc.freeze``).

    A full collection over the ~100k objects a Signalbox process holds after its imports takes tens
    of milliseconds with the GIL held, which would stall the probe loop mid-measurement; after a
    freeze, collections only scan what was allocated since. ``collect`` first (only while no probe
    runs) so that garbage is not frozen with the rest.
    """
    if collect:
        gc.collect()
    gc.freeze()


class Prober:
    """Owns the probe loop, its HTTP client, the schedule and the hand-over to the writer.

    ``sink`` is called on the *main* loop with every kept observation (normally
    ``ObservationWriter.submit``). Start, reload and stop are called from the main loop. With
    ``claims``, scheduled runs first claim their endpoint x shape (``--once`` runs never do); with
    ``coverage``, they skip endpoints that live traffic measured within the last interval (runs
    brought forward by :meth:`probe_soon` never skip).
    """

    def __init__(
        self,
        targets: list[Target],
        settings: ProbeSettings,
        sink: Callable[[Observation], None],
        *,
        budget: Budget | None = None,
        drop_lag_ms: float = DEFAULT_DROP_LAG_MS,
        soon_min_gap_s: float = SOON_MIN_GAP_S,
        client_factory: Callable[..., httpx.AsyncClient] = make_client,
        claims: ProbeClaims | None = None,
        coverage: TrafficCoverage | None = None,
    ) -> None:
        self._targets = {t.job_id: t for t in targets}
        self._settings = settings
        self._sink = sink
        self.budget = budget or Budget(settings.daily_budget_usd)
        self.drop_lag_ms = drop_lag_ms
        self.soon_min_gap_s = soon_min_gap_s
        self._client_factory = client_factory
        self.claims = claims
        self.coverage = coverage
        # With claims, workers start their evenly spread first runs at different phases.
        self._phase = random.random() if claims is not None else 0.0
        self._ploop = ProbeLoop()
        self._main: asyncio.AbstractEventLoop | None = None
        # Owned by the probe loop from start() on:
        self._client: httpx.AsyncClient | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._monitor = LoopLagMonitor()
        self._sem: asyncio.Semaphore | None = None
        self._endpoint_locks: dict[int, asyncio.Lock] = {}
        self._inflight: set[asyncio.Task[Any]] = set()
        self._last_soon: dict[int, float] = {}
        self._soon_jobs: set[str] = set()  # brought forward by probe_soon, not yet run
        self._stopping = False
        self.counts: Counter[str] = Counter()

    # -- lifecycle (main loop) ------------------------------------------------------------------

    async def start(self, *, schedule: bool = True) -> None:
        """Start the probe loop thread, its client and lag monitor, and (``schedule``) the jobs."""
        self._main = asyncio.get_running_loop()
        freeze_startup_objects(collect=True)  # before any probe runs: the collection holds the GIL
        self._ploop.start()
        await self._ploop.call(self._start_on_probe_loop(schedule))

    async def _start_on_probe_loop(self, schedule: bool) -> None:
        self._client = self._client_factory(
            connect_timeout_s=self._settings.connect_timeout_s,
            max_connections=max(self._settings.concurrency * 2, 16),
        )
        self._sem = asyncio.Semaphore(self._settings.concurrency)
        self._monitor.start()
        if schedule:
            self._scheduler = AsyncIOScheduler(timezone="UTC", logger=_scheduler_log)
            self._scheduler.add_listener(self._still_running, EVENT_JOB_MAX_INSTANCES)
            self._scheduler.start()
            self._apply_jobs(spread=True)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop scheduling; let in-flight probes finish for ``grace_s``, cut the rest; stop the loop.

        Observations of finished probes have been handed to the sink when this returns.
        """
        if self._ploop.loop is None:
            return
        await self._ploop.call(self._stop_on_probe_loop(grace_s))
        self._ploop.stop()
        await asyncio.sleep(0)  # let hand-overs queued by the probe loop run on this loop

    async def _stop_on_probe_loop(self, grace_s: float) -> None:
        self._stopping = True
        if self._scheduler is not None:
            self._scheduler.pause()
            # Runs submitted just before the pause start now and join ``_inflight`` (not cut).
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        if self._inflight:
            log.info("waiting up to %.0f s for %d in-flight probes", grace_s, len(self._inflight))
            _done, pending = await asyncio.wait(set(self._inflight), timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("cut %d probes still running at shutdown", len(pending))
                await asyncio.wait(pending, timeout=2)
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        await self._monitor.stop()
        if self._client is not None:
            await self._client.aclose()

    async def reload(self, targets: list[Target], settings: ProbeSettings) -> None:
        """Replace the targets and settings; in-flight probes finish with what they started with."""
        self.budget.set_limit(settings.daily_budget_usd)
        await self._ploop.call(self._reload_on_probe_loop(targets, settings))
        freeze_startup_objects(collect=False)  # probes are running: no full collection now

    async def _reload_on_probe_loop(self, targets: list[Target], settings: ProbeSettings) -> None:
        old = self._settings
        self._targets = {t.job_id: t for t in targets}
        self._settings = settings
        if settings.concurrency != old.concurrency:
            self._sem = asyncio.Semaphore(settings.concurrency)
        if self._scheduler is not None:
            self._apply_jobs(spread=True)
        log.info("catalog reloaded: %d endpoint x shape probes", len(targets))

    # -- probing (probe loop) -------------------------------------------------------------------

    def _apply_jobs(self, *, spread: bool) -> None:
        """Make the scheduler's jobs match the targets: remove gone ones, add or update the rest."""
        assert self._scheduler is not None
        wanted = self._targets
        for job in self._scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
        s = self._settings
        n = max(len(wanted), 1)
        now = utcnow()
        for i, job_id in enumerate(sorted(wanted)):
            existing = self._scheduler.get_job(job_id)
            trigger = IntervalTrigger(seconds=s.interval_s, jitter=s.jitter_s or None)
            if existing is not None:
                existing.reschedule(trigger)
                continue
            # Spread first runs over one interval so that probes do not arrive in bursts.
            offset = (i / n + self._phase) % 1.0
            first = now + timedelta(seconds=0.2 + s.interval_s * offset if spread else 0)
            self._scheduler.add_job(
                self._job,
                trigger,
                args=[job_id],
                id=job_id,
                name=job_id,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(int(s.interval_s), 1),
                next_run_time=first,
            )

    def _still_running(self, event: JobSubmissionEvent) -> None:
        """A scheduled run found the endpoint's previous probe still in flight (probe loop)."""
        self.counts["skipped_running"] += 1

    async def _job(self, job_id: str) -> None:
        target = self._targets.get(job_id)
        if target is None:
            return
        asked = job_id in self._soon_jobs
        self._soon_jobs.discard(job_id)
        if not asked and self.coverage is not None and self._settings.skip_with_traffic:
            s = self._settings
            lapses = self.coverage.lapses_at(target.endpoint_id, s.interval_s)
            if lapses is not None and time.time() < lapses:
                self.counts["skipped_traffic"] += 1
                # The next run goes where the traffic's measurement is an interval old, not an
                # interval after this skip: an endpoint that just lost its traffic would
                # otherwise go unmeasured for up to two intervals.
                self._run_at(target.job_id, lapses + random.uniform(0, s.jitter_s))
                return
        if not self.budget.allow():
            self.counts["skipped_budget"] += 1
            return
        if self.claims is not None and not await self._claim(target):
            return
        obs = await self._probe(target)
        if obs is not None:
            self._hand_over(obs)

    def _run_at(self, job_id: str, epoch_s: float) -> None:
        """Move a job's next run to ``epoch_s`` (probe loop)."""
        job = self._scheduler.get_job(job_id) if self._scheduler is not None else None
        if job is not None:
            job.modify(next_run_time=datetime.fromtimestamp(epoch_s, UTC))

    async def _claim(self, target: Target) -> bool:
        """Claim this run in the store (off the timing path: on a thread, with a deadline)."""
        assert self.claims is not None
        name = lease_name(target.endpoint_id, target.shape.name)
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)  # a shutdown waits for the claim, so no lease is left unprobed
        try:
            claim = await self.claims.claim(
                name, self._settings.interval_s, self._settings.jitter_s
            )
        finally:
            self._inflight.discard(task)
        if self._stopping:
            if claim.run and not self.claims.failing:
                await self.claims.release(name)  # the next worker takes it at its next turn
            return False
        if not claim.run:
            self.counts["skipped_claimed"] += 1
            if claim.next_run_at is not None and self._scheduler is not None:
                job = self._scheduler.get_job(target.job_id)
                if job is not None:  # stand by for (or take over) the holder's next turn
                    job.modify(next_run_time=claim.next_run_at)
        return claim.run

    async def _probe(self, target: Target) -> Observation | None:
        """One probe under the endpoint lock and the global permit; None when cut."""
        assert self._client is not None and self._sem is not None
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            lock = self._endpoint_locks.setdefault(target.endpoint_id, asyncio.Lock())
            async with lock, self._sem:
                timeouts = Timeouts.from_settings(self._settings)
                with self._monitor.window() as lag:
                    obs = await probe_target(self._client, target, timeouts=timeouts, lag=lag)
        except asyncio.CancelledError:
            self.counts["cut"] += 1
            raise
        finally:
            self._inflight.discard(task)
        self.budget.add(obs.cost_usd)
        self.counts["probes"] += 1
        self.counts["ok" if obs.ok else f"error_{obs.error_class}"] += 1
        return obs

    def _hand_over(self, obs: Observation) -> None:
        lagged = obs.loop_lag_ms is not None and obs.loop_lag_ms > self.drop_lag_ms
        # Timings (and timeouts) taken while the loop was late are wrong by as much: dropped.
        # Other failures (a status, an error event) are facts whatever the lag: kept, marked.
        if lagged and (obs.ok or obs.error_class in TIMING_ERRORS):
            self.counts["dropped_lag"] += 1
            log.info("dropped a probe taken with %.1f ms loop lag", obs.loop_lag_ms)
            return
        assert self._main is not None
        self._main.call_soon_threadsafe(self._sink, obs)

    async def _probe_all_once(self) -> list[Observation]:
        async def one(target: Target) -> Observation | None:
            return await self._probe(target)

        results = await asyncio.gather(*(one(t) for t in self._targets.values()))
        return [obs for obs in results if obs is not None]

    async def probe_once(self) -> list[Observation]:
        """Probe every target once (bounded by the concurrency limit); each goes to the sink too.

        Unlike scheduled runs, observations taken under loop lag are kept (marked), since a one-off
        run is all there is.
        """
        observations = await self._ploop.call(self._probe_all_once())
        for obs in observations:
            self._sink(obs)
        return observations

    # -- sooner probes (any thread) -------------------------------------------------------------

    def probe_soon(self, endpoint_ids: Iterable[int]) -> None:
        """Ask for the next probe of these endpoints now (rate-limited per endpoint)."""
        ids = set(endpoint_ids)
        if ids and self._ploop.loop is not None:
            self._ploop.loop.call_soon_threadsafe(self._probe_soon_on_probe_loop, ids)

    def _probe_soon_on_probe_loop(self, ids: set[int]) -> None:
        if self._scheduler is None:
            return
        now_mono = time.monotonic()
        for target in self._targets.values():
            eid = target.endpoint_id
            if eid not in ids:
                continue
            if now_mono - self._last_soon.get(eid, -1e9) < self.soon_min_gap_s:
                continue
            job = self._scheduler.get_job(target.job_id)
            if job is not None:
                # a little jitter so that a batch of stale endpoints does not fire at once
                job.modify(next_run_time=utcnow() + timedelta(seconds=random.uniform(0, 1)))
                self._soon_jobs.add(target.job_id)
                self.counts["soon"] += 1
        for eid in ids:
            self._last_soon[eid] = now_mono

    # -- introspection ---------------------------------------------------------------------------

    def metrics(self) -> dict[str, float]:
        """Counters and gauges: probes, ok, error_<class>, dropped_lag, budget state, loop lag."""
        out: dict[str, float] = {k: float(v) for k, v in self.counts.items()}
        out["budget_spent_usd"] = self.budget.spent_usd
        out["budget_paused"] = 1.0 if self.budget.paused else 0.0
        out["budget_skipped"] = float(self.budget.skipped)
        out["loop_lag_max_ms"] = self._monitor.max_lag_ms
        out["inflight"] = float(len(self._inflight))
        if self.claims is not None:
            for key, value in self.claims.counts.items():
                out[f"claims_{key}"] = float(value)
        return out

    def metrics_text(self) -> str:
        """The metrics in Prometheus' text format (``signalbox_probe_*``)."""
        lines = []
        for key, value in sorted(self.metrics().items()):
            lines.append(f"signalbox_probe_{key} {value:g}")
        return "\n".join(lines) + "\n"

    @property
    def job_ids(self) -> list[str]:
        """The targets' job ids (endpoint key # shape)."""
        return sorted(self._targets)

    async def next_run_times(self) -> dict[str, Any]:
        """Each scheduled job's next run time (for tests and diagnostics)."""

        async def read() -> dict[str, Any]:
            if self._scheduler is None:
                return {}
            return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

        return await self._ploop.call(read())
