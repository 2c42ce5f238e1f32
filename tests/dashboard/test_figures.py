"""Figures: a trace per provider in its fixed colour, labelled axes, messages for empty data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from signalbox.dashboard.colors import PALETTE, color_for, colors_for_endpoints, hashed_color
from signalbox.dashboard.figures import (
    COST,
    TPS,
    alerts_timeline,
    count_axis,
    errors_metric,
    format_duration,
    metric_figure,
    reasons_figure,
    samples_figure,
    share_figure,
    ttft_figure,
)
from signalbox.dashboard.shape import SERIES_SCHEMA

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
COLORS = {"alpha": "#111111", "bravo": "#222222"}


def _series() -> pl.DataFrame:
    rows = [
        (p, T0 + timedelta(minutes=i), 10, 9, 0.1, 300.0 + i, 500.0, 80.0 + i, 0.9, 0.1)
        for p in ("alpha", "bravo")
        for i in range(3)
    ]
    return pl.DataFrame(rows, schema=SERIES_SCHEMA, orient="row")


def test_each_chart_has_one_trace_per_provider_in_its_colour() -> None:
    data = _series()
    for fig in (
        metric_figure(data, COLORS, TPS, empty_message="-"),
        metric_figure(data, COLORS, COST, empty_message="-"),
        metric_figure(data, COLORS, errors_metric("1h"), empty_message="-"),
        samples_figure(data, COLORS, empty_message="-"),
    ):
        names = [t["name"] for t in fig["data"]]
        assert names == ["alpha", "bravo"]
        colours = [t.get("line", t.get("marker", {})).get("color") for t in fig["data"]]
        assert colours == ["#111111", "#222222"]


def test_axes_are_labelled_with_units_and_hover_shows_exact_values() -> None:
    fig = metric_figure(_series(), COLORS, TPS, empty_message="-")
    assert fig["layout"]["yaxis"]["title"]["text"] == "tokens/s"
    assert fig["layout"]["xaxis"]["title"]["text"] == "time (UTC)"
    assert "tok/s" in fig["data"][0]["hovertemplate"]
    assert fig["data"][0]["x"][0] == "2026-11-25T12:00:00"


def test_ttft_chart_pairs_p50_and_p90_per_provider_under_one_legend_entry() -> None:
    fig = ttft_figure(_series(), COLORS, empty_message="-")
    assert [t["name"] for t in fig["data"]] == ["alpha", "alpha p90", "bravo", "bravo p90"]
    assert [t.get("showlegend", True) for t in fig["data"]] == [True, False, True, False]
    assert fig["data"][1]["line"]["dash"] == "dot"


def test_empty_data_draws_a_message_not_an_empty_axis() -> None:
    empty = pl.DataFrame(schema=SERIES_SCHEMA)
    fig = metric_figure(empty, COLORS, TPS, empty_message="no observations for m")
    assert fig["data"] == []
    assert fig["layout"]["annotations"][0]["text"] == "no observations for m"


def test_share_and_reasons_charts_split_decisions_by_provider() -> None:
    decisions = pl.DataFrame(
        {
            "ts": [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)],
            "provider": ["alpha", "bravo", "alpha"],
            "reason": [
                "alpha: best for latency (ttft p50 212 ms, p_success 0.99)",
                "bravo: best for latency (ttft p50 198 ms, p_success 1.00)",
                "alpha: best for cost (price 0.35/0.4 USD/Mtok, p_success 1.00)",
            ],
        }
    )
    share = share_figure(decisions, COLORS, timedelta(minutes=5))
    assert [t["name"] for t in share["data"]] == ["alpha", "bravo"]
    assert share["data"][0]["y"] == [2]
    reasons = reasons_figure(decisions, COLORS)
    # counted by kind, not by the text with its figures: two "best for latency", one for cost
    assert reasons["layout"]["yaxis"]["categoryarray"] == ["best for cost", "best for latency"]
    counts = {t["name"]: dict(zip(t["y"], t["x"], strict=True)) for t in reasons["data"]}
    assert counts == {
        "alpha": {"best for cost": 1, "best for latency": 1},
        "bravo": {"best for latency": 1},
    }


def test_counts_are_drawn_on_whole_number_ticks() -> None:
    decisions = pl.DataFrame(
        {"ts": [T0], "provider": ["alpha"], "reason": ["alpha: half-open trial after cooldown"]}
    )
    axis = reasons_figure(decisions, COLORS)["layout"]["xaxis"]
    assert axis["dtick"] == 1 and axis["tickformat"] == ",d"
    assert count_axis(None, 12)["dtick"] == 2
    assert count_axis(None, 400)["dtick"] == 50


def test_decisions_in_one_bucket_still_draw_a_full_share_bar() -> None:
    # given every decision in one bucket (a store a minute old)
    decisions = pl.DataFrame({"ts": [T0, T0], "provider": ["alpha", "bravo"], "reason": ["x", "y"]})
    fig = share_figure(decisions, COLORS, timedelta(seconds=10))
    # then each provider is a bar in that bucket, stacked and normalised to 100 %
    assert [t["type"] for t in fig["data"]] == ["bar", "bar"]
    assert all(len(t["x"]) == 1 for t in fig["data"])
    assert fig["layout"]["barnorm"] == "percent" and fig["layout"]["barmode"] == "stack"


def test_alert_timeline_bars_last_until_resolved_or_now() -> None:
    alerts = pl.DataFrame(
        {
            "provider": ["alpha"],
            "model": ["m"],
            "rule": ["errors"],
            "started_at": [T0],
            "firing_at": [T0],
            "resolved_at": [None],
        },
        schema_overrides={"resolved_at": pl.Datetime("us", "UTC")},
    )
    fig = alerts_timeline(alerts, COLORS, T0 + timedelta(minutes=90))
    assert fig["data"][0]["x"] == [90 * 60 * 1000]
    assert fig["data"][0]["customdata"] == ["1h 30m"]


def test_colours_follow_provider_id_order_and_are_stable() -> None:
    colors = colors_for_endpoints([(2, "bravo"), (1, "alpha"), (2, "bravo")])
    assert colors == {"alpha": PALETTE[0], "bravo": PALETTE[1]}
    assert color_for(colors, "zulu") == hashed_color("zulu") == hashed_color("zulu")


def test_format_duration() -> None:
    assert [format_duration(s) for s in (5, 95, 900, 7300, 200000)] == [
        "5s",
        "1m 35s",
        "15m",
        "2h 1m",
        "2d 7h",
    ]


def test_time_charts_of_a_page_share_the_window_as_x_range() -> None:
    window = (T0 - timedelta(hours=1), T0)
    figs = [
        metric_figure(_series(), COLORS, TPS, empty_message="-", x_range=window),
        ttft_figure(_series(), COLORS, empty_message="-", x_range=window),
        samples_figure(_series(), COLORS, empty_message="-", x_range=window),
    ]
    assert all(
        f["layout"]["xaxis"]["range"] == ["2026-11-25T11:00:00", "2026-11-25T12:00:00"]
        for f in figs
    )
