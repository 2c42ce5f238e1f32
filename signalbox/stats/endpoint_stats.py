"""The per-endpoint aggregate of every decayed metric, and its frozen snapshot.

One :class:`EndpointStats` per endpoint (and half-life) gathers TTFT, tps, e2e and ITL histograms,
log-TTFT moments, the decayed Beta error rate, the effective sample size ``W``, freshness and
uptime windows. Probe and traffic observations feed the same aggregates, each with a source weight.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from signalbox.records import ErrorClass, Sample, Source
from signalbox.stats.beta import DecayedBeta
from signalbox.stats.decay import DecayedMoments, ForwardDecay
from signalbox.stats.drift import Drift
from signalbox.stats.histogram import DEFAULT_SPEC, BucketSpec, DecayedHistogram
from signalbox.stats.uptime import UptimeWindows

QS = (0.5, 0.9, 0.99)
DEFAULT_SOURCE_WEIGHTS: Mapping[str, float] = {Source.PROBE: 1.0, Source.TRAFFIC: 1.0}


@dataclass(frozen=True, slots=True)
class EndpointSnapshot:
    """The decayed statistics of one endpoint at one instant (``None``: no data for that metric)."""

    ts: float
    samples: float  # effective sample size W (decayed weight of every observation)
    error_rate: float  # decayed Beta posterior mean
    ttft_p50_ms: float | None
    ttft_p90_ms: float | None
    ttft_p99_ms: float | None
    tps_p50: float | None
    tps_p90: float | None
    tps_p99: float | None
    e2e_p50_ms: float | None
    e2e_p90_ms: float | None
    itl_p50_ms: float | None
    ttft_log_std: float | None  # spread of log TTFT: the estimate's dispersion
    last_seen_ts: float | None
    last_ok_ts: float | None
    age_s: float | None
    stale: bool
    uptime_5m: float | None = None
    uptime_30m: float | None = None
    uptime_1d: float | None = None
    # geometric means: what the router's load curve scales (a mean moves smoothly where a median
    # of a two-mode mix, idle and saturated, jumps between the modes)
    ttft_geomean_ms: float | None = None
    tps_geomean: float | None = None
    # factors from the decayed figures to where they stand after a recent step (decayed figures
    # lag a change by H / ln 2): see ``projected`` and ``signalbox.stats.drift``
    ttft_step: float = 1.0
    tps_step: float = 1.0
    # the newest one to three TTFTs or tps have left the ones before by more than the noise but
    # not yet a step's margin: a step waiting for more evidence (``Drift.search``), which the
    # router asks a probe for
    step_pending: bool = False

    @classmethod
    def point(
        cls,
        samples: float,
        error_rate: float,
        ttft_ms: float | None,
        tps: float | None,
        stale: bool = False,
    ) -> EndpointSnapshot:
        """A snapshot of plain point figures (no spread): lets window statistics and replay
        outcomes be scored by exactly the scoring the router applies to its estimates."""
        return cls(
            ts=0.0,
            samples=samples,
            error_rate=error_rate,
            ttft_p50_ms=ttft_ms,
            ttft_p90_ms=ttft_ms,
            ttft_p99_ms=ttft_ms,
            tps_p50=tps,
            tps_p90=tps,
            tps_p99=tps,
            e2e_p50_ms=None,
            e2e_p90_ms=None,
            itl_p50_ms=None,
            ttft_log_std=None,
            last_seen_ts=None,
            last_ok_ts=None,
            age_s=None,
            stale=stale,
        )

    def projected(self) -> EndpointSnapshot:
        """This snapshot with its TTFT and tps figures moved to where they stand after a recent
        step: what the router ranks on, as a decayed median alone is most of a half-life behind a
        provider whose speed just changed. The factors apply to the geometric means they were
        measured against; each p50 becomes that, and the other quantiles keep their spread
        around it. Alerts and the API keep the decayed figures."""
        if self.ttft_step == 1.0 and self.tps_step == 1.0:
            return self
        ttft_geomean = _times(self.ttft_geomean_ms, self.ttft_step)
        tps_geomean = _times(self.tps_geomean, self.tps_step)
        a = _ratio(ttft_geomean, self.ttft_p50_ms, self.ttft_step)
        b = _ratio(tps_geomean, self.tps_p50, self.tps_step)
        return replace(
            self,
            ttft_p50_ms=_times(self.ttft_p50_ms, a),
            ttft_p90_ms=_times(self.ttft_p90_ms, a),
            ttft_p99_ms=_times(self.ttft_p99_ms, a),
            ttft_geomean_ms=ttft_geomean,
            tps_p50=_times(self.tps_p50, b),
            tps_p90=_times(self.tps_p90, b),
            tps_p99=_times(self.tps_p99, b),
            tps_geomean=tps_geomean,
            ttft_step=1.0,
            tps_step=1.0,
        )

    @property
    def success_probability(self) -> float:
        """``1 - error_rate``."""
        return 1.0 - self.error_rate


class EndpointStats:
    """Decayed aggregates of one endpoint; ``add`` is O(1), ``snapshot`` reads them at ``now``."""

    def __init__(
        self,
        half_life_s: float = 900.0,
        stale_after_s: float = 300.0,
        source_weights: Mapping[str, float] | None = None,
        spec: BucketSpec = DEFAULT_SPEC,
    ) -> None:
        self.stale_after_s = stale_after_s
        self.source_weights = dict(source_weights or DEFAULT_SOURCE_WEIGHTS)
        self.decay = ForwardDecay(half_life_s)
        self.ttft = DecayedHistogram(spec)
        self.tps = DecayedHistogram(spec)
        self.e2e = DecayedHistogram(spec)
        self.itl = DecayedHistogram(spec)
        # log TTFT and log tps: geometric means and spread
        self.log_ttft = DecayedMoments()
        self.log_tps = DecayedMoments()
        # recent steps, on the same values net of the router's own load (``load`` factors)
        self.drift_ttft = Drift()
        self.drift_tps = Drift()
        self.errors = DecayedBeta()
        self.uptime = UptimeWindows()
        self.last_seen_ts: float | None = None
        self.last_ok_ts: float | None = None
        self.count = 0

    @property
    def half_life_s(self) -> float:
        """The half-life in seconds."""
        return self.decay.half_life_s

    def add(self, sample: Sample, load: tuple[float, float] = (1.0, 1.0)) -> None:
        """Fold one sample in (any arrival order). ``load`` is how much the router's own load is
        known to have slowed it (TTFT and tps factors of ``signalbox.stats.load``): where the
        endpoint stands now is judged net of it, or a burst of the router's own requests would
        pass for a slower provider."""
        ts, ok, source, error_class = sample.ts, sample.ok, sample.source, sample.error_class
        ttft_ms, tps, e2e_ms, itl_ms = sample.ttft_ms, sample.tps, sample.e2e_ms, sample.itl_ms
        decay = self.decay
        if self.count == 0:
            decay.landmark_s = ts
        elif decay.needs_rebase(ts):
            self._scale(decay.rebase(ts))
        g = self.source_weights.get(source, 1.0) * decay.gain(ts)
        self.count += 1
        # An app's malformed request (4xx on traffic) says nothing about the endpoint's health.
        if not (source == Source.TRAFFIC and error_class == ErrorClass.HTTP_4XX):
            self.errors.add(not ok, g)
            self.uptime.add(ts, ok)
        if ttft_ms is not None and ttft_ms > 0:
            self.ttft.add(ttft_ms, g)
            x = math.log(ttft_ms)
            self.log_ttft.add(x, g)
            self.drift_ttft.add(x - math.log(load[0]), g)
        if tps is not None:
            self.tps.add(tps, g)
            if tps > 0:
                x = math.log(tps)
                self.log_tps.add(x, g)
                self.drift_tps.add(x - math.log(load[1]), g)
        if e2e_ms is not None and ok:
            self.e2e.add(e2e_ms, g)
        if itl_ms is not None:
            self.itl.add(itl_ms, g)
        if self.last_seen_ts is None or ts > self.last_seen_ts:
            self.last_seen_ts = ts
        if ok and (self.last_ok_ts is None or ts > self.last_ok_ts):
            self.last_ok_ts = ts

    def add_uptime_bucket(self, ts: float, total: int, ok: int) -> None:
        """Fold a pre-aggregated minute (from a rollup) into the uptime windows only."""
        self.uptime.add(ts, True, count=total, ok_count=ok)

    def _scale(self, factor: float) -> None:
        for part in (self.ttft, self.tps, self.e2e, self.itl, self.errors):
            part.scale(factor)
        self.log_ttft.scale(factor)
        self.log_tps.scale(factor)
        self.drift_ttft.scale(factor)
        self.drift_tps.scale(factor)

    def samples(self, now: float) -> float:
        """The effective sample size ``W`` at ``now``."""
        return self.errors.total * self.decay.factor(now)

    def snapshot(self, now: float, with_uptime: bool = True) -> EndpointSnapshot:
        """A frozen record of every statistic decayed to ``now``."""
        f = self.decay.factor(now)
        ttft = self.ttft.quantiles(QS)
        tps = self.tps.quantiles(QS)
        e2e = self.e2e.quantiles((0.5, 0.9))
        itl = self.itl.quantiles((0.5,))
        age = None if self.last_seen_ts is None else max(now - self.last_seen_ts, 0.0)
        uptime = self.uptime.windows(now) if with_uptime else {}
        ttft_step, ttft_pending = self.drift_ttft.read()
        tps_step, tps_pending = self.drift_tps.read()
        return EndpointSnapshot(
            ts=now,
            samples=self.errors.total * f,
            error_rate=self.errors.rate(f),
            ttft_p50_ms=ttft[0],
            ttft_p90_ms=ttft[1],
            ttft_p99_ms=ttft[2],
            tps_p50=tps[0],
            tps_p90=tps[1],
            tps_p99=tps[2],
            e2e_p50_ms=e2e[0],
            e2e_p90_ms=e2e[1],
            itl_p50_ms=itl[0],
            ttft_log_std=self.log_ttft.std(),
            last_seen_ts=self.last_seen_ts,
            last_ok_ts=self.last_ok_ts,
            age_s=age,
            stale=age is None or age > self.stale_after_s,
            uptime_5m=uptime.get("5m"),
            uptime_30m=uptime.get("30m"),
            uptime_1d=uptime.get("1d"),
            ttft_geomean_ms=_exp(self.log_ttft.mean()),
            tps_geomean=_exp(self.log_tps.mean()),
            ttft_step=ttft_step,
            tps_step=tps_step,
            step_pending=ttft_pending or tps_pending,
        )


def _ratio(target: float | None, p50: float | None, step: float) -> float:
    """What moves ``p50`` to ``target`` (the step alone when either is missing, or no step)."""
    if step == 1.0 or not target or not p50:
        return step
    return target / p50


def _times(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _exp(log_mean: float | None) -> float | None:
    return None if log_mean is None else math.exp(log_mean)
