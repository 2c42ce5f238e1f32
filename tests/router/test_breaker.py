"""Circuit breaker: open, cooldown, half-open trial, backoff (injected time)."""

from __future__ import annotations

from signalbox.catalog import BreakerSettings
from signalbox.records import Sample
from signalbox.routing.breaker import BreakerState, CircuitBreaker


def test_consecutive_failures_open_then_cooldown_then_half_open() -> None:
    b = CircuitBreaker(BreakerSettings(failure_threshold=3, cooldown_s=10))
    for t in range(3):
        b.record(False, float(t))
    assert b.state(3.0) is BreakerState.OPEN
    assert b.retry_in_s(3.0) == 9.0
    assert "3 consecutive" in b.reason
    assert b.state(12.0) is BreakerState.HALF_OPEN


def test_half_open_success_closes_and_failure_reopens_with_longer_cooldown() -> None:
    b = CircuitBreaker(BreakerSettings(failure_threshold=1, cooldown_s=10))
    b.record(False, 0.0)
    assert b.acquire_trial(10.0)
    assert not b.acquire_trial(10.5)  # one trial at a time
    b.record(False, 11.0)
    assert b.state(11.0) is BreakerState.OPEN
    assert b.state(30.0) is BreakerState.OPEN  # cooldown doubled to 20 s
    assert b.state(31.0) is BreakerState.HALF_OPEN
    b.record(True, 31.0)
    assert b.state(31.0) is BreakerState.CLOSED


def test_error_rate_over_threshold_opens_with_enough_samples() -> None:
    b = CircuitBreaker(BreakerSettings(failure_threshold=100, min_samples=10))
    b.record(False, 0.0, error_rate=0.9, samples=5)
    assert b.state(0.0) is BreakerState.CLOSED
    b.record(False, 0.0, error_rate=0.6, samples=12)
    assert b.state(0.0) is BreakerState.OPEN


def test_success_resets_consecutive_failures() -> None:
    b = CircuitBreaker(BreakerSettings(failure_threshold=2))
    b.record(False, 0.0)
    b.record(True, 1.0)
    b.record(False, 2.0)
    assert b.state(2.0) is BreakerState.CLOSED


def test_a_success_that_started_before_the_newest_failure_resets_nothing() -> None:
    # given streams that began just before an outage and finish during it, between its failures
    b = CircuitBreaker(BreakerSettings(failure_threshold=3))
    b.record(False, 1.0, started=1.0)
    b.record(True, 1.5, started=0.2)  # started before the failure: older news
    b.record(False, 2.0, started=2.0)
    b.record(True, 2.5, started=0.4)
    assert b.state(2.5) is BreakerState.CLOSED
    b.record(False, 3.0, started=3.0)
    # then the three failures in a row open the circuit
    assert b.state(3.0) is BreakerState.OPEN
    # and a probe that started before the last failure does not close it; one after does
    b.record(True, 3.5, out_of_band=True, started=2.9)
    assert b.state(3.5) is BreakerState.OPEN
    b.record(True, 4.0, out_of_band=True, started=3.6)
    assert b.state(4.0) is BreakerState.CLOSED
    # and a success that started after the newest failure resets the count as before
    b.record(False, 5.0, started=5.0)
    b.record(True, 5.5, started=5.2)
    b.record(False, 6.0, started=6.0)
    b.record(False, 7.0, started=7.0)
    assert b.state(7.0) is BreakerState.CLOSED


def test_probe_success_closes_an_open_breaker_before_the_cooldown_ends() -> None:
    b = CircuitBreaker(BreakerSettings(failure_threshold=2, cooldown_s=15))
    b.record(False, 0.0)
    b.record(False, 0.5)
    assert b.state(3.0) is BreakerState.OPEN
    b.record(True, 3.0)  # an app request's success does not count while it cools down
    assert b.state(3.0) is BreakerState.OPEN
    b.record(True, 4.0, out_of_band=True)  # a probe's does
    assert b.state(4.0) is BreakerState.CLOSED


def test_a_recovery_forgives_the_outage_failures_in_the_error_rate() -> None:
    from signalbox.router.live import LiveState
    from tests.router.conftest import FakeClock
    from tests.router.test_live_store import CATALOG

    clock = FakeClock()
    live = LiveState(CATALOG, clock)
    t = clock()
    # given a healthy history, then an outage that opens the breaker
    for i in range(20):
        live.observe("p1/m", Sample(t + i, True, ttft_ms=100.0, tps=50.0))
    for i in range(20, 30):
        live.observe("p1/m", Sample(t + i, False, error_class="server_error"))
    assert live.breakers["p1/m"].state(t + 30) is BreakerState.OPEN
    during = live.snapshot("p1/m", t + 30).error_rate
    assert during > 0.3
    # when a probe succeeds again
    live.observe("p1/m", Sample(t + 31, True, ttft_ms=100.0, tps=50.0))
    # then the breaker is closed and the error rate is back to what the successes say
    assert live.breakers["p1/m"].state(t + 31) is BreakerState.CLOSED
    after = live.snapshot("p1/m", t + 31).error_rate
    assert after < 0.01
    # and new failures count again from there
    live.observe("p1/m", Sample(t + 32, False, error_class="server_error"))
    assert live.snapshot("p1/m", t + 33).error_rate > after
