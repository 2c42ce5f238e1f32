"""Forward decay with a half-life: O(1) updates, exact regardless of arrival order.

Each observation at time ``t`` counts ``w = 2^(-(now - t)/H)`` at time ``now``. Following Cormode
et al., "Forward Decay" (ICDE 2009), we store each observation with the *growing* gain
``g(t) = 2^((t - L)/H)`` against a landmark ``L``; the decayed value at ``now`` is the stored sum
times ``2^(-(now - L)/H)``. Because ``g`` does not depend on ``now`` the sums are order-free, and one
multiplication scales everything at read time. When gains grow large the landmark moves forward and
every dependent accumulator is scaled once (amortised O(1)).
"""

from __future__ import annotations

import math

# Move the landmark before gains overflow: 2^256 is far from float's 2^1023.
_REBASE_EXPONENT = 256.0


class ForwardDecay:
    """The landmark and half-life that a group of accumulators share."""

    __slots__ = ("_inv_h", "half_life_s", "landmark_s")

    def __init__(self, half_life_s: float, landmark_s: float = 0.0) -> None:
        if not half_life_s > 0:
            raise ValueError(f"half_life_s must be positive, got {half_life_s}")
        self.half_life_s = float(half_life_s)
        self.landmark_s = float(landmark_s)
        self._inv_h = 1.0 / self.half_life_s

    def exponent(self, ts: float) -> float:
        """``(ts - L) / H``: the gain's exponent for an observation at ``ts``."""
        return (ts - self.landmark_s) * self._inv_h

    def gain(self, ts: float) -> float:
        """The stored weight of a unit observation at ``ts`` (relative to the landmark)."""
        return 2.0 ** ((ts - self.landmark_s) * self._inv_h)

    def factor(self, now: float) -> float:
        """Multiply stored sums by this to read them decayed to ``now``."""
        return 2.0 ** (-(now - self.landmark_s) * self._inv_h)

    def needs_rebase(self, ts: float) -> bool:
        """Whether an observation at ``ts`` would make gains too large."""
        return (ts - self.landmark_s) * self._inv_h > _REBASE_EXPONENT

    def rebase(self, ts: float) -> float:
        """Move the landmark to ``ts``; return the factor every stored sum must be scaled by."""
        scale = 2.0 ** (-(ts - self.landmark_s) * self._inv_h)
        self.landmark_s = float(ts)
        return scale


class DecayedMoments:
    """``W = Σg``, ``Σg·x`` and ``Σg·x²`` (stored against a :class:`ForwardDecay` landmark)."""

    __slots__ = ("w", "wx", "wxx")

    def __init__(self) -> None:
        self.w = 0.0
        self.wx = 0.0
        self.wxx = 0.0

    def add(self, x: float, gain: float) -> None:
        """Add value ``x`` with stored weight ``gain``."""
        self.w += gain
        self.wx += gain * x
        self.wxx += gain * x * x

    def scale(self, factor: float) -> None:
        """Multiply every sum (landmark move)."""
        self.w *= factor
        self.wx *= factor
        self.wxx *= factor

    def total(self, factor: float) -> float:
        """The decayed weight ``W`` given the read factor of the landmark."""
        return self.w * factor

    def mean(self) -> float | None:
        """The weighted mean (independent of the read factor); None without data."""
        return self.wx / self.w if self.w > 0 else None

    def std(self) -> float | None:
        """The weighted standard deviation; None without data."""
        if self.w <= 0:
            return None
        m = self.wx / self.w
        return math.sqrt(max(self.wxx / self.w - m * m, 0.0))


class DecayedSeries:
    """A standalone decayed mean/std of one metric, for callers that need just that (alerts)."""

    __slots__ = ("_decay", "_m")

    def __init__(self, half_life_s: float) -> None:
        self._decay = ForwardDecay(half_life_s)
        self._m = DecayedMoments()

    @property
    def half_life_s(self) -> float:
        """The half-life in seconds."""
        return self._decay.half_life_s

    def add(self, x: float, ts: float, weight: float = 1.0) -> None:
        """Add ``x`` observed at ``ts`` (seconds) with a base ``weight``."""
        if self._m.w == 0.0:
            self._decay.landmark_s = ts
        elif self._decay.needs_rebase(ts):
            self._m.scale(self._decay.rebase(ts))
        self._m.add(x, weight * self._decay.gain(ts))

    def total(self, now: float) -> float:
        """The effective sample size ``W`` at ``now``."""
        return self._m.total(self._decay.factor(now))

    def mean(self) -> float | None:
        """The decayed mean, or None without data."""
        return self._m.mean()

    def std(self) -> float | None:
        """The decayed standard deviation, or None without data."""
        return self._m.std()
