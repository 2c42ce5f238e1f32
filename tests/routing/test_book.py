"""An endpoint's book: statistics per half-life and a breaker with the catalog's thresholds, fed
Samples as the router feeds them."""

from __future__ import annotations

import itertools

import pytest

from signalbox.catalog import BreakerSettings, RoutingSettings
from signalbox.records import ErrorClass, Sample, Source
from signalbox.routing.book import EndpointBook
from signalbox.routing.breaker import BreakerState
from signalbox.routing.scoring import PriceInfo

T0 = 1_800_000_000.0


def book(settings: RoutingSettings | None = None) -> EndpointBook:
    return EndpointBook("p/m", "p", "eu", PriceInfo(1.0, 2.0), settings or RoutingSettings())


def test_breaker_thresholds_come_from_the_routing_settings() -> None:
    strict = book(RoutingSettings(breaker=BreakerSettings(failure_threshold=2, cooldown_s=60)))
    lenient = book()
    for b in (strict, lenient):
        for i in range(2):
            b.add(Sample(T0 + i, False, Source.TRAFFIC, ErrorClass.HTTP_5XX))
    assert strict.breaker.state(T0 + 2) is BreakerState.OPEN
    assert strict.breaker.retry_in_s(T0 + 2) == pytest.approx(59.0)
    assert lenient.breaker.state(T0 + 2) is BreakerState.CLOSED


def test_a_probe_success_closes_the_breaker_and_forgives_the_outage() -> None:
    b = book()
    for i in range(20):
        b.add(Sample(T0 + i, True, ttft_ms=100.0, tps=50.0))
    for i in range(20, 26):
        b.add(Sample(T0 + i, False, Source.TRAFFIC, ErrorClass.HTTP_5XX))
    assert b.breaker.state(T0 + 26) is BreakerState.OPEN
    b.add(Sample(T0 + 27, True, Source.TRAFFIC, ttft_ms=100.0, tps=50.0))
    assert b.breaker.state(T0 + 27) is BreakerState.OPEN  # an app request's success: no trial
    assert b.estimate(T0 + 27, 900.0).error_rate > 0.1
    b.add(Sample(T0 + 28, True, Source.PROBE, ttft_ms=100.0, tps=50.0))
    assert b.breaker.state(T0 + 28) is BreakerState.CLOSED
    assert all(s.snapshot(T0 + 28).error_rate < 0.01 for s in b.stats.values())


def test_an_apps_own_4xx_counts_neither_in_the_error_rate_nor_in_the_breaker() -> None:
    b = book(RoutingSettings(breaker=BreakerSettings(failure_threshold=1)))
    b.add(Sample(T0, False, Source.TRAFFIC, ErrorClass.HTTP_4XX))
    assert b.breaker.state(T0) is BreakerState.CLOSED
    assert b.breaker.consecutive_failures == 0
    assert b.estimate(T0, 900.0).error_rate == pytest.approx(0.05)  # the prior alone


def test_each_half_life_has_its_statistics_and_the_candidate_carries_the_breaker() -> None:
    b = book(RoutingSettings(half_life_by_objective_s={"latency": 10.0}))
    assert sorted(b.stats) == [10.0, 900.0]
    b.add(Sample(T0, True, ttft_ms=100.0, tps=50.0), now=T0)
    short, long = b.estimate(T0 + 100, 10.0), b.estimate(T0 + 100, 900.0)
    assert short.samples < 0.001 < long.samples
    candidate = b.candidate(T0 + 100, long)
    assert (candidate.key, candidate.provider, candidate.region) == ("p/m", "p", "eu")
    assert candidate.snapshot is long and candidate.breaker is BreakerState.CLOSED


def test_unsure_means_stale_thin_open_or_half_open() -> None:
    b = book(RoutingSettings(min_samples=3.0, breaker=BreakerSettings(failure_threshold=1)))
    assert b.unsure(b.estimate(T0, 900.0), T0)  # no data
    for i in range(5):
        b.add(Sample(T0 + i, True, ttft_ms=100.0))
    assert not b.unsure(b.estimate(T0 + 5, 900.0), T0 + 5)
    b.add(Sample(T0 + 6, False, Source.TRAFFIC, ErrorClass.HTTP_5XX))
    # open: a probe's success closes it, asked for once the newest outcome is 2 s old
    assert not b.unsure(b.estimate(T0 + 7, 900.0), T0 + 7)
    assert b.unsure(b.estimate(T0 + 8, 900.0), T0 + 8)
    assert b.unsure(b.estimate(T0 + 30, 900.0), T0 + 30)  # cooldown over: half-open


def test_an_open_circuit_is_rechecked_soon_then_less_often() -> None:
    b = book(RoutingSettings(breaker=BreakerSettings(failure_threshold=1, cooldown_s=1e6)))
    for i in range(5):
        b.add(Sample(T0 + i, True, ttft_ms=100.0))
    b.add(Sample(T0 + 10, False, Source.TRAFFIC, ErrorClass.HTTP_5XX))  # opens at T0 + 10
    asked = []
    for t in range(11, 10 + 600):
        now = T0 + t
        if b.unsure(b.estimate(now, 900.0), now):
            asked.append(t - 10)
            b.add(Sample(now, False), now=now)  # the probe finds it still down
    gaps = [y - x for x, y in itertools.pairwise(asked)]
    assert asked[0] == 2 and gaps[0] <= 3  # within seconds of opening
    assert max(gaps) == 30  # then at most every 30 s
    assert 25 < len(asked) < 60  # ten minutes down: dozens of probes, not hundreds


def test_a_step_waiting_for_its_second_answer_asks_for_a_probe() -> None:
    # given a provider that was slow, then one fast answer (its traffic had gone elsewhere)
    b = book()
    for i in range(12):
        b.add(Sample(T0 + i, True, Source.PROBE, ttft_ms=900.0, tps=40.0))
    assert not b.unsure(b.estimate(T0 + 12, 900.0), T0 + 12)
    b.add(Sample(T0 + 20, True, Source.PROBE, ttft_ms=200.0, tps=150.0))
    # then the router asks for a probe to tell a recovery from an outlier
    assert b.unsure(b.estimate(T0 + 21, 900.0), T0 + 21)
    # and once the second fast answer confirms the step, it asks no more
    b.add(Sample(T0 + 23, True, Source.PROBE, ttft_ms=200.0, tps=150.0))
    assert not b.unsure(b.estimate(T0 + 24, 900.0), T0 + 24)
