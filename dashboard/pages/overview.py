"""Overview: firing alerts on top; per model, its providers ranked now under each objective, their
health state and the last hour's tokens/sec; one click to the model's day of tokens/sec."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import dash
import polars as pl
from dash import ALL, Input, Output, State, dcc, html

from signalbox.dashboard import demo_controls, ids, queries
from signalbox.dashboard.colors import colors_for_endpoints
from signalbox.dashboard.components import Best, fmt, provider_cell, state_badge, table
from signalbox.dashboard.context import DashContext
from signalbox.dashboard.figures import format_duration, message_figure, sparkline
from signalbox.dashboard.notices import EMPTY_STORE, describe_failure, notice
from signalbox.dashboard.ranking import rank
from signalbox.dashboard.timespan import fitted_range
from signalbox.routing.objectives import OBJECTIVES

PATH = "/"
NAME = "Overview"


def model_link(model: str, window: str = "24h", label: str | None = None) -> dcc.Link:
    """A link to the model page showing tokens/sec of every provider over ``window``."""
    href = "/model?" + urlencode({"model": model, "window": window, "source": "both"})
    return dcc.Link(
        label or "tokens/sec of every provider over the last day →", href=href, className="action"
    )


def _card(model: str) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.H3(model, style={"display": "inline-block", "marginRight": "16px"}),
                    model_link(model),
                ],
            ),
            html.Div(
                [
                    html.Div(id={"type": ids.OV_TABLE, "model": model}, className="tablebox"),
                    dcc.Graph(
                        id={"type": ids.OV_SPARK, "model": model},
                        figure=message_figure("loading…", height=170),
                        config={"displayModeBar": False},
                    ),
                ],
                className="model-row",
            ),
        ],
        className="card",
    )


def _models(ctx: DashContext) -> list[str]:
    return queries.model_names(queries.endpoints(ctx.engine))


def layout(ctx: DashContext, query: dict[str, str]) -> html.Div:
    """The page; model cards are built for the models the store has now."""
    try:
        eps = queries.endpoints(ctx.engine)
        models = queries.model_names(eps)
        providers = sorted(eps.filter(pl.col("enabled"))["provider"].unique().to_list())
    except Exception as exc:  # shown, not raised: the refresh rebuilds the cards later
        models, providers = [], []
        status = notice(describe_failure(exc, "the overview"), "error")
    else:
        status = notice(EMPTY_STORE, "info") if not models else None
    return html.Div(
        [
            html.Div(status, id=ids.OVERVIEW_STATUS),
            html.Div(id=ids.OVERVIEW_ALERTS),
            dcc.Store(id=ids.OVERVIEW_RENDERED, data=models),
            html.Div([_card(m) for m in models], id=ids.OVERVIEW_MODELS),
            demo_controls.card(providers) if ctx.simulator_url else None,
        ]
    )


def alerts_banner(firing: pl.DataFrame, now: Any) -> html.Div | None:
    """The firing alerts, one line each, or nothing."""
    if firing.is_empty():
        return None
    lines = []
    for row in firing.iter_rows(named=True):
        since = row["firing_at"] or row["started_at"]
        lines.append(
            html.Li(
                f"{row['severity'].upper()} · {row['rule']} on {row['provider']}/{row['model']}"
                f" — firing for {format_duration((now - since).total_seconds())}"
                + (f" · {row['reason']}" if row["reason"] else "")
            )
        )
    return html.Div(
        [
            html.Strong(f"{len(lines)} alert(s) firing"),
            html.Ul(lines, style={"margin": "4px 0"}),
            dcc.Link("all alerts →", href="/alerts", className="action"),
        ],
        className="card alert-banner",
    )


def _rank_cell(rank: int | None) -> str:
    if rank is None:
        return "—"
    return Best("#1") if rank == 1 else f"#{rank}"


def ranking_table(
    ranked: pl.DataFrame, colors: dict[str, str], now: Any, recent_s: float
) -> html.Table:
    """Providers of one model, best throughput first, with their state and rank per objective."""
    rows = []
    for r in ranked.sort("rank_throughput", "provider", nulls_last=True).iter_rows(named=True):
        age = format_duration((now - r["last_ts"]).total_seconds()) if r["last_ts"] else "never"
        rows.append(
            [
                provider_cell(r["provider"], colors),
                state_badge(r["state"]),
                fmt(r["ttft_p50_ms"], "{:.0f}"),
                fmt(r["tps_p50"], "{:.1f}"),
                fmt(r["error_rate"], "{:.1%}"),
                fmt(r["price_output_per_mtok"], "${:.2f}"),
                str(r["n"]),
                age,
                *[_rank_cell(r[f"rank_{o}"]) for o in OBJECTIVES],
            ]
        )
    window = format_duration(recent_s)
    headers = [
        "provider",
        "state",
        "TTFT p50 (ms)",
        "tok/s p50",
        "errors",
        "$ per 1M out",
        f"samples ({window})",
        "last seen",
        *[f"rank: {o}" for o in OBJECTIVES],
    ]
    return table(headers, rows, numeric=range(2, len(headers)))


def register(app: dash.Dash, ctx: DashContext) -> None:
    """The overview's callbacks on ``app``."""

    @app.callback(
        Output(ids.OVERVIEW_MODELS, "children"),
        Output(ids.OVERVIEW_RENDERED, "data"),
        Input(ids.REFRESH, "n_intervals"),
        State(ids.OVERVIEW_RENDERED, "data"),
        prevent_initial_call=True,
    )
    def _rebuild_cards(_n: int, rendered: list[str] | None) -> tuple[Any, Any]:
        try:
            models = _models(ctx)
        except Exception:
            return dash.no_update, dash.no_update
        if models == (rendered or []):
            return dash.no_update, dash.no_update
        return [_card(m) for m in models], models

    @app.callback(
        Output(ids.OVERVIEW_STATUS, "children"),
        Output(ids.OVERVIEW_ALERTS, "children"),
        Output({"type": ids.OV_TABLE, "model": ALL}, "children"),
        Output({"type": ids.OV_SPARK, "model": ALL}, "figure"),
        Input(ids.REFRESH, "n_intervals"),
        Input(ids.OVERVIEW_RENDERED, "data"),
    )
    def _refresh(_n: int, _rendered: Any) -> tuple[Any, Any, list, list]:
        models = [o["id"]["model"] for o in dash.ctx.outputs_list[2]]
        return refresh(ctx, models)


def refresh(ctx: DashContext, models: list[str]) -> tuple[Any, Any, list, list]:
    """Status, alert banner, ranking tables and sparklines for the rendered ``models``."""
    now = ctx.now()
    try:
        eps = queries.endpoints(ctx.engine)
        if eps.is_empty():
            return (
                notice(EMPTY_STORE),
                None,
                [None] * len(models),
                [message_figure("no data", height=170)] * len(models),
            )
        colors = colors_for_endpoints(zip(eps["provider_id"], eps["provider"], strict=True))
        firing = queries.firing_alerts(ctx.engine, eps)
        data = queries.overview(ctx.engine, eps, now, ctx.recent_s)
    except Exception as exc:
        message = describe_failure(exc, "the overview")
        blank = message_figure("unavailable", height=170)
        return notice(message, "error"), None, [None] * len(models), [blank] * len(models)
    ranked = rank(
        data["stats"],
        now,
        settings=ctx.routing,
        firing_endpoint_ids=set(firing["endpoint_id"].to_list()),
    )
    first, bucket = data["trend_first"], data["trend_bucket"]
    trend_range = fitted_range((now - timedelta(hours=1), now), first, bucket)
    trend_title = "tokens/s p50, last hour"
    if trend_range[0] > now - timedelta(hours=1):
        trend_title = f"tokens/s p50 since {trend_range[0]:%H:%M} UTC (all data so far)"
    tables, sparks = [], []
    for model in models:
        part = ranked.filter(pl.col("model") == model)
        tables.append(
            ranking_table(part, colors, now, ctx.recent_s)
            if not part.is_empty()
            else notice("this model has no enabled endpoint", "warn")
        )
        trend = data["trends"].get(model)
        sparks.append(
            sparkline(trend, colors, trend_range, trend_title)
            if trend is not None
            else message_figure("no observations in the last hour", height=170)
        )
    window = format_duration(ctx.recent_s)
    status = html.Div(
        f"Ranked on the last {window} of observations at {now:%H:%M:%S} UTC; "
        f"refreshes every {ctx.refresh_s:.0f}s.",
        style={"color": "#666", "fontSize": "13px", "marginBottom": "8px"},
    )
    return status, alerts_banner(firing, now), tables, sparks
