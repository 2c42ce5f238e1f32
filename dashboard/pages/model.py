"""Model page: per provider over time — TTFT p50/p90, tokens/sec p50, error rate, cost per million
output tokens and sample counts — for a window (15 min … 30 days) and a source (probe, traffic,
both). The URL holds the selection (``/model?model=M&window=24h&source=both``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
import polars as pl
from dash import Input, Output, dcc, html

from signalbox.dashboard import ids, queries
from signalbox.dashboard.colors import colors_for_endpoints
from signalbox.dashboard.components import model_picker, radios
from signalbox.dashboard.context import DashContext
from signalbox.dashboard.figures import (
    COST,
    SAMPLES_TITLE,
    TPS,
    TTFT_TITLE,
    errors_metric,
    format_duration,
    message_figure,
    metric_figure,
    samples_figure,
    ttft_figure,
)
from signalbox.dashboard.notices import (
    describe_failure,
    models_or_notice,
    no_model_notice,
    notice,
)
from signalbox.dashboard.shape import DEFAULT_WINDOW, SOURCES, WINDOWS, rolling_span
from signalbox.dashboard.timespan import fitted_range

PATH = "/model"
NAME = "Model"

SOURCE_LABELS = {"both": "probe + traffic", "probe": "probe", "traffic": "traffic"}


def selection(query: dict[str, str], models: list[str]) -> tuple[str | None, str, str]:
    """The (model, window, source) a URL asks for, with unknown values replaced by defaults."""
    model = query.get("model")
    if model not in models:
        model = models[0] if models else None
    window = query.get("window") if query.get("window") in WINDOWS else DEFAULT_WINDOW
    source = query.get("source") if query.get("source") in SOURCES else "both"
    return model, window, source


def layout(ctx: DashContext, query: dict[str, str]) -> html.Div:
    """Controls from the URL, then the five charts (filled by the refresh callback)."""
    models, status = models_or_notice(ctx.engine)
    model, window, source = selection(query, models)
    controls = html.Div(
        [
            model_picker(ids.MODEL_SELECT, models, model),
            radios(ids.MODEL_WINDOW, "Window", [(k, w.label) for k, w in WINDOWS.items()], window),
            radios(ids.MODEL_SOURCE, "Source", [(s, SOURCE_LABELS[s]) for s in SOURCES], source),
        ],
        className="controls card",
    )
    loading = message_figure("loading…")
    graphs = html.Div(
        [
            html.Div(
                dcc.Graph(id=graph_id, figure=loading, config={"displaylogo": False}),
                className="card",
            )
            for graph_id in ids.MODEL_GRAPHS
        ],
        className="graphs",
    )
    return html.Div([controls, html.Div(status, id=ids.MODEL_STATUS), graphs])


def register(app: dash.Dash, ctx: DashContext) -> None:
    """The model page's callbacks on ``app``."""

    @app.callback(
        Output(ids.URL, "search", allow_duplicate=True),
        Input(ids.MODEL_SELECT, "value"),
        Input(ids.MODEL_WINDOW, "value"),
        Input(ids.MODEL_SOURCE, "value"),
        prevent_initial_call=True,
    )
    def _to_url(model: str | None, window: str, source: str) -> str:
        return search_for(model, window, source)

    @app.callback(
        Output(ids.MODEL_STATUS, "children"),
        *[Output(graph_id, "figure") for graph_id in ids.MODEL_GRAPHS],
        Input(ids.MODEL_SELECT, "value"),
        Input(ids.MODEL_WINDOW, "value"),
        Input(ids.MODEL_SOURCE, "value"),
        Input(ids.REFRESH, "n_intervals"),
    )
    def _charts(model: str | None, window: str, source: str, _n: int) -> tuple[Any, ...]:
        return charts(ctx, model, window, source)


def search_for(model: str | None, window: str, source: str) -> str:
    """The query string that reproduces this selection."""
    params = {"model": model, "window": window, "source": source}
    return "?" + urlencode({k: v for k, v in params.items() if v})


def charts(ctx: DashContext, model: str | None, window: str, source: str) -> tuple[Any, ...]:
    """Status line and the five figures for one selection; messages instead of errors. Buckets
    and time axes fit the data that exists (a store minutes old is not squeezed into the right
    edge of a day)."""
    window = window if window in WINDOWS else DEFAULT_WINDOW
    win = WINDOWS[window]
    titles = (
        TPS.title,
        TTFT_TITLE,
        errors_metric(format_duration(rolling_span(win.bucket).total_seconds())).title,
        COST.title,
        SAMPLES_TITLE,
    )
    if model is None:
        status = no_model_notice(ctx.engine, "the model list")
        text = "database unreachable" if "unreachable" in str(status.children) else "no model"
        return (status, *[message_figure(text, title) for title in titles])
    now = ctx.now()
    try:
        eps = queries.endpoints(ctx.engine)
        fitted = queries.series(ctx.engine, eps, model, window, source, now)
    except Exception as exc:
        message = describe_failure(exc, f"the charts of {model}")
        blank = [message_figure("database unreachable", title) for title in titles]
        return (notice(message, "error"), *blank)
    data, bucket = fitted.frame, fitted.bucket
    rolling = format_duration(rolling_span(bucket).total_seconds())
    colors = colors_for_endpoints(zip(eps["provider_id"], eps["provider"], strict=True))
    expected = eps.filter((pl.col("model") == model) & pl.col("enabled"))["provider"].to_list()
    seen = set(data["provider"].unique().to_list())
    missing = [p for p in expected if p not in seen]
    where = "" if source == "both" else f" from {source}"
    empty = f"no observations{where} for {model} in the last {win.label}"
    parts = []
    if missing and seen:
        parts.append(
            notice(
                f"No observations{where} in the last {win.label} for: {', '.join(missing)}.", "warn"
            )
        )
    elif not seen:
        parts.append(notice(empty[0].upper() + empty[1:] + ".", "warn"))
    table = {"raw": "raw observations", "1m": "minute rollups", "1h": "hour rollups"}[win.table]
    parts.append(
        html.Div(
            f"{model} · last {win.label} · {SOURCE_LABELS.get(source, source)} · "
            f"{format_duration(bucket.total_seconds())} buckets from {table} · "
            f"updated {now:%H:%M:%S} UTC",
            style={"color": "#666", "fontSize": "13px", "marginBottom": "8px"},
        )
    )
    x_range = fitted_range((now - win.span, now), fitted.first, bucket)
    common = {"empty_message": empty, "x_range": x_range}
    return (
        parts,
        metric_figure(data, colors, TPS, **common),
        ttft_figure(data, colors, **common),
        metric_figure(data, colors, errors_metric(rolling), **common),
        metric_figure(data, colors, COST, **common),
        samples_figure(data, colors, **common),
    )
