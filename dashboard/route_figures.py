"""Pure: routed requests (``queries.route_decisions``) → the Routes page's figures.

Escalation rate and cost per successful request over time, one line per route; the share of
requests per path of models; the triggers that escalate most. A route's colour, or a path's, comes
from its name, so it is the same on every chart and every refresh.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from signalbox.dashboard.colors import hashed_color
from signalbox.dashboard.figures import (
    Figure,
    TimeRange,
    axis,
    count_axis,
    layout,
    message_figure,
    utc_times,
)

ESCALATION_TITLE = "Escalation rate"
COST_TITLE = "Cost per successful request"
PATHS_TITLE = "Share of requests per path of models"
TRIGGERS_TITLE = "Triggers that escalated"
EMPTY = "no routed requests in this window"


def _bucketed(decisions: pl.DataFrame, bucket: timedelta) -> pl.DataFrame:
    return decisions.with_columns(
        pl.col("ts").dt.truncate(f"{int(bucket.total_seconds())}s").alias("bucket")
    )


def per_bucket(decisions: pl.DataFrame, bucket: timedelta) -> pl.DataFrame:
    """Per route and bucket: requests, escalations and their rate, successes, the cost of all
    requests and the cost per successful one (what a success costs once failures are paid for)."""
    return (
        _bucketed(decisions, bucket)
        .group_by("route", "bucket")
        .agg(
            pl.len().alias("requests"),
            pl.col("trigger").is_not_null().sum().alias("escalations"),
            (pl.col("outcome") != "failed").sum().alias("successes"),
            pl.col("cost_usd").sum().alias("cost_usd"),
            pl.col("cost_usd").is_not_null().any().alias("priced"),
        )
        .with_columns(
            (pl.col("escalations") / pl.col("requests")).alias("escalation_rate"),
            pl.when(pl.col("priced") & (pl.col("successes") > 0))
            .then(pl.col("cost_usd") / pl.col("successes"))
            .otherwise(None)
            .alias("cost_per_success"),
        )
        .sort("route", "bucket")
    )


def _lines(
    frame: pl.DataFrame, column: str, hover: str, title: str, y_title: str, x_range: TimeRange
) -> Figure:
    data = frame.filter(pl.col(column).is_not_null())
    if data.is_empty():
        return message_figure(EMPTY, title)
    traces = [
        {
            "type": "scatter",
            "x": utc_times(rows["bucket"]),
            "y": rows[column].to_list(),
            "customdata": rows["requests"].to_list(),
            "name": route,
            "mode": "lines+markers" if rows.height < 40 else "lines",
            "line": {"color": hashed_color(route), "width": 2},
            "marker": {"size": 5},
            "hovertemplate": f"{hover} · %{{customdata}} requests",
        }
        for (route,), rows in sorted(data.partition_by("route", as_dict=True).items())
    ]
    return {"data": traces, "layout": layout(title, y_title, x_range=x_range)}


def escalation_figure(buckets: pl.DataFrame, x_range: TimeRange) -> Figure:
    """Escalation rate per bucket, one line per route."""
    fig = _lines(
        buckets,
        "escalation_rate",
        "%{y:.1%} escalated",
        ESCALATION_TITLE,
        "requests a trigger sent on",
        x_range,
    )
    if fig["data"]:
        fig["layout"]["yaxis"].update(tickformat=".0%", range=[0, 1], rangemode=None)
    return fig


def cost_figure(buckets: pl.DataFrame, x_range: TimeRange) -> Figure:
    """Cost per successful request per bucket, one line per route."""
    fig = _lines(
        buckets, "cost_per_success", "$%{y:.6f}", COST_TITLE, "USD per successful request", x_range
    )
    if fig["data"]:
        fig["layout"]["yaxis"].update(tickprefix="$", tickformat=".2~g")  # not 600µ dollars
    return fig


def paths_figure(decisions: pl.DataFrame, bucket: timedelta, x_range: TimeRange) -> Figure:
    """Each path's share of the requests per bucket, stacked to 100 %."""
    if decisions.is_empty():
        return message_figure(EMPTY, PATHS_TITLE)
    counts = (
        _bucketed(decisions, bucket)
        .group_by("bucket", "path")
        .agg(pl.len().alias("count"))
        .sort("bucket")
    )
    traces = [
        {
            "type": "bar",
            "x": utc_times(rows["bucket"]),
            "y": rows["count"].to_list(),
            "customdata": rows["count"].to_list(),
            "name": path or "(nothing served)",
            "marker": {"color": hashed_color(path), "line": {"width": 0}},
            "hovertemplate": "%{y:.0f}% (%{customdata} requests)",
            "offset": 0,
            "width": bucket.total_seconds() * 1000,
        }
        for (path,), rows in sorted(counts.partition_by("path", as_dict=True).items())
    ]
    fig_layout = layout(PATHS_TITLE, "share of requests (%)", x_range=x_range)
    fig_layout.update(barmode="stack", barnorm="percent", bargap=0)
    fig_layout["yaxis"].update(range=[0, 100], ticksuffix="%", rangemode=None)
    return {"data": traces, "layout": fig_layout}


def triggers_figure(decisions: pl.DataFrame) -> Figure:
    """How often each trigger escalated, most frequent on top, split by route."""
    fired = decisions.filter(pl.col("trigger").is_not_null())
    if fired.is_empty():
        return message_figure("no trigger fired in this window: nothing escalated", TRIGGERS_TITLE)
    counts = fired.group_by("trigger", "route").agg(pl.len().alias("count"))
    totals = counts.group_by("trigger").agg(pl.col("count").sum()).sort("count", "trigger")
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "y": rows["trigger"].to_list(),
            "x": rows["count"].to_list(),
            "name": route,
            "marker": {"color": hashed_color(route)},
            "hovertemplate": "%{x} escalations",
        }
        for (route,), rows in sorted(counts.partition_by("route", as_dict=True).items())
    ]
    fig_layout = layout(TRIGGERS_TITLE, None, height=max(240, 120 + 34 * totals.height))
    fig_layout.update(barmode="stack", hovermode="y unified")
    fig_layout["xaxis"] = count_axis("escalations (count)", int(totals["count"].max() or 1))
    fig_layout["yaxis"] = axis(
        None, categoryorder="array", categoryarray=totals["trigger"].to_list()
    )
    return {"data": traces, "layout": fig_layout}
