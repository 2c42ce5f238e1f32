"""Health states and the per-objective ranking the overview shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from signalbox.catalog import BreakerSettings, RoutingSettings
from signalbox.dashboard.ranking import health_state, rank, scores

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FRESH = NOW - timedelta(seconds=10)
# circuit thresholds of 3 failures / 5 samples (the defaults are the router's 5 / 10)
SETTINGS = RoutingSettings(
    stale_after_s=300, breaker=BreakerSettings(failure_threshold=3, min_samples=5)
)


@pytest.mark.parametrize(
    ("n", "err", "streak", "last", "firing", "state"),
    [
        (20, 0.0, 0, FRESH, False, "healthy"),
        (20, 0.15, 0, FRESH, False, "degraded"),
        (20, 0.0, 0, FRESH, True, "degraded"),
        (20, 0.6, 0, FRESH, False, "circuit open"),
        (20, 0.15, 3, FRESH, False, "circuit open"),
        (3, 0.34, 1, FRESH, False, "healthy"),  # too few samples to call it degraded
        (20, 0.0, 0, NOW - timedelta(minutes=10), False, "stale"),
        (0, None, 0, None, False, "no data"),
    ],
)
def test_health_state(n, err, streak, last, firing, state) -> None:  # type: ignore[no-untyped-def]
    assert health_state(n, err, streak, last, NOW, SETTINGS, firing) == state


def _stats(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "endpoint_id": pl.Int64,
            "provider": pl.String,
            "model": pl.String,
            "price_output_per_mtok": pl.Float64,
            "n": pl.Int64,
            "ok_n": pl.Int64,
            "ttft_p50_ms": pl.Float64,
            "tps_p50": pl.Float64,
            "fail_streak": pl.Int64,
            "error_rate": pl.Float64,
            "last_ts": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )


def test_rank_orders_each_objective_and_leaves_unhealthy_unranked() -> None:
    stats = _stats(
        [
            (1, "fast", "m", 0.9, 20, 20, 400.0, 120.0, 0, 0.0, FRESH),
            (2, "snappy", "m", 0.5, 20, 20, 150.0, 60.0, 0, 0.0, FRESH),
            (3, "broken", "m", 0.1, 20, 2, 100.0, 200.0, 5, 0.9, FRESH),
            (4, "silent", "m", 0.2, 0, 0, None, None, 0, None, None),
        ]
    )
    out = {
        r["provider"]: r
        for r in rank(stats, NOW, settings=RoutingSettings(stale_after_s=300)).iter_rows(named=True)
    }
    assert (out["fast"]["rank_throughput"], out["snappy"]["rank_throughput"]) == (1, 2)
    assert (out["fast"]["rank_latency"], out["snappy"]["rank_latency"]) == (2, 1)
    assert (out["fast"]["rank_cost"], out["snappy"]["rank_cost"]) == (2, 1)
    assert out["broken"]["state"] == "circuit open" and out["broken"]["rank_throughput"] is None
    assert out["silent"]["state"] == "no data" and out["silent"]["rank_cost"] is None


def test_errors_weigh_on_the_score() -> None:
    stats = _stats(
        [
            (1, "flaky", "m", 0.5, 20, 17, 200.0, 100.0, 0, 0.15, FRESH),
            (2, "steady", "m", 0.5, 20, 20, 200.0, 90.0, 0, 0.0, FRESH),
        ]
    )
    out = {
        r["provider"]: r
        for r in rank(stats, NOW, settings=RoutingSettings(stale_after_s=300)).iter_rows(named=True)
    }
    assert out["steady"]["rank_throughput"] == 1


def test_unknown_objective_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="throughput"):
        scores([], "vibes")


def test_the_circuit_state_applies_the_routers_breaker_thresholds() -> None:
    router = RoutingSettings()  # opens after 5 failures, or over 50% errors on 10 samples
    assert health_state(20, 0.2, 4, FRESH, NOW, router, False) == "degraded"
    assert health_state(20, 0.2, 5, FRESH, NOW, router, False) == "circuit open"
    assert health_state(9, 0.9, 0, FRESH, NOW, router, False) == "healthy"  # too few samples
    assert health_state(10, 0.9, 0, FRESH, NOW, router, False) == "circuit open"
    strict = RoutingSettings(breaker=BreakerSettings(failure_threshold=2))
    assert health_state(20, 0.2, 2, FRESH, NOW, strict, False) == "circuit open"


def test_staleness_comes_from_the_routing_settings_and_stale_endpoints_are_ranked() -> None:
    minute_old = NOW - timedelta(seconds=60)
    stats = _stats(
        [
            (1, "fresh", "m", 0.9, 20, 20, 400.0, 60.0, 0, 0.0, FRESH),
            (2, "older", "m", 0.5, 20, 20, 150.0, 120.0, 0, 0.0, minute_old),
        ]
    )
    for stale_after_s, state in ((300, "healthy"), (30, "stale")):
        ranked = rank(stats, NOW, settings=RoutingSettings(stale_after_s=stale_after_s))
        out = {r["provider"]: r for r in ranked.iter_rows(named=True)}
        assert out["older"]["state"] == state
        assert out["older"]["rank_throughput"] == 1  # the router ranks stale endpoints too
