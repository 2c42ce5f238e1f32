"""A decayed Beta error rate: ``(a0 + Σw·fail) / (a0 + b0 + W)``, with a weak prior."""

from __future__ import annotations

import math
from collections import deque

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


# Where an error rate stands now (``SteppedBeta``): a burst of failures that has ended, or one
# that has just begun, is a change the decayed rate takes most of a half-life to follow.
RECENT_OUTCOMES = 32  # outcomes kept for finding a change
MIN_SEGMENT = 4  # outcomes on each side of a change
BEFORE_SPANS = (4, 8, 16)  # lengths of the segment before a change tried (and all before it)
# the likelihood-ratio statistic of a change (chi-square with 1 df: p < 0.0002 for one split;
# about 100 splits are tried, so a stationary endpoint shows a false change about 1 % of the time)
CHANGE_G = 13.8
# no split of the window passes with fewer than three failures (or successes) in it: two in the
# last four against none before scores G = 9.4
MIN_MINORITY = 3


class SteppedBeta(DecayedBeta):
    """A decayed Beta error rate that restarts at a change: when the newest outcomes' failure
    rate differs from the segment just before them beyond chance, the counts from before the
    change are dropped and the rate is that of the outcomes since (with the prior), as a
    detected change in ADWIN drops the older part of its window (Bifet and Gavaldà, 2007).

    The router ranks on it (where the endpoint stands for the next request); the plain decayed
    rate stays what alerts, the breaker and the API report. A burst of failures (six in a row)
    is over after five successes; one begins by its third failure in four after a clean run.
    """

    __slots__ = ("recent", "recent_failures")

    def __init__(self, a0: float = DEFAULT_PRIOR_FAIL, b0: float = DEFAULT_PRIOR_OK) -> None:
        super().__init__(a0, b0)
        self.recent: deque[tuple[bool, float]] = deque(maxlen=RECENT_OUTCOMES)
        self.recent_failures = 0

    def add(self, failed: bool, gain: float) -> None:
        """Count one outcome; restart at a change that it completes."""
        super().add(failed, gain)
        recent = self.recent
        if len(recent) == RECENT_OUTCOMES:
            self.recent_failures -= recent[0][0]
        recent.append((failed, gain))
        self.recent_failures += failed
        if min(self.recent_failures, len(recent) - self.recent_failures) < MIN_MINORITY:
            return  # no change to find (``change_at`` would say so too): the common case
        k = change_at([f for f, _ in recent])
        if k is not None:
            self._keep(list(recent)[k:])
            self.fail = sum(g for f, g in recent if f)
            self.total = sum(g for _, g in recent)

    def resume(self, plain: DecayedBeta) -> None:
        """Take ``plain``'s counts, and drop the failures from the recent outcomes: an episode
        that is over (a breaker closed on recovery and ``plain`` forgave it) leaves no change to
        find, and no restart that it caused keeps the history from before it out."""
        self.fail, self.total = plain.fail, plain.total
        self._keep([(f, g) for f, g in self.recent if not f])

    def scale(self, factor: float) -> None:
        """Multiply the counts (landmark move)."""
        super().scale(factor)
        self._keep([(f, g * factor) for f, g in self.recent])

    def _keep(self, outcomes: list[tuple[bool, float]]) -> None:
        self.recent.clear()
        self.recent.extend(outcomes)
        self.recent_failures = sum(f for f, _ in outcomes)


def change_at(failed: list[bool]) -> int | None:
    """Where the newest outcomes begin, if they differ from the ones just before beyond chance:
    the index of the newest change (its G statistic over ``CHANGE_G``) whose later segment runs to
    the end (at least ``MIN_SEGMENT`` long) and whose earlier one is ``MIN_SEGMENT`` to all of the
    outcomes before, among the newest ``RECENT_OUTCOMES``; None when there is none."""
    skipped = max(len(failed) - RECENT_OUTCOMES, 0)  # only the newest outcomes are looked at
    failed = failed[skipped:]
    n = len(failed)
    if n < 2 * MIN_SEGMENT:
        return None
    prefix = [0]
    for f in failed:
        prefix.append(prefix[-1] + f)
    if min(prefix[-1], n - prefix[-1]) < MIN_MINORITY:
        return None  # too few of one outcome for any split to pass (most windows: cheap)
    for k in range(n - MIN_SEGMENT, MIN_SEGMENT - 1, -1):  # the newest change first
        n_after = n - k
        f_after = prefix[n] - prefix[k]
        for j in {0, *(max(k - span, 0) for span in BEFORE_SPANS)}:
            if (
                k - j >= MIN_SEGMENT
                and _g_stat(prefix[k] - prefix[j], k - j, f_after, n_after) > CHANGE_G
            ):
                return skipped + k
    return None


def _g_stat(f1: int, n1: int, f2: int, n2: int) -> float:
    """The likelihood-ratio (G) statistic of two failure counts out of ``n1`` and ``n2`` having
    different rates rather than one."""
    f, n = f1 + f2, n1 + n2
    if f == 0 or f == n:
        return 0.0
    t = _XLOGX
    return 2.0 * (t[f1] + t[n1 - f1] - t[n1] + t[f2] + t[n2 - f2] - t[n2] - t[f] - t[n - f] + t[n])


# x ln x of the counts a window can hold (a lookup: the search evaluates about a hundred splits)
_XLOGX = [x * math.log(x) if x > 0 else 0.0 for x in range(RECENT_OUTCOMES + 1)]
