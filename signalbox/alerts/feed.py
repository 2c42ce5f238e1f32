"""The alert evaluator's view of the store: per endpoint decayed statistics, kept current by id.

On becoming leader the feed warms from a window of recent observations, then each evaluation reads
only the rows added since (by id). Ids are assigned before commit, so a row can become visible
after a higher id: the feed re-reads the last ``settle_s`` worth of ids and skips those it has.

Two aggregates per endpoint: the *current* one (short half-life) and, per distinct
``baseline_half_life_s`` of the rules, a *baseline* one fed only with observations older than
``baseline_lag_s``, so a degradation does not drag its own baseline along while it is detected.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from signalbox.alerts.rules import RuleInput
from signalbox.catalog import AlertRule
from signalbox.records import SAMPLE_COLUMNS, Sample
from signalbox.schema import Observation
from signalbox.stats import EndpointSnapshot, EndpointStats

_T = Observation.__table__
_COLS = (_T.c.id, _T.c.endpoint_id, *(_T.c[name] for name in SAMPLE_COLUMNS))

Row = tuple[int, int, Sample]  # id, endpoint id, sample


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class StatsFeed:
    """Decayed statistics per endpoint for the alert rules (one instance per evaluator)."""

    def __init__(
        self,
        engine: Engine,
        *,
        current_half_life_s: float,
        baseline_half_lives_s: Iterable[float],
        baseline_lag_s: float,
        warmup_s: float,
        settle_s: float = 30.0,
    ) -> None:
        self._engine = engine
        self.current_half_life_s = current_half_life_s
        self.baseline_half_lives_s = tuple(sorted(set(baseline_half_lives_s)))
        self.baseline_lag_s = baseline_lag_s
        self.warmup_s = warmup_s
        self.settle_s = settle_s
        self.reset()

    def reset(self) -> None:
        """Forget everything (on losing leadership: a later warm starts clean)."""
        self.warmed = False
        self.warmed_at: float | None = None
        self.rows_read = 0
        self._current: dict[int, EndpointStats] = {}
        self._baseline: dict[tuple[int, float], EndpointStats] = {}
        self._delayed: list[tuple[float, int, Row]] = []  # heap by ts, for the baseline
        self._last_ok: dict[int, float] = {}
        self._first_seen: dict[int, float] = {}
        self._low_id = 0  # every id <= this has been read for good
        self._recent: set[int] = set()  # ids > _low_id already read
        self._checkpoints: deque[tuple[float, int]] = deque()
        self._snapshots: dict[tuple[int, float], EndpointSnapshot] = {}  # for one ``now``
        self._snapshots_at: float | None = None

    # -- reading the store ---------------------------------------------------------------

    def warm(self, now: float, endpoint_ids: Iterable[int]) -> int:
        """Load the warm-up window; find the last success of endpoints with none in it."""
        self.reset()
        stmt = select(*_COLS).where(_T.c.ts >= _dt(now - self.warmup_s)).order_by(_T.c.id)
        with self._engine.connect() as conn:
            rows = [_row(r) for r in conn.execute(stmt)]
            self._ingest(rows, now)
            missing = [e for e in endpoint_ids if e not in self._last_ok]
            for endpoint_id in missing:
                last = conn.execute(
                    select(func.max(_T.c.ts)).where(_T.c.endpoint_id == endpoint_id, _T.c.ok)
                ).scalar()
                if last is not None:
                    self._last_ok[endpoint_id] = last.timestamp()
        settled = [r[0] for r in rows if r[2].ts < now - self.settle_s]
        self._low_id = max(settled, default=0)
        self._recent = {r[0] for r in rows if r[0] > self._low_id}
        self._checkpoints.append((now, max((r[0] for r in rows), default=self._low_id)))
        self.warmed = True
        self.warmed_at = now
        return len(rows)

    def poll(self, now: float) -> int:
        """Read the observations added since the last read; return how many were new."""
        stmt = select(*_COLS).where(_T.c.id > self._low_id).order_by(_T.c.id)
        with self._engine.connect() as conn:
            rows = [_row(r) for r in conn.execute(stmt)]
        fresh = [r for r in rows if r[0] not in self._recent]
        self._ingest(fresh, now)
        self._recent.update(r[0] for r in fresh)
        top = max((r[0] for r in rows), default=self._low_id)
        self._checkpoints.append(
            (now, max(top, self._checkpoints[-1][1] if self._checkpoints else 0))
        )
        while len(self._checkpoints) > 1 and self._checkpoints[1][0] <= now - self.settle_s:
            self._checkpoints.popleft()
        if self._checkpoints[0][0] <= now - self.settle_s:
            self._low_id = max(self._low_id, self._checkpoints[0][1])
            self._recent = {i for i in self._recent if i > self._low_id}
        return len(fresh)

    def _ingest(self, rows: list[Row], now: float) -> None:
        self.rows_read += len(rows)
        self._snapshots_at = None
        for row in rows:
            _, endpoint_id, sample = row
            ts = sample.ts
            self._stats(endpoint_id).add(sample)
            if sample.ok and ts > self._last_ok.get(endpoint_id, float("-inf")):
                self._last_ok[endpoint_id] = ts
            if ts < self._first_seen.get(endpoint_id, float("inf")):
                self._first_seen[endpoint_id] = ts
            if self.baseline_half_lives_s:
                heapq.heappush(self._delayed, (ts, row[0], row))
        self._release_baseline(now)

    def _release_baseline(self, now: float) -> None:
        cutoff = now - self.baseline_lag_s
        while self._delayed and self._delayed[0][0] <= cutoff:
            self._snapshots_at = None
            _, _, row = heapq.heappop(self._delayed)
            for half_life_s in self.baseline_half_lives_s:
                self._base(row[1], half_life_s).add(row[2])

    def _stats(self, endpoint_id: int) -> EndpointStats:
        stats = self._current.get(endpoint_id)
        if stats is None:
            stats = self._current[endpoint_id] = EndpointStats(self.current_half_life_s)
        return stats

    def _base(self, endpoint_id: int, half_life_s: float) -> EndpointStats:
        key = (endpoint_id, half_life_s)
        stats = self._baseline.get(key)
        if stats is None:
            stats = self._baseline[key] = EndpointStats(half_life_s)
        return stats

    # -- what the rules see -----------------------------------------------------------------

    def rule_input(self, endpoint_id: int, rule: AlertRule, now: float) -> RuleInput:
        """The frozen input of ``rule`` for one endpoint at ``now``."""
        self._release_baseline(now)
        stats = self._current.get(endpoint_id)
        watched = self._first_seen.get(endpoint_id, self.warmed_at)
        if self.warmed_at is not None and watched is not None:
            watched = min(watched, self.warmed_at)
        last_ok = self._last_ok.get(endpoint_id)
        if stats is None:
            return RuleInput(now, 0.0, 0.0, None, None, last_ok, watched)
        snap = self._snapshot(stats, (endpoint_id, 0.0), now)
        base_samples, base_ttft, base_tps = 0.0, None, None
        if rule.kind in ("ttft_baseline", "tps_baseline"):
            key = (endpoint_id, rule.baseline_half_life_s)
            base = self._baseline.get(key)
            if base is not None:
                bsnap = self._snapshot(base, key, now)
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
        self, stats: EndpointStats, key: tuple[int, float], now: float
    ) -> EndpointSnapshot:
        """One snapshot per aggregate and evaluation, shared by every rule that reads it."""
        if self._snapshots_at != now:
            self._snapshots.clear()
            self._snapshots_at = now
        snap = self._snapshots.get(key)
        if snap is None:
            snap = self._snapshots[key] = stats.snapshot(now, with_uptime=False)
        return snap


def _row(r: Any) -> Row:
    return (r.id, r.endpoint_id, Sample.from_row(r._mapping))
