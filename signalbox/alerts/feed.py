"""The alert evaluator's view of the store: per endpoint decayed statistics, kept current by id.

On becoming leader the feed warms from a window of recent observations, then each evaluation reads
only the rows added since, through ``signalbox.tail`` (by id; a row committed after a higher id is
still read once, within ``settle_s``).

The statistics are the rules' own: per endpoint a *current* aggregate at each distinct
``half_life_s`` of the rules and, for kinds that compare with a baseline, a *baseline* aggregate at
the rule's ``baseline_half_life_s`` fed only with observations older than
``BASELINE_LAG_HALF_LIVES`` times its ``half_life_s``, so a degradation does not drag its own baseline
along while it is detected.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from sqlalchemy import Engine, func, select

from signalbox.alerts.rules import ALERT_KINDS, RuleInput
from signalbox.catalog import AlertRule
from signalbox.schema import Observation
from signalbox.stats import EndpointSnapshot, EndpointStats
from signalbox.tail import SETTLE_S, ObservationTail, TailRow

BASELINE_LAG_HALF_LIVES = 4.0
DAY_S = 86_400.0


def baseline_lag_s(rule: AlertRule) -> float:
    """How old an observation must be before it feeds ``rule``'s baseline."""
    return BASELINE_LAG_HALF_LIVES * rule.half_life_s


def warmup_for(rules: Iterable[AlertRule]) -> float:
    """The window a feed warms from: enough for every current aggregate and its lag, and a few
    baseline half-lives (at most a day)."""
    rules = list(rules)
    current = max((8 * r.half_life_s + baseline_lag_s(r) for r in rules), default=0.0)
    baselines = [r.baseline_half_life_s for r in rules if ALERT_KINDS[r.kind].uses_baseline]
    return max(min(3 * max(baselines, default=0.0), DAY_S), current)


class StatsFeed:
    """Decayed statistics per endpoint for the alert rules (one instance per evaluator)."""

    def __init__(
        self,
        engine: Engine,
        *,
        rules: Iterable[AlertRule],
        warmup_s: float | None = None,
        settle_s: float = SETTLE_S,
    ) -> None:
        self._engine = engine
        self._tail = ObservationTail(engine, settle_s=settle_s)
        rules = list(rules)
        self.half_lives_s = tuple(sorted({r.half_life_s for r in rules}))
        # lag -> the baseline half-lives fed after it
        lags: dict[float, set[float]] = {}
        for r in rules:
            if ALERT_KINDS[r.kind].uses_baseline:
                lags.setdefault(baseline_lag_s(r), set()).add(r.baseline_half_life_s)
        self.baselines = {lag: tuple(sorted(hls)) for lag, hls in lags.items()}
        self.warmup_s = warmup_for(rules) if warmup_s is None else warmup_s
        self.reset()

    def reset(self) -> None:
        """Forget everything (on losing leadership: a later warm starts clean)."""
        self.warmed = False
        self.warmed_at: float | None = None
        self.rows_read = 0
        self._current: dict[tuple[int, float], EndpointStats] = {}
        self._baseline: dict[tuple[int, float, float], EndpointStats] = {}
        # per lag, a heap by time of what its baselines have not been fed yet
        self._delayed: dict[float, list[tuple[float, int, TailRow]]] = {
            lag: [] for lag in self.baselines
        }
        self._last_ok: dict[int, float] = {}
        self._first_seen: dict[int, float] = {}
        self._tail.reset()
        self._snapshots: dict[tuple[object, ...], EndpointSnapshot] = {}  # for one ``now``
        self._snapshots_at: float | None = None

    # -- reading the store ---------------------------------------------------------------

    def warm(self, now: float, endpoint_ids: Iterable[int]) -> int:
        """Load the warm-up window; find the last success of endpoints with none in it."""
        self.reset()
        rows = list(self._tail.warm(now - self.warmup_s, now))
        self._ingest(rows, now)
        missing = [e for e in endpoint_ids if e not in self._last_ok]
        if missing:
            t = Observation.__table__
            with self._engine.connect() as conn:
                for endpoint_id in missing:
                    last = conn.execute(
                        select(func.max(t.c.ts)).where(t.c.endpoint_id == endpoint_id, t.c.ok)
                    ).scalar()
                    if last is not None:
                        self._last_ok[endpoint_id] = last.timestamp()
        self.warmed = True
        self.warmed_at = now
        return len(rows)

    def poll(self, now: float) -> int:
        """Read the observations added since the last read; return how many."""
        n = 0
        while True:
            rows = self._tail.poll(now)
            self._ingest(rows, now)
            n += len(rows)
            if not self._tail.behind:
                return n

    def _ingest(self, rows: list[TailRow], now: float) -> None:
        self.rows_read += len(rows)
        self._snapshots_at = None
        for row in rows:
            endpoint_id, sample = row.endpoint_id, row.sample
            ts = sample.ts
            for half_life_s in self.half_lives_s:
                self._stats(self._current, (endpoint_id, half_life_s)).add(sample)
            if sample.ok and ts > self._last_ok.get(endpoint_id, float("-inf")):
                self._last_ok[endpoint_id] = ts
            if ts < self._first_seen.get(endpoint_id, float("inf")):
                self._first_seen[endpoint_id] = ts
            for heap in self._delayed.values():
                heapq.heappush(heap, (ts, row.id, row))
        self._release_baseline(now)

    def _release_baseline(self, now: float) -> None:
        for lag, heap in self._delayed.items():
            cutoff = now - lag
            while heap and heap[0][0] <= cutoff:
                self._snapshots_at = None
                _, _, row = heapq.heappop(heap)
                for half_life_s in self.baselines[lag]:
                    key = (row.endpoint_id, half_life_s, lag)
                    self._stats(self._baseline, key).add(row.sample)

    @staticmethod
    def _stats(table: dict, key: tuple[float, ...]) -> EndpointStats:
        """The aggregate under ``key`` (its half-life is the key's second part), made on first
        use."""
        stats = table.get(key)
        if stats is None:
            stats = table[key] = EndpointStats(key[1])
        return stats

    # -- what the rules see -----------------------------------------------------------------

    def rule_input(self, endpoint_id: int, rule: AlertRule, now: float) -> RuleInput:
        """The frozen input of ``rule`` for one endpoint at ``now``."""
        self._release_baseline(now)
        key = (endpoint_id, rule.half_life_s)
        stats = self._current.get(key)
        watched = self._first_seen.get(endpoint_id, self.warmed_at)
        if self.warmed_at is not None and watched is not None:
            watched = min(watched, self.warmed_at)
        last_ok = self._last_ok.get(endpoint_id)
        if stats is None:
            return RuleInput(now, 0.0, 0.0, None, None, last_ok, watched)
        snap = self._snapshot(stats, key, now)
        base_samples, base_ttft, base_tps = 0.0, None, None
        if ALERT_KINDS[rule.kind].uses_baseline:
            base_key = (endpoint_id, rule.baseline_half_life_s, baseline_lag_s(rule))
            base = self._baseline.get(base_key)
            if base is not None:
                bsnap = self._snapshot(base, base_key, now)
                base_samples, base_ttft, base_tps = bsnap.samples, bsnap.ttft_p50_ms, bsnap.tps_p50
        return RuleInput(
            now=now,
            samples=snap.samples,
            error_rate=snap.error_rate,
            ttft_p50_ms=snap.ttft_p50_ms,
            tps_p50=snap.tps_p50,
            last_ok_ts=last_ok,
            watched_since_ts=watched,
            baseline_samples=base_samples,
            baseline_ttft_p50_ms=base_ttft,
            baseline_tps_p50=base_tps,
        )

    def _snapshot(
        self, stats: EndpointStats, key: tuple[object, ...], now: float
    ) -> EndpointSnapshot:
        """One snapshot per aggregate and evaluation, shared by every rule that reads it."""
        if self._snapshots_at != now:
            self._snapshots.clear()
            self._snapshots_at = now
        snap = self._snapshots.get(key)
        if snap is None:
            snap = self._snapshots[key] = stats.snapshot(now, with_uptime=False)
        return snap
