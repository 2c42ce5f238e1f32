"""Store → polars frames. Short windows read raw ``observation`` rows, long ones the rollups;
``shape`` turns what is read into what is drawn. Every function takes the engine and ``now``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Engine, Select, select

from signalbox.dashboard.shape import (
    ENDPOINT_SCHEMA,
    RAW_SCHEMA,
    ROLLUP_SCHEMA,
    TS,
    WINDOWS,
    recent_stats,
    series_from_raw,
    series_from_rollup,
)
from signalbox.dashboard.timespan import fitted_bucket
from signalbox.rollup import floor_ts
from signalbox.schema import (
    Alert,
    Decision,
    Endpoint,
    Observation,
    Observation1h,
    Observation1m,
    RouteDecision,
)
from signalbox.schema import Provider as ProviderRow

ALERT_SCHEMA = {
    "id": pl.Int64,
    "rule": pl.String,
    "endpoint_id": pl.Int64,
    "state": pl.String,
    "severity": pl.String,
    "started_at": TS,
    "firing_at": TS,
    "resolved_at": TS,
    "value": pl.Float64,
    "threshold": pl.Float64,
    "reason": pl.String,
    "route": pl.String,
}
ROUTE_ALERT_PROVIDER = "(route)"  # a route's alert has no endpoint: it names the route instead
DECISION_SCHEMA = {
    "ts": TS,
    "objective": pl.String,
    "endpoint_id": pl.Int64,
    "reason": pl.String,
}


def frame(engine: Engine, stmt: Select[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Run ``stmt`` and build a frame with exactly ``schema`` (also when no row comes back).

    Rows go through SQLAlchemy's column types, so timestamps arrive UTC-aware on both databases.
    """
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return pl.DataFrame(rows, schema=schema, orient="row")


def endpoints(engine: Engine) -> pl.DataFrame:
    """Every endpoint with its provider name, in provider-id order (the colour order)."""
    stmt = (
        select(
            Endpoint.id,
            ProviderRow.id,
            ProviderRow.name,
            Endpoint.model,
            Endpoint.price_input_per_mtok,
            Endpoint.price_output_per_mtok,
            Endpoint.enabled,
        )
        .join(ProviderRow, ProviderRow.id == Endpoint.provider_id)
        .order_by(ProviderRow.id, Endpoint.id)
    )
    return frame(engine, stmt, ENDPOINT_SCHEMA)


def provider_names(engine: Engine) -> list[str]:
    """Provider names in id order, for :func:`dashboard.colors.provider_colors`."""
    with engine.connect() as conn:
        return list(conn.execute(select(ProviderRow.name).order_by(ProviderRow.id)).scalars())


def model_names(eps: pl.DataFrame) -> list[str]:
    """Canonical model names with at least one enabled endpoint, sorted."""
    return sorted(eps.filter(pl.col("enabled"))["model"].unique().to_list())


def _raw(ids: Sequence[int], since: datetime, source: str | None) -> Select[Any]:
    cols = [getattr(Observation, name) for name in RAW_SCHEMA]
    stmt = select(*cols).where(Observation.endpoint_id.in_(list(ids)), Observation.ts >= since)
    if source in ("probe", "traffic"):
        stmt = stmt.where(Observation.source == source)
    return stmt


def _rollup(table: type, ids: Sequence[int], since: datetime, source: str | None) -> Select[Any]:
    cols = [getattr(table, name) for name in ROLLUP_SCHEMA]
    stmt = select(*cols).where(table.endpoint_id.in_(list(ids)), table.bucket >= since)
    if source in ("probe", "traffic"):
        stmt = stmt.where(table.source == source)
    return stmt


@dataclass(frozen=True, slots=True)
class Series:
    """A model's chart rows over a window, the bucket they use (fitted to the data's span) and
    the first data's time (None: no data)."""

    frame: pl.DataFrame
    bucket: timedelta
    first: datetime | None


def series(
    engine: Engine, eps: pl.DataFrame, model: str, window: str, source: str, now: datetime
) -> Series:
    """One row per (provider, bucket) for ``model`` over ``window`` (a key of ``WINDOWS``), in
    buckets that fit the span the data covers."""
    win = WINDOWS[window]
    model_eps = eps.filter(pl.col("model") == model)
    ids = model_eps["endpoint_id"].to_list()
    since = floor_ts(now - win.span, win.bucket)
    if win.table == "raw":
        raw = frame(engine, _raw(ids, since, source), RAW_SCHEMA)
        first = raw["ts"].min() if raw.height else None
        bucket = fitted_bucket(first, now, win.finest, win.bucket)
        return Series(series_from_raw(raw, model_eps, bucket), bucket, first)
    table = Observation1m if win.table == "1m" else Observation1h
    rows = frame(engine, _rollup(table, ids, since, source), ROLLUP_SCHEMA)
    first = rows["bucket"].min() if rows.height else None
    bucket = fitted_bucket(first, now, win.finest, win.bucket)
    return Series(series_from_rollup(rows, model_eps, bucket), bucket, first)


def last_seen(engine: Engine) -> pl.DataFrame:
    """Newest observation time per endpoint (one index probe each, never a scan)."""
    newest = (
        select(Observation.ts)
        .where(Observation.endpoint_id == Endpoint.id)
        .order_by(Observation.ts.desc())
        .limit(1)
        .scalar_subquery()
    )
    stmt = select(Endpoint.id, newest)
    return frame(engine, stmt, {"endpoint_id": pl.Int64, "last_ts": TS})


def overview(engine: Engine, eps: pl.DataFrame, now: datetime, recent_s: float) -> dict[str, Any]:
    """What the overview draws: per-endpoint recent stats with their last-seen time, and the
    last hour per provider for every model (per minute; finer when the data covers less)."""
    enabled = eps.filter(pl.col("enabled"))
    ids = enabled["endpoint_id"].to_list()
    hour = frame(
        engine,
        _raw(ids, floor_ts(now - timedelta(hours=1), timedelta(minutes=1)), None),
        RAW_SCHEMA,
    )
    recent = hour.filter(pl.col("ts") >= now - timedelta(seconds=recent_s))
    stats = recent_stats(recent, enabled).join(last_seen(engine), on="endpoint_id", how="left")
    first = hour["ts"].min() if hour.height else None
    bucket = fitted_bucket(first, now, timedelta(seconds=10), timedelta(minutes=1))
    trends = {
        model: series_from_raw(
            hour.filter(pl.col("endpoint_id").is_in(group["endpoint_id"].to_list())),
            group,
            bucket,
        )
        for (model,), group in enabled.group_by("model")
    }
    return {"stats": stats, "trends": trends, "trend_first": first, "trend_bucket": bucket}


def _alerts(engine: Engine, stmt: Select[Any], eps: pl.DataFrame) -> pl.DataFrame:
    rows = frame(engine, stmt, ALERT_SCHEMA)
    rows = rows.join(eps.select("endpoint_id", "provider", "model"), on="endpoint_id", how="left")
    on_route = pl.col("route").is_not_null()
    return rows.with_columns(
        pl.when(on_route)
        .then(pl.lit(ROUTE_ALERT_PROVIDER))
        .otherwise("provider")
        .alias("provider"),
        pl.when(on_route).then("route").otherwise("model").alias("model"),
    )


def firing_alerts(engine: Engine, eps: pl.DataFrame) -> pl.DataFrame:
    """Alerts firing now, oldest first, with provider and model names."""
    cols = [getattr(Alert, name) for name in ALERT_SCHEMA]
    stmt = select(*cols).where(Alert.state == "firing").order_by(Alert.firing_at)
    return _alerts(engine, stmt, eps)


def alert_history(
    engine: Engine, eps: pl.DataFrame, now: datetime, days: float = 30, limit: int = 500
) -> pl.DataFrame:
    """Alerts that fired (and may have resolved) in the last ``days``, newest first."""
    cols = [getattr(Alert, name) for name in ALERT_SCHEMA]
    since = now - timedelta(days=days)
    stmt = (
        select(*cols)
        .where(
            Alert.state.in_(["firing", "resolved"]),
            Alert.firing_at.is_not(None),  # a pending alert that cleared never fired
            Alert.started_at >= since,
        )
        .order_by(Alert.started_at.desc())
        .limit(limit)
    )
    return _alerts(engine, stmt, eps)


def decisions(
    engine: Engine, eps: pl.DataFrame, model: str, since: datetime, limit: int = 50_000
) -> pl.DataFrame:
    """Sampled routing decisions for ``model`` since ``since`` with the chosen provider's name
    (``(none)`` when nothing qualified)."""
    cols = [getattr(Decision, name) for name in DECISION_SCHEMA]
    stmt = (
        select(*cols)
        .where(Decision.model == model, Decision.ts >= since)
        .order_by(Decision.ts.desc())
        .limit(limit)
    )
    rows = frame(engine, stmt, DECISION_SCHEMA)
    return rows.join(
        eps.select("endpoint_id", "provider"), on="endpoint_id", how="left"
    ).with_columns(pl.col("provider").fill_null("(none)"))


ROUTE_DECISION_SCHEMA = {
    "ts": TS,
    "route": pl.String,
    "objective": pl.String,
    "path": pl.String,  # the models tried, "small → large"
    "trigger": pl.String,
    "trigger_detail": pl.String,
    "final_model": pl.String,
    "final_provider": pl.String,
    "outcome": pl.String,
    "cost_usd": pl.Float64,
    "latency_ms": pl.Float64,
    "ttft_ms": pl.Float64,
    "stream": pl.Boolean,
}


def route_names(engine: Engine, since: datetime) -> list[str]:
    """The routes that decided anything since ``since``, by name."""
    stmt = select(RouteDecision.route).where(RouteDecision.ts >= since).distinct()
    with engine.connect() as conn:
        return sorted(r for (r,) in conn.execute(stmt))


def route_decisions(
    engine: Engine, since: datetime, route: str | None = None, limit: int = 100_000
) -> pl.DataFrame:
    """Routed requests since ``since`` (of one route, or all), newest first, the path of models
    tried joined with arrows."""
    cols = [getattr(RouteDecision, name) for name in ROUTE_DECISION_SCHEMA]
    stmt = select(*cols).where(RouteDecision.ts >= since)
    if route is not None:
        stmt = stmt.where(RouteDecision.route == route)
    stmt = stmt.order_by(RouteDecision.ts.desc()).limit(limit)
    with engine.connect() as conn:
        rows = [
            {**row._mapping, "path": " → ".join(str(m) for m in row.path or [])}
            for row in conn.execute(stmt)
        ]
    return pl.DataFrame(rows, schema=ROUTE_DECISION_SCHEMA, orient="row")
