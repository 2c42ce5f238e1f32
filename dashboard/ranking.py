"""Pure: recent per-endpoint stats → a health state and a rank under each objective.

Plain statistics over the recent window, scored by the router's own scoring
(``signalbox.stats.scoring``: success-adjusted, normalised so the best is 1.0). The router's decayed
statistics remain the authority for routing; the routing page shows what it actually chose.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from signalbox.routing.objectives import Objective
from signalbox.routing.scoring import PriceInfo, RequestShape, score_all
from signalbox.stats import EndpointSnapshot

OBJECTIVES = tuple(o.value for o in Objective)
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


def scores(rows: list[dict], objective: str) -> list[float | None]:
    """Each row's score under ``objective`` (1.0 = best, higher is better), computed by the same
    ``signalbox.stats.scoring`` the router ranks with; None where the row has no data for it."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective '{objective}': use one of {', '.join(OBJECTIVES)}")
    snaps = [
        EndpointSnapshot.point(r["n"], r["error_rate"] or 0.0, r["ttft_p50_ms"], r["tps_p50"])
        for r in rows
    ]
    prices = [
        PriceInfo(
            r.get("price_input_per_mtok", r["price_output_per_mtok"]), r["price_output_per_mtok"]
        )
        for r in rows
    ]
    shape = RequestShape(output_tokens=EXPECTED_OUTPUT_TOKENS)
    values = score_all(snaps, prices, Objective(objective), shape)
    return [v if v > 0 else None for v in values]


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
    rankable = out["state"].is_in(["healthy", "degraded"]).to_list()
    rows = out.to_dicts()
    for objective in OBJECTIVES:
        column: list[float | None] = [None] * len(rows)
        for model in {r["model"] for r in rows}:
            idx = [i for i, r in enumerate(rows) if r["model"] == model and rankable[i]]
            for i, score in zip(idx, scores([rows[i] for i in idx], objective), strict=True):
                column[i] = score
        out = out.with_columns(pl.Series(f"score_{objective}", column, dtype=pl.Float64))
        out = out.with_columns(
            pl.col(f"score_{objective}")
            .rank(method="ordinal", descending=True)
            .over("model")
            .cast(pl.Int64)
            .alias(f"rank_{objective}")
        )
    return out
