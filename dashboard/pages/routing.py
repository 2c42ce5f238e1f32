"""Routing page: the share of sampled routing decisions per provider over time, and the kinds of
reason given, for one model (``/routing?model=M&window=24h``). Buckets and the time axis fit the
decisions that exist in the window."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output, dcc, html

from signalbox.dashboard import ids, queries
from signalbox.dashboard.colors import colors_for_endpoints
from signalbox.dashboard.components import fmt_ts, model_picker, provider_cell, radios, table
from signalbox.dashboard.context import DashContext
from signalbox.dashboard.figures import (
    REASONS_TITLE,
    SHARE_TITLE,
    format_duration,
    message_figure,
    reasons_figure,
    share_figure,
)
from signalbox.dashboard.notices import (
    describe_failure,
    models_or_notice,
    no_model_notice,
    notice,
)
from signalbox.dashboard.timespan import (
    DECISION_FINEST_BUCKET,
    DECISION_WINDOW_LABELS,
    DECISION_WINDOWS,
    fitted_bucket,
    fitted_range,
)

PATH = "/routing"
NAME = "Routing"

WINDOWS, LABELS, FINEST_BUCKET = DECISION_WINDOWS, DECISION_WINDOW_LABELS, DECISION_FINEST_BUCKET


def sampling(rate: float) -> str:
    """How the decisions shown were sampled, from the catalog's ``decision_sample_rate``."""
    return (
        f"Routers store a random {rate:.0%} of their decisions (the catalog's [routing] "
        "decision_sample_rate), at most 50 a second each; signalbox_router_decisions_total in "
        "/metrics counts every one."
    )


RECENT = 15


def layout(ctx: DashContext, query: dict[str, str]) -> html.Div:
    """Controls from the URL, the share chart, the reasons chart and the latest decisions."""
    models, status = models_or_notice(ctx.engine)
    model = query.get("model") if query.get("model") in models else (models[0] if models else None)
    window = query.get("window") if query.get("window") in WINDOWS else "24h"
    controls = html.Div(
        [
            model_picker(ids.ROUTING_MODEL, models, model),
            radios(ids.ROUTING_WINDOW, "Window", list(LABELS.items()), window),
        ],
        className="controls card",
    )
    loading = message_figure("loading…")
    return html.Div(
        [
            controls,
            html.Div(status, id=ids.ROUTING_STATUS),
            html.Div(dcc.Graph(id=ids.ROUTING_SHARE, figure=loading), className="card"),
            html.Div(dcc.Graph(id=ids.ROUTING_REASONS, figure=loading), className="card"),
            html.Div(
                [html.H3("Latest decisions"), html.Div(id=ids.ROUTING_RECENT)], className="card"
            ),
        ]
    )


def register(app: dash.Dash, ctx: DashContext) -> None:
    """The routing page's callbacks on ``app``."""

    @app.callback(
        Output(ids.URL, "search", allow_duplicate=True),
        Input(ids.ROUTING_MODEL, "value"),
        Input(ids.ROUTING_WINDOW, "value"),
        prevent_initial_call=True,
    )
    def _to_url(model: str | None, window: str) -> str:
        return "?" + urlencode({k: v for k, v in (("model", model), ("window", window)) if v})

    @app.callback(
        Output(ids.ROUTING_STATUS, "children"),
        Output(ids.ROUTING_SHARE, "figure"),
        Output(ids.ROUTING_REASONS, "figure"),
        Output(ids.ROUTING_RECENT, "children"),
        Input(ids.ROUTING_MODEL, "value"),
        Input(ids.ROUTING_WINDOW, "value"),
        Input(ids.REFRESH, "n_intervals"),
    )
    def _refresh(model: str | None, window: str, _n: int) -> tuple[Any, ...]:
        return refresh(ctx, model, window)


def refresh(ctx: DashContext, model: str | None, window: str) -> tuple[Any, ...]:
    """Status, share chart, reasons chart and the latest decisions for one selection."""
    if model is None:
        status = no_model_notice(ctx.engine, "the model list")
        text = "database unreachable" if "unreachable" in str(status.children) else "no model"
        return (
            status,
            message_figure(text, SHARE_TITLE),
            message_figure(text, REASONS_TITLE),
            None,
        )
    span, bucket = WINDOWS.get(window, WINDOWS["24h"])
    now = ctx.now()
    try:
        eps = queries.endpoints(ctx.engine)
        rows = queries.decisions(ctx.engine, eps, model, now - span)
    except Exception as exc:
        status = notice(describe_failure(exc, "the routing decisions"), "error")
        return (
            status,
            message_figure("database unreachable", SHARE_TITLE),
            message_figure("database unreachable", REASONS_TITLE),
            None,
        )
    colors = colors_for_endpoints(zip(eps["provider_id"], eps["provider"], strict=True))
    recent = [
        [fmt_ts(r["ts"]), r["objective"], provider_cell(r["provider"], colors), r["reason"]]
        for r in rows.head(RECENT).iter_rows(named=True)
    ]
    first = rows["ts"].min() if rows.height else None
    bucket = fitted_bucket(first, now, FINEST_BUCKET, bucket)
    status = html.Div(
        f"{model} · last {LABELS.get(window, window)} · {rows.height} decisions recorded "
        f"({format_duration(bucket.total_seconds())} buckets) · updated {now:%H:%M:%S} UTC. "
        f"{sampling(ctx.routing.decision_sample_rate)}",
        style={"color": "#666", "fontSize": "13px", "marginBottom": "8px"},
    )
    recent_view = (
        table(["time", "objective", "chosen", "reason"], recent)
        if recent
        else html.Div("No routing decision recorded in this window.")
    )
    share = share_figure(rows, colors, bucket, fitted_range((now - span, now), first, bucket))
    return status, share, reasons_figure(rows, colors), recent_view
