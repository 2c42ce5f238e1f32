"""Pure polars shaping: raw rows or rollup rows → one row per (provider, time bucket) with the
figures the charts draw. No I/O, so each rule is tested on small hand-made frames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

TS = pl.Datetime("us", "UTC")

RAW_SCHEMA = {
    "endpoint_id": pl.Int64,
    "ts": TS,
    "source": pl.String,
    "ok": pl.Boolean,
    "ttft_ms": pl.Float64,
    "tps": pl.Float64,
    "output_tokens": pl.Int64,
    "cost_usd": pl.Float64,
}
ROLLUP_SCHEMA = {
    "endpoint_id": pl.Int64,
    "bucket": TS,
    "source": pl.String,
    "n": pl.Int64,
    "ok_n": pl.Int64,
    "ttft_p50_ms": pl.Float64,
    "ttft_p90_ms": pl.Float64,
    "tps_p50": pl.Float64,
    "output_tokens": pl.Int64,
    "cost_usd": pl.Float64,
}
ENDPOINT_SCHEMA = {
    "endpoint_id": pl.Int64,
    "provider_id": pl.Int64,
    "provider": pl.String,
    "model": pl.String,
    "price_input_per_mtok": pl.Float64,
    "price_output_per_mtok": pl.Float64,
    "enabled": pl.Boolean,
}
SERIES_SCHEMA = {
    "provider": pl.String,
    "bucket": TS,
    "n": pl.Int64,
    "ok_n": pl.Int64,
    "error_rate": pl.Float64,
    "ttft_p50_ms": pl.Float64,
    "ttft_p90_ms": pl.Float64,
    "tps_p50": pl.Float64,
    "cost_per_mtok_out": pl.Float64,
    "error_rate_rolling": pl.Float64,
}
ROLLING_BUCKETS = 6  # the error-rate chart sums this many buckets, so a few samples don't spike
ROLLING_MIN_SPAN = timedelta(
    minutes=5
)  # ...and at least this long: probes come about once a minute
ROLLING_MIN_SAMPLES = 3  # below this many requests in the rolling window, no rate is drawn


def rolling_span(bucket: timedelta) -> timedelta:
    """How far back the error-rate chart sums, for buckets of ``bucket``."""
    return max(bucket * ROLLING_BUCKETS, ROLLING_MIN_SPAN)


@dataclass(frozen=True, slots=True)
class Window:
    """A chart window: how far back, which table it reads and the bucket it draws when data
    covers it; less data gets finer buckets, down to what the table holds (``finest``)."""

    key: str
    label: str
    span: timedelta
    table: str  # "raw", "1m" or "1h"
    bucket: timedelta
    finest: timedelta


_RAW, _MINUTE, _HOUR = timedelta(seconds=10), timedelta(minutes=1), timedelta(hours=1)
WINDOWS: dict[str, Window] = {
    w.key: w
    for w in (
        Window("15m", "15 min", timedelta(minutes=15), "raw", timedelta(seconds=30), _RAW),
        Window("1h", "1 hour", timedelta(hours=1), "raw", timedelta(minutes=1), _RAW),
        Window("24h", "24 hours", timedelta(hours=24), "1m", timedelta(minutes=10), _MINUTE),
        Window("7d", "7 days", timedelta(days=7), "1h", timedelta(hours=1), _HOUR),
        Window("30d", "30 days", timedelta(days=30), "1h", timedelta(hours=4), _HOUR),
    )
}
DEFAULT_WINDOW = "1h"
SOURCES = ("both", "probe", "traffic")


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with that schema."""
    return pl.DataFrame(schema=schema)


def _every(bucket: timedelta) -> str:
    return f"{int(bucket.total_seconds())}s"


def _finish(frame: pl.DataFrame, endpoints: pl.DataFrame, bucket: timedelta) -> pl.DataFrame:
    """Name the provider, derive error rates and cost per million output tokens, order for
    drawing. ``error_rate_rolling`` is failures over requests in the last :func:`rolling_span`
    (time-based, so gaps do not stretch it), left empty under ``ROLLING_MIN_SAMPLES``."""
    window = _every(rolling_span(bucket))
    return (
        frame.join(endpoints.select("endpoint_id", "provider"), on="endpoint_id", how="inner")
        .sort("provider", "bucket")
        .with_columns(
            (pl.col("n") - pl.col("ok_n"))
            .cast(pl.Float64)
            .rolling_sum_by("bucket", window)
            .over("provider")
            .alias("_fails"),
            pl.col("n")
            .cast(pl.Float64)
            .rolling_sum_by("bucket", window)
            .over("provider")
            .alias("_n"),
        )
        .with_columns(
            pl.when(pl.col("_n") >= ROLLING_MIN_SAMPLES)
            .then(pl.col("_fails") / pl.col("_n"))
            .otherwise(None)
            .alias("error_rate_rolling")
        )
        .with_columns(
            (1.0 - pl.col("ok_n") / pl.col("n")).alias("error_rate"),
            pl.when(pl.col("output_tokens") > 0)
            .then(pl.col("cost_usd") / pl.col("output_tokens") * 1e6)
            .otherwise(None)
            .alias("cost_per_mtok_out"),
        )
        .select(list(SERIES_SCHEMA))
        .cast(SERIES_SCHEMA)
        .sort("provider", "bucket")
    )


def series_from_raw(raw: pl.DataFrame, endpoints: pl.DataFrame, bucket: timedelta) -> pl.DataFrame:
    """Raw observations → exact per-bucket percentiles per provider (every source given)."""
    if raw.is_empty():
        return empty(SERIES_SCHEMA)
    grouped = (
        raw.with_columns(pl.col("ts").dt.truncate(_every(bucket)).alias("bucket"))
        .group_by("endpoint_id", "bucket")
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("ok").cast(pl.Int64).sum().alias("ok_n"),
            pl.col("ttft_ms")
            .drop_nulls()
            .quantile(0.5, interpolation="linear")
            .alias("ttft_p50_ms"),
            pl.col("ttft_ms")
            .drop_nulls()
            .quantile(0.9, interpolation="linear")
            .alias("ttft_p90_ms"),
            pl.col("tps").drop_nulls().quantile(0.5, interpolation="linear").alias("tps_p50"),
            pl.col("output_tokens").fill_null(0).sum().cast(pl.Int64).alias("output_tokens"),
            pl.col("cost_usd").fill_null(0.0).sum().alias("cost_usd"),
        )
    )
    return _finish(grouped, endpoints, bucket)


def _weighted(col: str) -> pl.Expr:
    """Mean of a per-bucket quantile weighted by its bucket's ok count, ignoring empty buckets."""
    has = pl.col(col).is_not_null()
    weight = pl.when(has).then(pl.col("ok_n")).otherwise(0)
    total = weight.sum()
    return (
        pl.when(total > 0)
        .then((pl.col(col).fill_null(0.0) * weight).sum() / total)
        .otherwise(None)
        .alias(col)
    )


def series_from_rollup(
    rollup: pl.DataFrame, endpoints: pl.DataFrame, bucket: timedelta
) -> pl.DataFrame:
    """Rollup rows → coarser buckets per provider. Counts and sums add up exactly; a quantile of
    merged buckets is approximated by the ok-weighted mean of the buckets' quantiles."""
    if rollup.is_empty():
        return empty(SERIES_SCHEMA)
    grouped = (
        rollup.with_columns(pl.col("bucket").dt.truncate(_every(bucket)))
        .group_by("endpoint_id", "bucket")
        .agg(
            pl.col("n").sum().cast(pl.Int64),
            pl.col("ok_n").sum().cast(pl.Int64),
            _weighted("ttft_p50_ms"),
            # the mean of minute p90s underestimates when minutes hold a sample or two (then each
            # p50 is a sample): take the larger of it and the p90 of the minute p50s
            pl.max_horizontal(
                _weighted("ttft_p90_ms"),
                pl.col("ttft_p50_ms").drop_nulls().quantile(0.9, interpolation="linear"),
            ).alias("ttft_p90_ms"),
            _weighted("tps_p50"),
            pl.col("output_tokens").sum().cast(pl.Int64),
            pl.col("cost_usd").sum(),
        )
    )
    return _finish(grouped, endpoints, bucket)


def recent_stats(raw: pl.DataFrame, endpoints: pl.DataFrame) -> pl.DataFrame:
    """Per endpoint over the given raw rows: samples, error rate, TTFT and tps p50 and the count of
    consecutive failures at the end (for the circuit state)."""
    base = endpoints.select(
        "endpoint_id", "provider", "model", "price_input_per_mtok", "price_output_per_mtok"
    )
    if raw.is_empty():
        stats = pl.DataFrame(
            schema={
                "endpoint_id": pl.Int64,
                "n": pl.Int64,
                "ok_n": pl.Int64,
                "ttft_p50_ms": pl.Float64,
                "tps_p50": pl.Float64,
                "fail_streak": pl.Int64,
            }
        )
    else:
        stats = (
            raw.sort("ts")
            .group_by("endpoint_id")
            .agg(
                pl.len().cast(pl.Int64).alias("n"),
                pl.col("ok").cast(pl.Int64).sum().alias("ok_n"),
                pl.col("ttft_ms").drop_nulls().median().alias("ttft_p50_ms"),
                pl.col("tps").drop_nulls().median().alias("tps_p50"),
                # failures after the last success: the first True of the reversed column
                pl.col("ok").reverse().arg_max().cast(pl.Int64).alias("_rev"),
                pl.col("ok").any().alias("_any_ok"),
            )
            .with_columns(
                pl.when(pl.col("_any_ok"))
                .then(pl.col("_rev"))
                .otherwise(pl.col("n"))
                .alias("fail_streak")
            )
            .drop("_rev", "_any_ok")
        )
    return base.join(stats, on="endpoint_id", how="left").with_columns(
        pl.col("n").fill_null(0),
        pl.col("ok_n").fill_null(0),
        pl.col("fail_streak").fill_null(0),
        pl.when(pl.col("n") > 0)
        .then(1.0 - pl.col("ok_n") / pl.col("n"))
        .otherwise(None)
        .alias("error_rate"),
    )
