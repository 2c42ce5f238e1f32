"""Routes page: routing across models (``/routes?route=R&window=24h``). How often each route
escalates and what a successful request costs over time, the share of requests per path of
models, the triggers that escalate most, and the latest routed requests with why — so the
expensive path does not quietly become the default."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
import polars as pl
from dash import Input, Output, dcc, html

from signalbox.dashboard import ids, queries
from signalbox.dashboard.components import fmt, fmt_ts, radios, table
from signalbox.dashboard.context import DashContext
from signalbox.dashboard.figures import format_duration, message_figure
from signalbox.dashboard.notices import describe_failure, notice
from signalbox.dashboard.route_figures import (
    COST_TITLE,
    ESCALATION_TITLE,
    PATHS_TITLE,
    TRIGGERS_TITLE,
    cost_figure,
    escalation_figure,
    paths_figure,
    per_bucket,
    triggers_figure,
)
from signalbox.dashboard.timespan import (
    DECISION_FINEST_BUCKET,
    DECISION_WINDOW_LABELS,
    DECISION_WINDOWS,
    fitted_bucket,
    fitted_range,
)

PATH = "/routes"
NAME = "Routes"
ALL = "(all routes)"
WINDOWS, LABELS, FINEST_BUCKET = DECISION_WINDOWS, DECISION_WINDOW_LABELS, DECISION_FINEST_BUCKET
RECENT = 20
TITLES = (ESCALATION_TITLE, COST_TITLE, PATHS_TITLE, TRIGGERS_TITLE)
NO_ROUTES = (
    "No routed request yet. Define a [[route]] in the catalog (a default model, the models to "
    "escalate to and the triggers) and call it as the model; this page fills in on its own."
)


def _routes(ctx: DashContext) -> list[str]:
    return queries.route_names(ctx.engine, ctx.now() - WINDOWS["7d"][0])


def layout(ctx: DashContext, query: dict[str, str]) -> html.Div:
    """Controls from the URL, the four charts and the latest routed requests."""
    try:
        routes = _routes(ctx)
        status = None if routes else notice(NO_ROUTES)
    except Exception as exc:
        routes, status = [], notice(describe_failure(exc, "the routes"), "error")
    route = query.get("route") if query.get("route") in routes else ALL
    window = query.get("window") if query.get("window") in WINDOWS else "24h"
    controls = html.Div(
        [
            html.Div(
                [
                    html.Label("Route", className="head"),
                    dcc.Dropdown(
                        id=ids.ROUTES_ROUTE,
                        options=[{"label": r, "value": r} for r in [ALL, *routes]],
                        value=route,
                        clearable=False,
                        style={"width": "240px", "display": "inline-block"},
                    ),
                ]
            ),
            radios(ids.ROUTES_WINDOW, "Window", list(LABELS.items()), window),
        ],
        className="controls card",
    )
    loading = message_figure("loading…")
    graphs = html.Div(
        [
            html.Div(dcc.Graph(id=graph_id, figure=loading), className="card")
            for graph_id in ids.ROUTES_GRAPHS
        ],
        className="graphs",
    )
    recent = html.Div(
        [html.H3("Latest routed requests"), html.Div(id=ids.ROUTES_RECENT)], className="card"
    )
    return html.Div([controls, html.Div(status, id=ids.ROUTES_STATUS), graphs, recent])


def register(app: dash.Dash, ctx: DashContext) -> None:
    """The routes page's callbacks on ``app``."""

    @app.callback(
        Output(ids.URL, "search", allow_duplicate=True),
        Input(ids.ROUTES_ROUTE, "value"),
        Input(ids.ROUTES_WINDOW, "value"),
        prevent_initial_call=True,
    )
    def _to_url(route: str | None, window: str) -> str:
        params = {"route": route if route != ALL else None, "window": window}
        return "?" + urlencode({k: v for k, v in params.items() if v})

    @app.callback(
        Output(ids.ROUTES_STATUS, "children"),
        *[Output(graph_id, "figure") for graph_id in ids.ROUTES_GRAPHS],
        Output(ids.ROUTES_RECENT, "children"),
        Input(ids.ROUTES_ROUTE, "value"),
        Input(ids.ROUTES_WINDOW, "value"),
        Input(ids.REFRESH, "n_intervals"),
    )
    def _refresh(route: str | None, window: str, _n: int) -> tuple[Any, ...]:
        return refresh(ctx, route, window)


def _why(row: dict[str, Any]) -> str:
    if row["trigger"] is None:
        return "no trigger: the default answered" if row["outcome"] != "failed" else "—"
    return f"{row['trigger']}: {row['trigger_detail']}" if row["trigger_detail"] else row["trigger"]


def recent_table(decisions: pl.DataFrame) -> html.Table | html.Div:
    """The latest routed requests: when, which route, the models tried, why it escalated, who
    served, the outcome, the cost and the latency."""
    if decisions.is_empty():
        return html.Div("No routed request in this window.")
    rows = [
        [
            fmt_ts(r["ts"]),
            r["route"],
            r["path"] or "—",
            _why(r),
            f"{r['final_model']} via {r['final_provider']}" if r["final_model"] else "—",
            r["outcome"],
            fmt(r["cost_usd"], "${:.6f}"),
            fmt(r["latency_ms"], "{:.0f} ms"),
        ]
        for r in decisions.head(RECENT).iter_rows(named=True)
    ]
    headers = ["time", "route", "path", "why", "served by", "outcome", "cost", "latency"]
    return table(headers, rows, numeric=(6, 7))


def summary(decisions: pl.DataFrame) -> str:
    """Escalated share, failures and cost per successful request over the whole window."""
    n = decisions.height
    escalated = decisions["trigger"].is_not_null().sum()
    failed = (decisions["outcome"] == "failed").sum()
    successes = n - failed
    cost = decisions["cost_usd"].drop_nulls().sum() if successes else None
    per_success = "—" if not cost else f"${cost / successes:.6f}"
    return (
        f"{n} requests, {escalated / n:.1%} escalated, {failed} failed, "
        f"{per_success} per successful request"
    )


def refresh(ctx: DashContext, route: str | None, window: str) -> tuple[Any, ...]:
    """Status, the four figures and the latest requests for one selection."""
    span, coarsest = WINDOWS.get(window, WINDOWS["24h"])
    now = ctx.now()
    try:
        decisions = queries.route_decisions(
            ctx.engine, now - span, None if route in (None, ALL) else route
        )
    except Exception as exc:
        blank = [message_figure("database unreachable", title) for title in TITLES]
        return (notice(describe_failure(exc, "the routed requests"), "error"), *blank, None)
    if decisions.is_empty():
        empty = [message_figure("no routed requests in this window", t) for t in TITLES]
        return (notice(NO_ROUTES), *empty, recent_table(decisions))
    first = decisions["ts"].min()
    bucket = fitted_bucket(first, now, FINEST_BUCKET, coarsest)
    x_range = fitted_range((now - span, now), first, bucket)
    buckets = per_bucket(decisions, bucket)
    status = html.Div(
        f"{route or ALL} · last {LABELS.get(window, window)} · {summary(decisions)} · "
        f"{format_duration(bucket.total_seconds())} buckets · updated {now:%H:%M:%S} UTC",
        style={"color": "#666", "fontSize": "13px", "marginBottom": "8px"},
    )
    return (
        status,
        escalation_figure(buckets, x_range),
        cost_figure(buckets, x_range),
        paths_figure(decisions, bucket, x_range),
        triggers_figure(decisions),
        recent_table(decisions),
    )
