"""Shaping raw and rollup rows into per-provider series, and recent per-endpoint stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from signalbox.dashboard.shape import (
    ENDPOINT_SCHEMA,
    RAW_SCHEMA,
    ROLLUP_SCHEMA,
    recent_stats,
    series_from_raw,
    series_from_rollup,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def _eps() -> pl.DataFrame:
    return pl.DataFrame(
        [(1, 1, "alpha", "m", 0.1, 0.2, True), (2, 2, "bravo", "m", 0.1, 0.3, True)],
        schema=ENDPOINT_SCHEMA,
        orient="row",
    )


def _raw(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=RAW_SCHEMA, orient="row")


def test_raw_series_has_exact_percentiles_per_provider_and_bucket() -> None:
    raw = _raw(
        [
            (1, T0 + timedelta(seconds=s), "probe", True, float(ttft), 10.0 * k, 100, 0.001)
            for k, (s, ttft) in enumerate([(1, 100), (2, 200), (3, 300), (4, 400), (5, 500)], 1)
        ]
        + [(2, T0 + MIN, "traffic", False, None, None, 0, None)]
    )
    out = series_from_raw(raw, _eps(), MIN)
    alpha = out.filter(pl.col("provider") == "alpha").row(0, named=True)
    assert (alpha["n"], alpha["ok_n"], alpha["bucket"]) == (5, 5, T0)
    assert alpha["ttft_p50_ms"] == pytest.approx(300.0)
    assert alpha["ttft_p90_ms"] == pytest.approx(460.0)
    assert alpha["tps_p50"] == pytest.approx(30.0)
    assert alpha["cost_per_mtok_out"] == pytest.approx(0.005 / 500 * 1e6)
    bravo = out.filter(pl.col("provider") == "bravo").row(0, named=True)
    assert (bravo["error_rate"], bravo["cost_per_mtok_out"]) == (1.0, None)


def test_rollup_series_adds_counts_and_weights_quantiles_by_ok_count() -> None:
    rows = pl.DataFrame(
        [
            (1, T0, "probe", 10, 10, 100.0, 150.0, 50.0, 1000, 0.01),
            (1, T0 + MIN, "probe", 30, 30, 200.0, 250.0, 70.0, 3000, 0.03),
            (1, T0 + MIN, "traffic", 5, 0, None, None, None, 0, 0.0),
        ],
        schema=ROLLUP_SCHEMA,
        orient="row",
    )
    (row,) = series_from_rollup(rows, _eps(), timedelta(minutes=10)).iter_rows(named=True)
    assert (row["n"], row["ok_n"]) == (45, 40)
    assert row["ttft_p50_ms"] == pytest.approx((100 * 10 + 200 * 30) / 40)
    assert row["tps_p50"] == pytest.approx((50 * 10 + 70 * 30) / 40)
    assert row["error_rate"] == pytest.approx(5 / 45)
    assert row["cost_per_mtok_out"] == pytest.approx(0.04 / 4000 * 1e6)


def test_rolling_error_rate_sums_failures_over_recent_buckets() -> None:
    # given one failure in the first of eight one-minute buckets of two requests each
    raw = _raw(
        [
            (
                1,
                T0 + i * MIN + timedelta(seconds=j),
                "probe",
                not (i == 0 and j == 0),
                1.0,
                1.0,
                1,
                0.0,
            )
            for i in range(8)
            for j in range(2)
        ]
    )
    out = series_from_raw(raw, _eps(), MIN)
    # then the rolling rate (6 one-minute buckets) counts the failure while it is in the window,
    # and is left empty while the window holds fewer than 3 requests
    assert out["error_rate"].to_list() == [0.5] + [0.0] * 7
    rolling = out["error_rate_rolling"].to_list()
    assert rolling[0] is None
    assert rolling[1:] == pytest.approx([1 / 4, 1 / 6, 1 / 8, 1 / 10, 1 / 12, 0.0, 0.0])


def test_empty_frames_shape_to_empty_series() -> None:
    assert series_from_raw(_raw([]), _eps(), MIN).is_empty()
    assert series_from_rollup(pl.DataFrame(schema=ROLLUP_SCHEMA), _eps(), MIN).is_empty()


def test_recent_stats_counts_trailing_failures_and_keeps_silent_endpoints() -> None:
    raw = _raw(
        [
            (1, T0 + timedelta(seconds=s), "probe", ok, 100.0, 50.0, 10, 0.0)
            for s, ok in [(1, True), (2, False), (3, True), (4, False), (5, False)]
        ]
    )
    stats = {r["provider"]: r for r in recent_stats(raw, _eps()).iter_rows(named=True)}
    assert (stats["alpha"]["n"], stats["alpha"]["fail_streak"]) == (5, 2)
    assert stats["alpha"]["error_rate"] == pytest.approx(0.6)
    assert (stats["bravo"]["n"], stats["bravo"]["error_rate"]) == (0, None)


def test_recent_stats_all_failures_is_a_full_streak() -> None:
    raw = _raw(
        [(1, T0 + timedelta(seconds=s), "probe", False, None, None, 0, None) for s in range(4)]
    )
    stats = recent_stats(raw, _eps()).filter(pl.col("provider") == "alpha").row(0, named=True)
    assert stats["fail_streak"] == 4
