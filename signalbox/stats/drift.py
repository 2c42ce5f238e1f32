"""Where a metric stands now, when a step has left the decayed estimate behind (pure, no I/O).

A decayed mean lags a change by the mean age of its weight, ``H / ln 2`` (29 s at a 20 s
half-life, 22 min at the default 15 min): when a provider's degradation ends, or a new one starts,
and its speed doubles or halves at once, the router would go on ranking it on the old figure for
most of a half-life (routing benchmark, ``drift``: a provider's tps went from 64 to 129 and the
router took 24 s to rank it first, where the oracle took none).

:class:`Drift` keeps, per log-metric, a decayed mean (the endpoint's half-life and landmark) and
the last ``RECENT`` observations. A step is a split of those recent observations into before and
after whose means differ by more than ``STEP_Z`` standard errors, with at least ``MIN_AFTER``
after it, every one of them moved at least half the way (one outlier among them is no step): the
mean after the most significant such split is where the metric stands, and ``factor`` is its
ratio to the decayed geometric mean.

The noise the standard errors are made of is the spread between successive recent observations
(their median absolute difference, scaled to a standard deviation): a step inflates the spread
around a mean, and would hide itself that way, but moves one successive difference only.

A step waits for its second observation, and with few observations and a noisy spread for a third
or fourth; until then the newest one to three observations may have left the ones before them by
less than a step's margin, but more than ``PENDING_Z`` standard errors, every one of them the same
way (:meth:`Drift.search`). An endpoint the router still sends to gets the next observation
within a request or two; one it has stopped sending to (because it was slow) hears only from
scheduled probes, an interval apart, so the router asks the prober to look again sooner
(``EndpointBook.unsure``). Routing benchmark, held-out ``gen-095``: a provider's degradation
ended, its next probe was fast, and no second probe came before the run ended, so the default
settings never sent to it again (73 % of the oracle, against 88 % at a tenth the interval); in
``gen-099`` a provider not sent to went from about 115 to 206 tok/s, but six probes with a 20 %
spread of successive differences put even that jump below a step's margin after two answers, and
nothing asked for a third. A pending test costs a probe when noise alone passes it: 2 to 5 % of
observations, against a step found after two to three answers in 80 to 90 % of cases where it was
57 to 74 % (a 1.7x step after six answers with a 12 % spread).

A trend line (decayed least squares against time) was tried for slow drifts and left out: its
newest point has a leverage of about 4/n, so one slow answer moved the estimate by a quarter.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import deque

from signalbox.stats.decay import DecayedMoments

RECENT = 16  # observations kept for finding a step
MIN_AFTER = 2  # observations after a step before it counts
MIN_BEFORE = 3
STEP_Z = 4.0  # standard errors between the means before and after that make a step
PENDING_Z = 3.0  # ... that make a step worth another look (one probe)
PENDING_AFTER = MIN_AFTER + 1  # the newest observations a pending step may span
SIGMA_FLOOR = 0.05  # log units: a spread below 5 % is taken as 5 % (no step out of rounding)
MAD_TO_SIGMA = 1.4826 / math.sqrt(2.0)  # median |x_i - x_(i-1)| of normal noise, to its sigma
FACTOR_RANGE = (0.2, 5.0)


class Drift:
    """One log-metric's decayed mean and its recent values."""

    __slots__ = ("mean", "recent")

    def __init__(self) -> None:
        self.mean = DecayedMoments()
        self.recent: deque[float] = deque(maxlen=RECENT)

    def add(self, x: float, gain: float) -> None:
        """Add ``x`` with stored weight ``gain`` (the endpoint's decay)."""
        self.mean.add(x, gain)
        self.recent.append(x)

    def scale(self, factor: float) -> None:
        """The shared landmark moved."""
        self.mean.scale(factor)

    def noise(self) -> float:
        """The spread of one observation (log units), from successive recent differences."""
        xs = list(self.recent)
        if len(xs) < 3:
            return SIGMA_FLOOR
        diffs = [abs(b - a) for a, b in itertools.pairwise(xs)]
        return max(statistics.median(diffs) * MAD_TO_SIGMA, SIGMA_FLOOR)

    def search(self, sigma: float) -> tuple[float | None, bool]:
        """One pass over the splits of the recent observations into before and after: the mean
        after the most significant step (None when there is none), and, with no step, whether one
        is pending: the newest one to ``PENDING_AFTER`` observations have all left the ones before
        them the same way by more than ``PENDING_Z`` standard errors (a step waiting for more
        evidence, or an outlier; another observation tells which)."""
        xs = list(self.recent)
        n = len(xs)
        total = sum(xs)
        best_z, level, pending = STEP_Z, None, False
        before = sum(xs[: MIN_BEFORE - 1])
        for k in range(MIN_BEFORE, n):
            before += xs[k - 1]
            after = n - k
            before_mean = before / k
            after_mean = (total - before) / after
            shift = after_mean - before_mean
            z = abs(shift) / (sigma * math.sqrt(1.0 / k + 1.0 / after))
            # STEP_Z > PENDING_Z: a split short of the lower margin is neither
            if z <= PENDING_Z or not _all_moved(xs[k:], before_mean, shift):
                continue
            if after >= MIN_AFTER and z > best_z:
                best_z, level = z, after_mean
            if after <= PENDING_AFTER:
                pending = True
        return level, pending and level is None

    def read(self) -> tuple[float, bool]:
        """:meth:`factor` and whether a step is pending (one noise estimate, one search)."""
        sigma = self.noise()
        level, pending = self.search(sigma)
        mean = self.mean.mean()
        if level is None or mean is None:
            return 1.0, pending
        lo, hi = FACTOR_RANGE
        return min(max(math.exp(level - mean), lo), hi), False

    def factor(self) -> float:
        """The ratio from the decayed geometric mean to where the metric stands: 1 without a
        recent step."""
        return self.read()[0]


def _all_moved(values: list[float], before: float, shift: float) -> bool:
    half = before + shift / 2
    return all(v > half for v in values) if shift > 0 else all(v < half for v in values)
