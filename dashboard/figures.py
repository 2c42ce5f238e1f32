"""Pure: polars frames → plotly figures, as plain figure dicts (what ``dcc.Graph`` takes; building
``go.Figure`` objects costs ~100 ms per chart in validation). One colour per provider (from
``colors``) on every chart, labelled axes with units, the legend in a row above the plot so it never
covers data, exact values on hover. Times are drawn in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from signalbox.dashboard.colors import color_for
from signalbox.dashboard.reasons import reason_kind

Figure = dict[str, Any]
TimeRange = tuple[datetime, datetime]

FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
TIME_AXIS = "time (UTC)"
GRID = "#e9ecef"
AXIS_LINE = "#bbb"


@dataclass(frozen=True, slots=True)
class Metric:
    """A per-provider series chart: the column, its labels and how its values print."""

    column: str
    title: str
    y_title: str
    hover: str  # plotly hovertemplate of the value, with its unit
    percent: bool = False


TPS = Metric("tps_p50", "Output tokens/sec (p50)", "tokens/s", "%{y:.1f} tok/s")
COST = Metric(
    "cost_per_mtok_out",
    "Cost per million output tokens (input included)",
    "USD per 1M output tokens",
    "$%{y:.3f}",
)


TIMELINE_TITLE = "Alerts over time (bar = firing)"
SHARE_TITLE = "Share of routing decisions per provider"
REASONS_TITLE = "Reasons given for the choice"
TTFT_TITLE = "Time to first token: p50 (solid) and p90 (dotted)"
SAMPLES_TITLE = "Samples per bucket"
CHOICES_TITLE = "Where each strategy sent the steps"


def errors_metric(rolling_label: str) -> Metric:
    """The error-rate chart's metric, titled with its rolling span (e.g. ``1h``)."""
    return Metric(
        "error_rate_rolling",
        f"Error rate (rolling {rolling_label})",
        "errors (% of requests)",
        "%{y:.1%}",
        percent=True,
    )


def axis(title: str | None, **extra: Any) -> dict[str, Any]:
    """An axis in the house style: titled, light grid, a line, margins that fit the labels."""
    style = {
        "title": {"text": title} if title else None,
        "gridcolor": GRID,
        "zeroline": False,
        "showline": True,
        "linecolor": AXIS_LINE,
        "automargin": True,
    }
    style.update(extra)
    return style


def layout(
    title: str,
    y_title: str | None,
    *,
    height: int = 320,
    x_range: TimeRange | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The house style: white, titled, axes labelled, legend in a row above the plot; ``x_range``
    pins the time axis to the window, so charts of one page line up."""
    base = {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "y": 0.97, "font": {"size": 15}},
        "font": {"family": FONT, "size": 12, "color": "#2a3f5f"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "height": height,
        "margin": {"l": 70, "r": 20, "t": 80, "b": 50},
        "legend": {
            "orientation": "h",
            "x": 0,
            "y": 1.0,
            "yanchor": "bottom",
            "traceorder": "normal",
        },
        "hovermode": "x unified",
        "uirevision": "keep",  # a refresh keeps the user's zoom and hidden traces
        "xaxis": axis(TIME_AXIS, type="date"),
        "yaxis": axis(y_title, rangemode="tozero"),
    }
    if x_range is not None:
        base["xaxis"]["range"] = [_iso(x_range[0]), _iso(x_range[1])]
    base.update(extra)
    return base


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def message_figure(message: str, title: str = "", *, height: int = 320) -> Figure:
    """An empty chart that says why it is empty."""
    return {
        "data": [],
        "layout": {
            "title": {"text": title, "x": 0.01, "font": {"size": 15}},
            "font": {"family": FONT, "size": 12},
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "height": height,
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "annotations": [
                {
                    "text": message,
                    "showarrow": False,
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0.5,
                    "y": 0.5,
                    "font": {"size": 14, "color": "#555"},
                }
            ],
        },
    }


def utc_times(series: pl.Series) -> list[str]:
    """UTC datetimes as ISO strings without offset: plotly draws them as given, i.e. in UTC."""
    return series.dt.strftime("%Y-%m-%dT%H:%M:%S").to_list()


def _by_provider(frame: pl.DataFrame) -> list[tuple[str, pl.DataFrame]]:
    if frame.is_empty():
        return []
    parts = frame.partition_by("provider", as_dict=True, maintain_order=True)
    return sorted(((key[0], part) for key, part in parts.items()), key=lambda kv: kv[0])


def metric_figure(
    series: pl.DataFrame,
    colors: dict[str, str],
    metric: Metric,
    *,
    empty_message: str,
    x_range: TimeRange | None = None,
) -> Figure:
    """One line per provider of ``metric.column`` over time; hover shows the value and samples."""
    data = series.filter(pl.col(metric.column).is_not_null())
    if data.is_empty():
        return message_figure(empty_message, metric.title)
    traces = [
        {
            "type": "scatter",
            "x": utc_times(rows["bucket"]),
            "y": rows[metric.column].to_list(),
            "customdata": rows["n"].to_list(),
            "name": provider,
            "mode": "lines+markers" if rows.height < 40 else "lines",
            "line": {"color": color_for(colors, provider), "width": 2},
            "marker": {"size": 5},
            "hovertemplate": f"{metric.hover} · n=%{{customdata}}",
        }
        for provider, rows in _by_provider(data)
    ]
    fig_layout = layout(metric.title, metric.y_title, x_range=x_range)
    if metric.percent:
        fig_layout["yaxis"]["tickformat"] = ".0%"
    return {"data": traces, "layout": fig_layout}


def ttft_figure(
    series: pl.DataFrame,
    colors: dict[str, str],
    *,
    empty_message: str,
    x_range: TimeRange | None = None,
) -> Figure:
    """TTFT p50 (solid) and p90 (dotted) per provider; a legend click hides both of a provider."""
    title = TTFT_TITLE
    data = series.filter(pl.col("ttft_p50_ms").is_not_null())
    if data.is_empty():
        return message_figure(empty_message, title)
    traces = []
    for provider, rows in _by_provider(data):
        color = color_for(colors, provider)
        x = utc_times(rows["bucket"])
        n = rows["n"].to_list()
        traces.append(
            {
                "type": "scatter",
                "x": x,
                "y": rows["ttft_p50_ms"].to_list(),
                "customdata": n,
                "name": provider,
                "legendgroup": provider,
                "mode": "lines",
                "line": {"color": color, "width": 2},
                "hovertemplate": "p50 %{y:.0f} ms · n=%{customdata}",
            }
        )
        traces.append(
            {
                "type": "scatter",
                "x": x,
                "y": rows["ttft_p90_ms"].to_list(),
                "name": f"{provider} p90",
                "legendgroup": provider,
                "showlegend": False,
                "mode": "lines",
                "line": {"color": color, "width": 1.5, "dash": "dot"},
                "hovertemplate": "p90 %{y:.0f} ms",
            }
        )
    return {"data": traces, "layout": layout(title, "TTFT (ms)", x_range=x_range)}


def samples_figure(
    series: pl.DataFrame,
    colors: dict[str, str],
    *,
    empty_message: str,
    x_range: TimeRange | None = None,
) -> Figure:
    """Observations per bucket, stacked by provider."""
    title = SAMPLES_TITLE
    if series.is_empty():
        return message_figure(empty_message, title)
    traces = [
        {
            "type": "bar",
            "x": utc_times(rows["bucket"]),
            "y": rows["n"].to_list(),
            "name": provider,
            "marker": {"color": color_for(colors, provider), "line": {"width": 0}},
            "hovertemplate": "%{y} observations",
        }
        for provider, rows in _by_provider(series)
    ]
    many = series["bucket"].n_unique() > 60  # thin bars: gaps would render as uneven stripes
    fig_layout = layout(
        title,
        "observations per bucket",
        x_range=x_range,
        barmode="stack",
        bargap=0 if many else 0.1,
    )
    largest = series.group_by("bucket").agg(pl.col("n").sum())["n"].max()
    fig_layout["yaxis"] = count_axis("observations per bucket", int(largest or 1))
    return {"data": traces, "layout": fig_layout}


def sparkline(
    series: pl.DataFrame,
    colors: dict[str, str],
    x_range: TimeRange | None = None,
    title: str = "tokens/s p50, last hour",
) -> Figure:
    """The overview's small trend: tps p50 per bucket, one line per provider; pinned to the
    range given (the last hour, or since the first data when there is less), so a provider gone
    quiet shows as a line that stops short."""
    data = series.filter(pl.col("tps_p50").is_not_null())
    if data.is_empty():
        return message_figure("no observations in the last hour", height=170)
    traces = [
        {
            "type": "scatter",
            "x": utc_times(rows["bucket"]),
            "y": rows["tps_p50"].to_list(),
            "name": provider,
            "mode": "lines",
            "line": {"color": color_for(colors, provider), "width": 1.8},
            "hovertemplate": "%{y:.1f} tok/s",
        }
        for provider, rows in _by_provider(data)
    ]
    fig_layout = layout(
        title,
        "tok/s",
        height=170,
        x_range=x_range,
        margin={"l": 50, "r": 10, "t": 28, "b": 30},
        showlegend=False,
        font={"family": FONT, "size": 11, "color": "#2a3f5f"},
    )
    fig_layout["title"] = {"text": title, "x": 0.01, "font": {"size": 12}}
    fig_layout["xaxis"]["title"] = None
    if x_range is None or x_range[1] - x_range[0] >= timedelta(minutes=30):
        fig_layout["xaxis"]["tickformat"] = "%H:%M"  # shorter spans: plotly adds the seconds
    fig_layout["yaxis"]["title"] = {"text": "tok/s", "standoff": 4}
    return {"data": traces, "layout": fig_layout}


def share_figure(
    decisions: pl.DataFrame,
    colors: dict[str, str],
    bucket: timedelta,
    x_range: TimeRange | None = None,
) -> Figure:
    """Share of routing decisions per provider per bucket: bars stacked to 100 % (a bar, unlike
    a filled line, shows even when every decision falls in one bucket)."""
    title = SHARE_TITLE
    if decisions.is_empty():
        return message_figure("no routing decisions in this window", title)
    counts = (
        decisions.with_columns(pl.col("ts").dt.truncate(f"{int(bucket.total_seconds())}s"))
        .group_by("ts", "provider")
        .agg(pl.len().alias("count"))
        .sort("ts")
        .rename({"ts": "bucket"})
    )
    traces = [
        {
            "type": "bar",
            "x": utc_times(rows["bucket"]),
            "y": rows["count"].to_list(),
            "customdata": rows["count"].to_list(),
            "name": provider,
            "marker": {"color": color_for(colors, provider), "line": {"width": 0}},
            "hovertemplate": "%{y:.0f}% (%{customdata} decisions)",
            # bars are centred on their x: shift each to the middle of its bucket
            "offset": 0,
            "width": bucket.total_seconds() * 1000,
        }
        for provider, rows in _by_provider(counts)
    ]
    fig_layout = layout(title, "share of decisions (%)", x_range=x_range)
    fig_layout.update(barmode="stack", barnorm="percent", bargap=0)
    fig_layout["yaxis"].update(range=[0, 100], ticksuffix="%", rangemode=None)
    return {"data": traces, "layout": fig_layout}


def count_axis(title: str | None, largest: int) -> dict[str, Any]:
    """An axis of whole counts: ticks on integers (no 0.5 steps when counts are small)."""
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude):
            if largest / step <= 10:
                return axis(title, tickformat=",d", dtick=step, rangemode="tozero")
        magnitude *= 10


def reasons_figure(decisions: pl.DataFrame, colors: dict[str, str]) -> Figure:
    """How often each kind of reason was given (best for X, shares within N %, panic, …), split
    by the provider chosen."""
    title = REASONS_TITLE
    if decisions.is_empty():
        return message_figure("no routing decisions in this window", title)
    counts = (
        decisions.with_columns(
            pl.col("reason").map_elements(reason_kind, return_dtype=pl.String).alias("kind")
        )
        .group_by("kind", "provider")
        .agg(pl.len().alias("count"))
    )
    totals = counts.group_by("kind").agg(pl.col("count").sum()).sort("count", "kind")
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "y": rows["kind"].to_list(),
            "x": rows["count"].to_list(),
            "name": provider,
            "marker": {"color": color_for(colors, provider)},
            "hovertemplate": "%{x} decisions",
        }
        for provider, rows in _by_provider(counts)
    ]
    fig_layout = layout(title, None, height=max(240, 120 + 34 * totals.height))
    fig_layout.update(barmode="stack", hovermode="y unified")
    fig_layout["xaxis"] = count_axis("decisions (count)", int(totals["count"].max() or 1))
    fig_layout["yaxis"] = axis(None, categoryorder="array", categoryarray=totals["kind"].to_list())
    return {"data": traces, "layout": fig_layout}


def choice_shares_figure(choices: dict[str, dict[str, int]], colors: dict[str, str]) -> Figure:
    """One bar per strategy (e.g. the policy and hindsight), split into the share of steps sent to
    each provider; ``choices`` is strategy → provider → steps."""
    title = CHOICES_TITLE
    totals = {name: sum(counts.values()) for name, counts in choices.items()}
    if not any(totals.values()):
        return message_figure("no step to compare", title, height=220)
    strategies = list(choices)
    providers = sorted({p for counts in choices.values() for p in counts})
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "y": strategies,
            "x": [100.0 * choices[s].get(p, 0) / (totals[s] or 1) for s in strategies],
            "customdata": [choices[s].get(p, 0) for s in strategies],
            "name": p,
            "marker": {"color": color_for(colors, p)},
            "hovertemplate": f"{p}: %{{x:.0f}}% (%{{customdata}} steps)<extra></extra>",
        }
        for p in providers
    ]
    fig_layout = layout(title, None, height=max(200, 130 + 40 * len(strategies)))
    fig_layout.update(barmode="stack", hovermode="closest")
    fig_layout["margin"] = {"l": 20, "r": 20, "t": 80, "b": 50}
    fig_layout["xaxis"] = axis("share of steps (%)", range=[0, 100], ticksuffix="%")
    fig_layout["yaxis"] = axis(None, autorange="reversed")
    return {"data": traces, "layout": fig_layout}


def alerts_timeline(alerts: pl.DataFrame, colors: dict[str, str], now: datetime) -> Figure:
    """Each alert as a bar from firing to resolved (or now), one row per (endpoint, rule)."""
    title = TIMELINE_TITLE
    if alerts.is_empty():
        return message_figure("no alerts in this window", title, height=220)
    rows = alerts.with_columns(
        pl.coalesce("firing_at", "started_at").alias("from"),
        pl.col("resolved_at").fill_null(now).alias("to"),
        pl.col("provider").fill_null("?"),
    ).with_columns(
        (pl.col("provider") + "/" + pl.col("model").fill_null("?") + " · " + pl.col("rule")).alias(
            "label"
        ),
        ((pl.col("to") - pl.col("from")).dt.total_milliseconds()).alias("ms"),
    )
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "base": utc_times(part["from"]),
            "x": part["ms"].to_list(),
            "y": part["label"].to_list(),
            "name": provider,
            "marker": {"color": color_for(colors, provider)},
            "customdata": [format_duration(ms / 1000) for ms in part["ms"].to_list()],
            "hovertemplate": "%{base|%Y-%m-%d %H:%M} UTC for %{customdata}",
        }
        for provider, part in _by_provider(rows)
    ]
    labels = rows["label"].unique()
    fig_layout = layout(title, None, height=max(220, 110 + 30 * len(labels)))
    fig_layout.update(hovermode="closest", barmode="overlay")
    fig_layout["yaxis"] = axis(None, automargin=True)
    return {"data": traces, "layout": fig_layout}


def format_duration(seconds: float) -> str:
    """``95`` → ``1m 35s``; ``900`` → ``15m``; ``7300`` → ``2h 1m``; ``200000`` → ``2d 7h``."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"
