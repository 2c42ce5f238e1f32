"""Pure: recent per-endpoint stats → a health state and a rank under each objective.

A deliberately simple view of "who is best now" for the console (plain statistics over the recent
window, each score adjusted by the success probability as in DESIGN §5); the router's decayed
statistics remain the authority for routing, and the routing page shows what it actually chose.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

OBJECTIVES = ("throughput", "latency", "e2e", "cost")
EXPECTED_OUTPUT_TOKENS = 256
OPEN_AFTER_FAILURES = 3
OPEN_ERROR_RATE = 0.5
DEGRADED_ERROR_RATE = 0.1
MIN_SAMPLES = 5

STATES = ("healthy", "degraded", "circuit open", "stale", "no data")


def health_state(
    n: int,
    error_rate: float | None,
    fail_streak: int,
    last_ts: datetime | None,
    now: datetime,
    stale_after_s: float,
    alert_firing: bool,
) -> str:
    """One of :data:`STATES` for an endpoint."""
    if last_ts is None:
        return "no data"
    if now - last_ts > timedelta(seconds=stale_after_s) or n == 0:
        return "stale"
    if fail_streak >= OPEN_AFTER_FAILURES or (
        n >= MIN_SAMPLES and (error_rate or 0.0) >= OPEN_ERROR_RATE
    ):
        return "circuit open"
    if alert_firing or (n >= MIN_SAMPLES and (error_rate or 0.0) >= DEGRADED_ERROR_RATE):
        return "degraded"
    return "healthy"


def score_expr(objective: str) -> pl.Expr:
    """The objective's score (lower is better) from the stats columns, success-adjusted."""
    success = (1.0 - pl.col("error_rate").fill_null(0.0)).clip(lower_bound=0.05)
    if objective == "throughput":
        return -pl.col("tps_p50") * success
    if objective == "latency":
        return pl.col("ttft_p50_ms") / success
    if objective == "e2e":
        decode_ms = EXPECTED_OUTPUT_TOKENS / pl.col("tps_p50") * 1000.0
        return (pl.col("ttft_p50_ms") + decode_ms) / success
    if objective == "cost":
        return pl.col("price_output_per_mtok") / success
    raise ValueError(f"unknown objective '{objective}': use one of {', '.join(OBJECTIVES)}")


def rank(
    stats: pl.DataFrame,
    now: datetime,
    *,
    stale_after_s: float,
    firing_endpoint_ids: set[int] | frozenset[int] = frozenset(),
) -> pl.DataFrame:
    """Add ``state`` and ``rank_<objective>`` (1 = best; null when not rankable: unhealthy or
    missing the metric) to each endpoint row of ``stats`` (from ``shape.recent_stats`` + last_ts)."""
    states = [
        health_state(
            row["n"],
            row["error_rate"],
            row["fail_streak"],
            row["last_ts"],
            now,
            stale_after_s,
            row["endpoint_id"] in firing_endpoint_ids,
        )
        for row in stats.iter_rows(named=True)
    ]
    out = stats.with_columns(pl.Series("state", states, dtype=pl.String))
    rankable = pl.col("state").is_in(["healthy", "degraded"])
    for objective in OBJECTIVES:
        score = pl.when(rankable).then(score_expr(objective)).otherwise(None)
        out = out.with_columns(score.alias(f"score_{objective}"))
        out = out.with_columns(
            pl.col(f"score_{objective}")
            .rank(method="ordinal")
            .over("model")
            .cast(pl.Int64)
            .alias(f"rank_{objective}")
        )
    return out
