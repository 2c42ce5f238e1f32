"""How an endpoint slows down under the router's own load: decayed TTFT and tokens/s by how many
of the router's requests were already in flight to it when each request started.

A provider that is fastest when idle may saturate: past its capacity TTFT grows and decode slows.
Decayed statistics alone see that only after the fact and then steer every request away at once,
so traffic herds back and forth. The curve lets the router predict the next request at the load it
would add to: ``factors(level)`` is the ratio of what requests at that load level delivered to
what all requests delivered, and the router scales the endpoint's estimate by it.

Levels are powers of two of the in-flight count (0, 1, 2-3, 4-7, ...): saturation is a matter of
scale, and few levels fill with data quickly. Pure code, no I/O; time is passed in.
"""

from __future__ import annotations

import math

from signalbox.stats.decay import DecayedMoments, ForwardDecay

MAX_LEVEL = 8  # 128+ in flight share the last level
MIN_WEIGHT = 2.0  # decayed observations a level needs before it speaks
FACTOR_RANGE = (0.05, 20.0)


def level_of(in_flight: int) -> int:
    """The load level of ``in_flight`` concurrent requests: 0, 1, 2-3 -> 2, 4-7 -> 3, ..."""
    if in_flight <= 0:
        return 0
    return min(in_flight.bit_length(), MAX_LEVEL)


class LoadCurve:
    """Decayed log-TTFT and log-tokens/s per load level, and over all levels."""

    __slots__ = ("all_tps", "all_ttft", "count", "decay", "levels_tps", "levels_ttft")

    def __init__(self, half_life_s: float) -> None:
        self.decay = ForwardDecay(half_life_s)
        self.levels_ttft = [DecayedMoments() for _ in range(MAX_LEVEL + 1)]
        self.levels_tps = [DecayedMoments() for _ in range(MAX_LEVEL + 1)]
        self.all_ttft = DecayedMoments()
        self.all_tps = DecayedMoments()
        self.count = 0

    def add(self, ts: float, level: int, ttft_ms: float | None, tps: float | None) -> None:
        """One successful request that started at load ``level``."""
        decay = self.decay
        if self.count == 0:
            decay.landmark_s = ts
        elif decay.needs_rebase(ts):
            factor = decay.rebase(ts)
            for m in (*self.levels_ttft, *self.levels_tps, self.all_ttft, self.all_tps):
                m.scale(factor)
        self.count += 1
        g = decay.gain(ts)
        level = min(max(level, 0), MAX_LEVEL)
        if ttft_ms is not None and ttft_ms > 0:
            x = math.log(ttft_ms)
            self.levels_ttft[level].add(x, g)
            self.all_ttft.add(x, g)
        if tps is not None and tps > 0:
            x = math.log(tps)
            self.levels_tps[level].add(x, g)
            self.all_tps.add(x, g)

    def factors(self, level: int, now: float) -> tuple[float, float]:
        """``(ttft_factor, tps_factor)`` at ``level``: geometric mean at that level over the
        geometric mean over all levels. A level without enough data borrows the nearest lower
        level that has it (more load is never assumed to help); ``(1, 1)`` when none has."""
        f = self.decay.factor(now)
        return (
            _ratio(self.levels_ttft, self.all_ttft, level, f),
            _ratio(self.levels_tps, self.all_tps, level, f),
        )


def _ratio(levels: list[DecayedMoments], overall: DecayedMoments, level: int, f: float) -> float:
    base = overall.mean()
    if base is None:
        return 1.0
    for lv in range(min(max(level, 0), MAX_LEVEL), -1, -1):
        m = levels[lv]
        if m.w * f >= MIN_WEIGHT:
            mean = m.mean()
            assert mean is not None
            lo, hi = FACTOR_RANGE
            return min(max(math.exp(mean - base), lo), hi)
    return 1.0
