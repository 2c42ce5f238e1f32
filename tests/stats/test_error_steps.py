"""Where an error rate stands after a burst of failures began or ended (pure)."""

from __future__ import annotations

import random

import pytest

from signalbox.catalog import RoutingSettings
from signalbox.records import Sample, Source
from signalbox.routing.book import EndpointBook
from signalbox.routing.scoring import PriceInfo
from signalbox.stats import EndpointStats
from signalbox.stats.beta import (
    CHANGE_G,
    MIN_MINORITY,
    MIN_SEGMENT,
    RECENT_OUTCOMES,
    SteppedBeta,
    _g_stat,
    change_at,
)

T0 = 1_800_000_000.0


def outcomes(pattern: str) -> list[bool]:
    """``"." * 20 + "x" * 6``: a success per dot, a failure per x."""
    return [c == "x" for c in pattern]


def test_a_burst_that_ended_is_a_change_once_five_successes_follow_it() -> None:
    assert change_at(outcomes("x" * 6 + "." * 5)) == 6
    assert change_at(outcomes("x" * 6 + "." * 4)) is None  # four could be luck


def test_a_burst_that_begins_after_a_clean_run_is_a_change_by_its_third_failure() -> None:
    assert change_at(outcomes("." * 28 + "xxx")) == 27  # three of the last four
    assert change_at(outcomes("." * 28 + "xx")) is None
    assert change_at(outcomes("." * 28 + "x.x")) is None


def test_the_newest_change_is_the_one_reported() -> None:
    # a burst began at 20 and ended at 26: where the rate stands now starts at 26
    assert change_at(outcomes("." * 20 + "xxxxxxxx" + "." * 6)) == 28


def test_no_split_passes_with_fewer_than_three_failures_or_successes() -> None:
    # what lets change_at skip most windows unsearched: every split of a window with two
    # failures (or two successes) scores under CHANGE_G, and three can pass
    def best(failures: int) -> float:
        return max(
            _g_stat(f1, n1, failures - f1, n2)
            for n1 in range(MIN_SEGMENT, RECENT_OUTCOMES - MIN_SEGMENT + 1)
            for n2 in range(MIN_SEGMENT, RECENT_OUTCOMES - n1 + 1)
            for f1 in range(max(failures - n2, 0), min(failures, n1) + 1)
        )

    assert best(MIN_MINORITY - 1) < CHANGE_G < best(MIN_MINORITY)


def test_a_steady_rate_rarely_shows_a_change() -> None:
    rng = random.Random(7)
    for rate in (0.02, 0.1):
        beta = SteppedBeta()
        restarts = 0
        for _ in range(3000):
            before = beta.total
            beta.add(rng.random() < rate, 1.0)
            restarts += beta.total < before
        assert restarts <= 3000 * 0.002, rate
        # with no change found the rate is the plain decayed Beta's
    plain, stepped = EndpointStats(60), EndpointStats(60)
    for i in range(200):
        ok = rng.random() > 0.03
        plain.add(Sample(T0 + i, ok=ok))
        stepped.add(Sample(T0 + i, ok=ok))
    snap = stepped.snapshot(T0 + 200)
    assert snap.projected().error_rate == pytest.approx(plain.snapshot(T0 + 200).error_rate)


def test_after_a_burst_the_rate_now_is_that_since_it_while_the_decayed_rate_remembers() -> None:
    stats = EndpointStats(900)  # a 15 min half-life: the burst weighs for many minutes
    t = T0
    for ok in outcomes("." * 40 + "x" * 8 + "." * 6):
        stats.add(Sample(t, ok=not ok))
        t += 1.0
    snap = stats.snapshot(t)
    assert snap.error_rate > 0.12  # the decayed figure: alerts and the API report it
    assert snap.projected().error_rate < 0.03  # what the router ranks on


def test_a_burst_that_begins_shows_in_the_rate_now_before_the_decayed_rate() -> None:
    stats = EndpointStats(900)
    t = T0
    for ok in outcomes("." * 60 + "x" * MIN_SEGMENT):
        stats.add(Sample(t, ok=not ok))
        t += 1.0
    snap = stats.snapshot(t)
    assert snap.error_rate < 0.1
    assert snap.projected().error_rate > 0.5


def test_a_landmark_move_keeps_the_rate_now() -> None:
    # a 1 s half-life moves the landmark every ~4 min of samples: the recent gains scale with it
    stats = EndpointStats(1.0)
    t = T0
    for ok in outcomes("." * 30 + "x" * 6 + "." * 5):
        stats.add(Sample(t, ok=not ok))
        t += 10.0
    assert stats.snapshot(t).projected().error_rate < 0.05


def test_a_recovery_forgives_the_episode_in_the_rate_now_too() -> None:
    book = EndpointBook("p/m", "p", None, PriceInfo(), RoutingSettings())
    t = T0
    for _ in range(30):
        book.add(Sample(t, ok=True, source=Source.TRAFFIC))
        t += 1.0
    for _ in range(6):  # opens the breaker (five consecutive failures)
        book.add(Sample(t, ok=False, source=Source.TRAFFIC))
        t += 1.0
    book.add(Sample(t, ok=True, source=Source.PROBE))  # a probe's success closes it
    rate = book.estimate(t, RoutingSettings().half_life_s).error_rate
    # the episode's failures are gone, the successes before it count again (the restart at the
    # burst's start had dropped them) and no change is left to find
    assert rate == pytest.approx(book.main.snapshot(t).error_rate)
    assert rate < 0.01
    assert change_at([f for f, _ in book.main.errors_now.recent]) is None
