"""Log-spaced histogram buckets with decayed counts, for decayed p50/p90/p99.

Buckets grow by a constant factor, so the relative error of a quantile is at most half a bucket
(about 4 % with the default growth of 1.08) whatever the scale: 0.5 ms and 50 s alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """Bucket ``i`` covers ``[lo·g^i, lo·g^(i+1))``; values below ``lo`` or above ``hi`` clamp."""

    lo: float = 0.01
    hi: float = 1e7
    growth: float = 1.08

    @property
    def n(self) -> int:
        """The number of buckets."""
        return math.ceil(math.log(self.hi / self.lo) / math.log(self.growth))

    def index(self, x: float) -> int:
        """The bucket holding ``x`` (clamped to the first and last)."""
        if x <= self.lo:
            return 0
        i = int(math.log(x / self.lo) / math.log(self.growth))
        n = self.n
        return i if i < n else n - 1

    def bounds(self, i: int) -> tuple[float, float]:
        """The ``[low, high)`` range of bucket ``i``."""
        return self.lo * self.growth**i, self.lo * self.growth ** (i + 1)

    def representative(self, i: int) -> float:
        """The value a quantile in bucket ``i`` reports: its geometric midpoint."""
        return self.lo * self.growth ** (i + 0.5)


DEFAULT_SPEC = BucketSpec()


class DecayedHistogram:
    """Decayed counts per bucket (stored against a ForwardDecay landmark)."""

    __slots__ = ("_inv_log_g", "_log_lo", "_n", "counts", "spec", "total")

    def __init__(self, spec: BucketSpec = DEFAULT_SPEC) -> None:
        self.spec = spec
        self._n = spec.n
        self._log_lo = math.log(spec.lo)
        self._inv_log_g = 1.0 / math.log(spec.growth)
        self.counts = [0.0] * self._n
        self.total = 0.0

    def add(self, x: float, gain: float) -> None:
        """Count ``x`` with stored weight ``gain``."""
        if x <= self.spec.lo:
            i = 0
        else:
            i = int((math.log(x) - self._log_lo) * self._inv_log_g)
            if i >= self._n:
                i = self._n - 1
        self.counts[i] += gain
        self.total += gain

    def scale(self, factor: float) -> None:
        """Multiply every count (landmark move)."""
        self.counts = [c * factor for c in self.counts]
        self.total *= factor

    def quantile_bucket(self, q: float) -> int | None:
        """The bucket of the weighted ``q``-quantile (inverted CDF), or None without data."""
        if self.total <= 0:
            return None
        target = q * self.total
        running = 0.0
        last = None
        for i, c in enumerate(self.counts):
            if c > 0:
                running += c
                last = i
                if running >= target * (1 - 1e-12):
                    return i
        return last

    def quantile(self, q: float) -> float | None:
        """The weighted ``q``-quantile (bucket midpoint), or None without data."""
        i = self.quantile_bucket(q)
        return None if i is None else self.spec.representative(i)

    def quantiles(self, qs: tuple[float, ...]) -> tuple[float | None, ...]:
        """Several quantiles (ascending ``qs``) in one pass over the buckets."""
        if self.total <= 0:
            return tuple(None for _ in qs)
        out: list[float | None] = []
        targets = [q * self.total * (1 - 1e-12) for q in qs]
        running = 0.0
        k = 0
        last = 0
        for i, c in enumerate(self.counts):
            if c <= 0:
                continue
            running += c
            last = i
            while k < len(targets) and running >= targets[k]:
                out.append(self.spec.representative(i))
                k += 1
            if k == len(targets):
                break
        while len(out) < len(qs):
            out.append(self.spec.representative(last))
        return tuple(out)
