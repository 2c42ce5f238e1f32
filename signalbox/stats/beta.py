"""A decayed Beta error rate: ``(a0 + Σw·fail) / (a0 + b0 + W)``, with a weak prior."""

from __future__ import annotations

DEFAULT_PRIOR_FAIL = 0.1
DEFAULT_PRIOR_OK = 1.9  # prior mean 5 %, worth two observations: data wins quickly


class DecayedBeta:
    """Decayed failure and total counts (stored against a ForwardDecay landmark)."""

    __slots__ = ("a0", "b0", "fail", "total")

    def __init__(self, a0: float = DEFAULT_PRIOR_FAIL, b0: float = DEFAULT_PRIOR_OK) -> None:
        if a0 <= 0 or b0 <= 0:
            raise ValueError("the Beta prior needs a0 > 0 and b0 > 0")
        self.a0 = a0
        self.b0 = b0
        self.fail = 0.0
        self.total = 0.0

    def add(self, failed: bool, gain: float) -> None:
        """Count one outcome with stored weight ``gain``."""
        self.total += gain
        if failed:
            self.fail += gain

    def forgive(self) -> None:
        """Drop the failures counted so far (their weight leaves ``total`` too); the successes
        stay. Used when an episode that explains them is over (a breaker closed on recovery)."""
        self.total -= self.fail
        self.fail = 0.0

    def scale(self, factor: float) -> None:
        """Multiply the counts (landmark move)."""
        self.fail *= factor
        self.total *= factor

    def rate(self, factor: float) -> float:
        """The posterior mean error rate, with counts decayed by ``factor``."""
        return (self.a0 + self.fail * factor) / (self.a0 + self.b0 + self.total * factor)
