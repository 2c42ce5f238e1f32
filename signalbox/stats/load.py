"""How an endpoint slows down under the router's own load: decayed TTFT and tokens/s by how many
of the router's requests were already in flight to it when each request started.

A provider that is fastest when idle may saturate: past its capacity TTFT grows and decode slows.
Decayed statistics alone see that only after the fact and then steer every request away at once,
so traffic herds back and forth. The curve lets the router predict the next request at the load it
would add to: ``factors(level)`` is the ratio of what the router's requests that started at that
load delivered to what all its requests delivered (geometric means), and the router scales the
endpoint's geometric mean (probes and all traffic) by it. A ratio, so that an endpoint's traffic
and its probes, which differ in shape (a long prompt's TTFT is not a probe's), are not mixed up
with how it bears load; of geometric means on both sides, because the endpoint's median would not
match: for a provider idle most of the time the median is its idle speed while the mean is pulled
down by the saturated tail, and that mismatch over-rated every loaded level (routing benchmark,
``saturate``: requests joining 6 in flight were predicted at 102 tok/s and delivered 80, behind a
steady provider's 90).

Levels are the exact in-flight count up to 7, then four per doubling (8-9, 10-11, 12-13, 14-15,
16-19, ...): a provider with a capacity of 4 turns from fastest to slower than the rest between 4
and 6 in flight, so the small counts must be told apart (with powers of two, 4-7 was one level and
the router sent the fifth request too rarely and the seventh too often); above that, saturation is
a matter of scale and a bucket about 19 % wide tells it. Pure code, no I/O; time is passed in.
"""

from __future__ import annotations

import math

from signalbox.stats.decay import DecayedMoments, ForwardDecay

EXACT_LEVELS = 8  # 0..7 in flight each have a level of their own
PER_DOUBLING = 4  # then four levels per doubling of the in-flight count
MAX_LEVEL = 36  # 1024+ in flight share the last level
MIN_WEIGHT = 2.0  # decayed observations a level needs before it speaks
FACTOR_RANGE = (0.05, 20.0)


def level_of(in_flight: int) -> int:
    """The load level of ``in_flight`` concurrent requests: itself up to 7, then 8-9 -> 8,
    10-11 -> 9, 12-13 -> 10, 14-15 -> 11, 16-19 -> 12, ... (log-spaced), at most ``MAX_LEVEL``."""
    if in_flight < EXACT_LEVELS:
        return max(in_flight, 0)
    bits = in_flight.bit_length()
    # the two bits after the leading one pick the quarter of the doubling
    quarter = (in_flight >> (bits - 3)) & 3
    return min(PER_DOUBLING * (bits - 2) + quarter, MAX_LEVEL)


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
        geometric mean over all levels. A level without enough data is pooled with the levels
        below it until they have enough (more load is never assumed to help, and fine levels
        speak after a few requests each); 1 when they never have enough."""
        f = self.decay.factor(now)
        return (
            _ratio(self.levels_ttft, self.all_ttft, level, f),
            _ratio(self.levels_tps, self.all_tps, level, f),
        )


def _ratio(levels: list[DecayedMoments], overall: DecayedMoments, level: int, f: float) -> float:
    base = overall.mean()
    if base is None:
        return 1.0
    w = wx = 0.0
    for lv in range(min(max(level, 0), MAX_LEVEL), -1, -1):
        m = levels[lv]
        w += m.w
        wx += m.wx
        if w * f >= MIN_WEIGHT:
            lo, hi = FACTOR_RANGE
            return min(max(math.exp(wx / w - base), lo), hi)
    return 1.0
