"""Alerts page: what is firing now (and for how long), and the history with durations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash
import polars as pl
from dash import Input, Output, dcc, html

from signalbox.dashboard import ids, queries
from signalbox.dashboard.colors import colors_for_endpoints
from signalbox.dashboard.components import fmt, fmt_ts, provider_cell, table
from signalbox.dashboard.context import DashContext
from signalbox.dashboard.figures import (
    TIMELINE_TITLE,
    alerts_timeline,
    format_duration,
    message_figure,
)
from signalbox.dashboard.notices import describe_failure, notice

PATH = "/alerts"
NAME = "Alerts"
HISTORY_DAYS = 30


def layout(ctx: DashContext, query: dict[str, str]) -> html.Div:
    """Firing table, a timeline, the history table (filled by the refresh callback)."""
    return html.Div(
        [
            html.Div(id=ids.ALERTS_STATUS),
            html.Div([html.H3("Firing now"), html.Div(id=ids.ALERTS_FIRING)], className="card"),
            html.Div(
                dcc.Graph(
                    id=ids.ALERTS_TIMELINE,
                    figure=message_figure("loading…", height=220),
                    config={"displaylogo": False},
                ),
                className="card",
            ),
            html.Div(
                [html.H3(f"History (last {HISTORY_DAYS} days)"), html.Div(id=ids.ALERTS_HISTORY)],
                className="card",
            ),
        ]
    )


def _duration(row: dict[str, Any], now: datetime) -> str:
    start = row["firing_at"] or row["started_at"]
    end = row["resolved_at"] or now
    return format_duration((end - start).total_seconds())


def alert_table(rows: pl.DataFrame, colors: dict[str, str], now: datetime) -> html.Table:
    """One line per alert: rule, endpoint, severity, times, duration, value vs threshold, reason."""
    lines = [
        [
            r["rule"],
            provider_cell(r["provider"] or "?", colors),
            r["model"] or "?",
            r["severity"],
            fmt_ts(r["firing_at"] or r["started_at"]),
            fmt_ts(r["resolved_at"]) if r["resolved_at"] else "still firing",
            _duration(r, now),
            f"{fmt(r['value'], '{:.4g}')} / {fmt(r['threshold'], '{:.4g}')}",
            r["reason"] or "",
        ]
        for r in rows.iter_rows(named=True)
    ]
    headers = [
        "rule",
        "provider",
        "model or route",
        "severity",
        "firing since",
        "resolved",
        "duration",
        "value / threshold",
        "reason",
    ]
    return table(headers, lines, numeric=(6,))


def register(app: dash.Dash, ctx: DashContext) -> None:
    """The alerts page's callback on ``app``."""

    @app.callback(
        Output(ids.ALERTS_STATUS, "children"),
        Output(ids.ALERTS_FIRING, "children"),
        Output(ids.ALERTS_TIMELINE, "figure"),
        Output(ids.ALERTS_HISTORY, "children"),
        Input(ids.REFRESH, "n_intervals"),
        Input(ids.ALERTS_FIRING, "id"),
    )
    def _refresh(_n: int, _id: str) -> tuple[Any, ...]:
        return refresh(ctx)


def refresh(ctx: DashContext) -> tuple[Any, ...]:
    """Status, firing table, timeline and history; a message when the store cannot answer."""
    now = ctx.now()
    try:
        eps = queries.endpoints(ctx.engine)
        firing = queries.firing_alerts(ctx.engine, eps)
        history = queries.alert_history(ctx.engine, eps, now, days=HISTORY_DAYS)
    except Exception as exc:
        message = describe_failure(exc, "the alerts")
        return (
            notice(message, "error"),
            None,
            message_figure("database unreachable", TIMELINE_TITLE, height=220),
            None,
        )
    colors = colors_for_endpoints(zip(eps["provider_id"], eps["provider"], strict=True))
    firing_view = (
        alert_table(firing, colors, now)
        if not firing.is_empty()
        else html.Div("Nothing is firing.", style={"color": "#2e7d32"})
    )
    history_view = (
        alert_table(history, colors, now)
        if not history.is_empty()
        else html.Div(f"No alert in the last {HISTORY_DAYS} days.")
    )
    status = html.Div(
        f"updated {now:%H:%M:%S} UTC",
        style={"color": "#666", "fontSize": "13px", "marginBottom": "8px"},
    )
    return status, firing_view, alerts_timeline(history, colors, now), history_view
