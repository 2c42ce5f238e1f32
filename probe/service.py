"""The scheduler process: catalog → store sync → probe loop → writer.

Runs on the main event loop; the probes themselves run on the dedicated probe loop (``Prober``).
Several processes may share one store: scheduled probes are claimed per endpoint x shape
(``probe.claims``), so the workers split the endpoints. Jobs that belong to the whole cluster
(alerts, rollups, retention: ``signalbox.cluster``) are not the probe's: the command that composes
the process passes them in as ``companion``, started once the store is open and stopped before it
closes. SIGHUP reloads the catalog (a bad one is refused and the old one kept); SIGTERM/SIGINT
stop gracefully: scheduling stops, the companion hands its work over, in-flight probes get
``grace_s`` to finish, the writer is flushed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine

from signalbox.catalog import Catalog, CatalogError, load_catalog
from signalbox.leader import default_holder
from signalbox.probe.budget import Budget, add_spend, load_spend, utc_today
from signalbox.probe.claims import ProbeClaims
from signalbox.probe.coverage import TrafficCoverage
from signalbox.probe.metrics_http import MetricsServer
from signalbox.probe.router_poll import ROUTER_POLL_S, RouterPoll
from signalbox.probe.runner import Target
from signalbox.probe.scheduler import SOON_MIN_GAP_S, Prober
from signalbox.probe.targets import build_targets
from signalbox.records import Observation
from signalbox.settings import Settings

log = logging.getLogger(__name__)

SPEND_SAVE_INTERVAL_S = 10.0  # also how often other workers' spending is seen
METRICS_LOG_INTERVAL_S = 300.0
COVERAGE_REFRESH_MAX_S = 15.0


class Companion(Protocol):
    """Work that shares the scheduler process and its store (``signalbox.cluster.ClusterJobs``)."""

    async def start(self, engine: Engine, catalog: Catalog, holder: str) -> None:
        """Begin, once the store is open and the catalog synced."""
        ...

    def reload(self, catalog: Catalog) -> None:
        """Take a reloaded catalog."""
        ...

    async def stop(self) -> None:
        """Finish, before the store closes."""
        ...


@dataclass
class OnceResult:
    """What ``probe --once`` saw: the observations and each endpoint's name."""

    observations: list[Observation]
    names: dict[int, str] = field(default_factory=dict)

    @property
    def any_ok(self) -> bool:
        """At least one probe succeeded."""
        return any(obs.ok for obs in self.observations)


class ProbeService:
    """Wires catalog, store, writer, budget and prober together; owns every resource it opens."""

    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        router_url: str | None = None,
        grace_s: float = 10.0,
        metrics_port: int | None = None,
        companion: Companion | None = None,
        claims: bool = True,
        drop_lag_ms: float | None = None,
    ) -> None:
        self.settings = settings
        self.env = os.environ if env is None else env
        self.router_url = router_url
        self.grace_s = grace_s
        self.metrics_port = metrics_port
        self.companion = companion
        self.use_claims = claims
        self.drop_lag_ms = drop_lag_ms
        self.holder = default_holder()  # this process in claims and the leader election
        self.catalog: Catalog | None = None
        self.endpoint_ids: dict[tuple[str, str], int] = {}
        self.prober: Prober | None = None
        self._engine: Any = None
        self._writer: Any = None
        self._claims: ProbeClaims | None = None
        self._coverage: TrafficCoverage | None = None
        self._companion_started = False
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def _open(self, *, scheduled: bool = False) -> list[Target]:
        from signalbox.db import make_engine
        from signalbox.migrate import upgrade
        from signalbox.writer import ObservationWriter

        self.catalog = load_catalog(self.settings.catalog)
        url = self.settings.effective_database_url
        if url.startswith("sqlite"):
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(upgrade, url)
        self._engine = make_engine(url)
        targets = await self._sync(self.catalog)
        spill = self.settings.data_dir / "probe-spill.jsonl"
        self._writer = ObservationWriter(self._engine, spill_path=spill)
        await self._writer.start()
        spent = await asyncio.to_thread(load_spend, self._engine, utc_today())
        budget = Budget(self.catalog.probe.daily_budget_usd, spent_usd=spent)
        if scheduled and self.use_claims:
            self._claims = ProbeClaims(self._engine, holder=self.holder)
        if scheduled:
            self._coverage = TrafficCoverage(self._engine)
        lag = {} if self.drop_lag_ms is None else {"drop_lag_ms": self.drop_lag_ms}
        self.prober = Prober(
            targets,
            self.catalog.probe,
            self._writer.submit,
            budget=budget,
            claims=self._claims,
            coverage=self._coverage,
            # no gap longer than the probe interval: an early probe the schedule brings sooner
            # anyway is nothing to guard against
            soon_min_gap_s=min(SOON_MIN_GAP_S, self.catalog.probe.interval_s),
            **lag,
        )
        return targets

    async def _sync(self, catalog: Catalog) -> list[Target]:
        from signalbox.sync import sync_catalog

        report = await asyncio.to_thread(sync_catalog, self._engine, catalog)
        self.endpoint_ids = dict(report.endpoint_ids)
        return build_targets(catalog, self.endpoint_ids, self.env)

    async def _close(self) -> None:
        if self.prober is not None:
            await self.prober.stop(self.grace_s)
            await self._save_spend()
        if self._claims is not None:
            self._claims.close()
        if self._writer is not None:
            await self._writer.close()
            log.info("observations written: %d", self._writer.written)
        if self._engine is not None:
            self._engine.dispose()

    async def _save_spend(self) -> None:
        if self.prober is None or self._engine is None:
            return
        budget = self.prober.budget
        day, unsaved = budget.take_unsaved()
        try:
            total = await asyncio.to_thread(add_spend, self._engine, day, unsaved)
        except Exception as exc:  # the next save retries; probing goes on
            budget.unstored(day, unsaved)
            log.error("cannot save probe spend: %s", type(exc).__name__)
        else:
            budget.stored(day, total)

    async def run_once(self) -> OnceResult:
        """Probe every enabled endpoint x shape once, store the observations, return them."""
        targets = await self._open()
        try:
            assert self.prober is not None
            await self.prober.start(schedule=False)
            observations = await self.prober.probe_once()
        finally:
            await self._close()
        return OnceResult(observations, {t.endpoint_id: t.endpoint.key for t in targets})

    def request_stop(self) -> None:
        """Ask :meth:`run_forever` to shut down gracefully (signal-safe)."""
        self._stop.set()

    async def reload(self) -> bool:
        """Reload the catalog file; on a bad catalog keep the current one. True when applied."""
        assert self.prober is not None
        try:
            catalog = await asyncio.to_thread(load_catalog, self.settings.catalog)
        except CatalogError as exc:
            log.error("catalog reload refused, keeping the current one: %s", exc)
            return False
        targets = await self._sync(catalog)
        self.catalog = catalog
        await self.prober.reload(targets, catalog.probe)
        if self._companion_started and self.companion is not None:
            self.companion.reload(catalog)
        return True

    async def run_forever(self) -> int:
        """Run the schedule until SIGTERM/SIGINT (or :meth:`request_stop`)."""
        targets = await self._open(scheduled=True)
        assert self.prober is not None
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        try:
            if self._coverage is not None:
                # before the first runs, or every endpoint's first probe would ignore its traffic
                await self._refresh_coverage()
            await self.prober.start(schedule=True)
            log.info(
                "probing %d endpoint x shape jobs as %s%s",
                len(targets),
                self.holder,
                "" if self._claims else " (not claimed: every worker probes every endpoint)",
            )
            if self.companion is not None:
                await self.companion.start(self._engine, self.catalog, self.holder)
                self._companion_started = True
            for sig, handler in (
                (signal.SIGTERM, self.request_stop),
                (signal.SIGINT, self.request_stop),
                (signal.SIGHUP, lambda: loop.create_task(self.reload())),
            ):
                try:
                    loop.add_signal_handler(sig, handler)
                    handled.append(sig)
                except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                    pass
            self._tasks.append(loop.create_task(self._housekeeping(), name="probe-housekeeping"))
            if self._coverage is not None:
                self._tasks.append(loop.create_task(self._follow_coverage(), name="coverage"))
            metrics = None
            if self.metrics_port is not None:
                metrics = MetricsServer(self.prober.metrics_text, port=self.metrics_port)
                await metrics.start()
                log.info("prober metrics at http://127.0.0.1:%d/metrics", metrics.port)
            poll = None
            if self.router_url:
                poll = RouterPoll(
                    self.router_url,
                    lambda: self.endpoint_ids,
                    self.prober.probe_soon,
                    # a poll less frequent than the probes it hurries can hurry none of them
                    interval_s=min(ROUTER_POLL_S, self.catalog.probe.interval_s),
                    api_key=next(iter(self.settings.router_api_keys), None),
                )
                poll.start()
            await self._stop.wait()
            log.info("stopping: finishing in-flight probes and flushing observations")
            if poll is not None:
                await poll.stop()
            if metrics is not None:
                await metrics.stop()
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._companion_started and self.companion is not None:
                await self.companion.stop()
                self._companion_started = False
            await self._close()
        return 0

    async def _follow_coverage(self) -> None:
        """Keep traffic coverage current: twice per probe interval (at most every 15 s), so a
        covered endpoint's next run sees traffic that is at most half an interval old."""
        assert self.catalog is not None
        while True:  # the first refresh ran before the first probes
            await asyncio.sleep(min(self.catalog.probe.interval_s / 2, COVERAGE_REFRESH_MAX_S))
            await self._refresh_coverage()

    async def _refresh_coverage(self) -> None:
        assert self._coverage is not None and self.catalog is not None
        probe = self.catalog.probe
        if probe.skip_with_traffic:
            await asyncio.to_thread(self._coverage.refresh, probe.interval_s)

    async def _housekeeping(self) -> None:
        since_metrics = 0.0
        while True:
            await asyncio.sleep(SPEND_SAVE_INTERVAL_S)
            await self._save_spend()
            since_metrics += SPEND_SAVE_INTERVAL_S
            if since_metrics >= METRICS_LOG_INTERVAL_S and self.prober is not None:
                since_metrics = 0.0
                metrics = self.prober.metrics()
                log.info("probe metrics: %s", ", ".join(f"{k}={v:g}" for k, v in metrics.items()))
