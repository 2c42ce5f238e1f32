"""Pure: recent per-endpoint window statistics → a health state and a rank under each objective.

The ranking is the router's own (``signalbox.routing``: constraints, breaker state, scoring) with
the catalog's routing settings: each endpoint's window figures become a ``Candidate`` whose snapshot
is :meth:`EndpointSnapshot.point` of them (stale after the settings' ``stale_after_s``) and whose
circuit is open when ``routing.breaker.trip_reason`` says the router's breaker would open on the
window's failure streak and error rate. An endpoint with no observation in the window has no
figures and no rank. The router's decayed statistics remain the authority for routing; the routing
page shows what it actually chose.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from signalbox.catalog import RoutingSettings
from signalbox.routing.breaker import BreakerState, trip_reason
from signalbox.routing.objectives import OBJECTIVES, Objective
from signalbox.routing.scoring import PriceInfo, RequestShape
from signalbox.routing.select import Candidate
from signalbox.routing.select import rank as rank_candidates
from signalbox.stats import EndpointSnapshot

EXPECTED_OUTPUT_TOKENS = 256
DEGRADED_ERROR_RATE = 0.1  # shown as "degraded" (not a routing rule): worth a second look
DEFAULT_SETTINGS = RoutingSettings()

STATES = ("healthy", "degraded", "circuit open", "stale", "no data")


def circuit_open(settings: RoutingSettings, n: int, error_rate: float | None, streak: int) -> bool:
    """Whether the router's breaker would open on these window figures."""
    return trip_reason(settings.breaker, streak, error_rate or 0.0, n) is not None


def health_state(
    n: int,
    error_rate: float | None,
    fail_streak: int,
    last_ts: datetime | None,
    now: datetime,
    settings: RoutingSettings,
    alert_firing: bool,
) -> str:
    """One of :data:`STATES` for an endpoint."""
    if last_ts is None:
        return "no data"
    if now - last_ts > timedelta(seconds=settings.stale_after_s) or n == 0:
        return "stale"
    if circuit_open(settings, n, error_rate, fail_streak):
        return "circuit open"
    enough = n >= settings.breaker.min_samples
    if alert_firing or (enough and (error_rate or 0.0) >= DEGRADED_ERROR_RATE):
        return "degraded"
    return "healthy"


def _candidate(row: dict) -> Candidate:
    price = PriceInfo(
        row.get("price_input_per_mtok", row["price_output_per_mtok"]), row["price_output_per_mtok"]
    )
    snapshot = EndpointSnapshot.point(
        row["n"],
        row["error_rate"] or 0.0,
        row["ttft_p50_ms"],
        row["tps_p50"],
        stale=row["state"] == "stale",
    )
    opened = row["state"] == "circuit open"
    return Candidate(
        key=f"{row['provider']}/{row['model']}",
        provider=row["provider"],
        region=None,
        price=price,
        snapshot=snapshot,
        breaker=BreakerState.OPEN if opened else BreakerState.CLOSED,
    )


def scores(rows: list[dict], objective: str) -> list[float | None]:
    """Each row's score under ``objective`` (1.0 = best) from the router's ``rank`` over the rows
    of one model (each with the ``state`` :func:`health_state` gave it); None where the row is not
    ranked (no figures, circuit open) or has no data for the objective."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective '{objective}': use one of {', '.join(OBJECTIVES)}")
    candidates = [_candidate(r) for r in rows if r["n"] > 0]
    shape = RequestShape(output_tokens=EXPECTED_OUTPUT_TOKENS)
    model = rows[0]["model"] if rows else ""
    ranking = rank_candidates(model, candidates, Objective(objective), shape)
    by_key = {r.candidate.key: r.score for r in ranking.ranked}
    out: list[float | None] = []
    for r in rows:
        score = by_key.get(f"{r['provider']}/{r['model']}")
        out.append(score if score else None)
    return out


def rank(
    stats: pl.DataFrame,
    now: datetime,
    *,
    settings: RoutingSettings = DEFAULT_SETTINGS,
    firing_endpoint_ids: set[int] | frozenset[int] = frozenset(),
) -> pl.DataFrame:
    """Add ``state`` and ``rank_<objective>`` (1 = best; null when not ranked) to each endpoint
    row of ``stats`` (from ``shape.recent_stats`` + last_ts)."""
    states = [
        health_state(
            row["n"],
            row["error_rate"],
            row["fail_streak"],
            row["last_ts"],
            now,
            settings,
            row["endpoint_id"] in firing_endpoint_ids,
        )
        for row in stats.iter_rows(named=True)
    ]
    out = stats.with_columns(pl.Series("state", states, dtype=pl.String))
    rows = out.to_dicts()
    for objective in OBJECTIVES:
        column: list[float | None] = [None] * len(rows)
        for model in {r["model"] for r in rows}:
            idx = [i for i, r in enumerate(rows) if r["model"] == model]
            model_scores = scores([rows[i] for i in idx], objective)
            for i, score in zip(idx, model_scores, strict=True):
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
