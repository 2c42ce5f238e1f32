"""The per-endpoint aggregate: error rate, staleness, source weights, uptime, snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from signalbox.records import ErrorClass, Observation, Sample, Source
from signalbox.stats import DecayedBeta, EndpointStats, UptimeWindows

T0 = 1_700_000_000.0


def test_error_rate_starts_at_the_weak_prior_and_follows_data() -> None:
    stats = EndpointStats(60)
    assert stats.snapshot(T0).error_rate == pytest.approx(0.05)
    for i in range(100):
        stats.add(Sample(T0 + i * 0.1, ok=False))
    assert stats.snapshot(T0 + 10).error_rate > 0.95


def test_recent_successes_outweigh_old_failures() -> None:
    stats = EndpointStats(60)
    for i in range(50):
        stats.add(Sample(T0 + i, ok=False))
    for i in range(50):
        stats.add(Sample(T0 + 600 + i, ok=True))
    assert stats.snapshot(T0 + 650).error_rate < 0.01


def test_endpoint_becomes_stale_after_stale_after() -> None:
    stats = EndpointStats(60, stale_after_s=300)
    assert stats.snapshot(T0).stale
    stats.add(Sample(T0, ok=True, ttft_ms=100))
    assert not stats.snapshot(T0 + 299).stale
    snap = stats.snapshot(T0 + 301)
    assert snap.stale
    assert snap.age_s == pytest.approx(301)


def test_traffic_4xx_does_not_count_against_the_endpoint() -> None:
    stats = EndpointStats(60)
    for i in range(20):
        stats.add(Sample(T0 + i, ok=False, source=Source.TRAFFIC, error_class=ErrorClass.HTTP_4XX))
    assert stats.snapshot(T0 + 20).error_rate == pytest.approx(0.05)


def test_source_weight_scales_influence() -> None:
    stats = EndpointStats(60, source_weights={"probe": 1.0, "traffic": 0.0})
    stats.add(Sample(T0, ok=False, source=Source.TRAFFIC))
    assert stats.snapshot(T0).samples == 0.0


def test_observation_record_feeds_all_metrics() -> None:
    stats = EndpointStats(60)
    obs = Observation(
        endpoint_id=1,
        ts=datetime.fromtimestamp(T0, UTC),
        source=Source.PROBE,
        ok=True,
        ttft_ms=200.0,
        tps=80.0,
        e2e_ms=3400.0,
        itl_ms=12.5,
    )
    stats.add(Sample.of(obs))
    snap = stats.snapshot(T0)
    assert snap.ttft_p50_ms == pytest.approx(200, rel=0.05)
    assert snap.tps_p50 == pytest.approx(80, rel=0.05)
    assert snap.e2e_p50_ms == pytest.approx(3400, rel=0.05)
    assert snap.itl_p50_ms == pytest.approx(12.5, rel=0.05)
    assert snap.samples == pytest.approx(1.0)
    assert snap.uptime_5m == 1.0


def test_uptime_windows_count_only_their_span() -> None:
    up = UptimeWindows()
    up.add(T0 - 3600, ok=False)  # an hour ago: in the day only
    up.add(T0 - 60, ok=True)
    up.add(T0, ok=True)
    windows = up.windows(T0)
    assert windows["5m"] == 1.0
    assert windows["30m"] == 1.0
    assert windows["1d"] == pytest.approx(2 / 3)
    assert up.uptime(T0, 300) == 1.0


def test_beta_prior_must_be_positive() -> None:
    with pytest.raises(ValueError, match="prior"):
        DecayedBeta(0, 1)
