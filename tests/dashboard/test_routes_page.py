"""The Routes page: escalation rate and cost per successful request over time, the share of
requests per path, the triggers that escalate most, and the latest routed requests with why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import Engine

from signalbox.dashboard.context import DashContext
from signalbox.dashboard.pages import routes
from signalbox.dashboard.queries import ROUTE_DECISION_SCHEMA
from signalbox.dashboard.route_figures import per_bucket, triggers_figure
from signalbox.db import make_engine
from tests.dashboard.seed import ROUTES, seed_store

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _text(component: object) -> str:
    return json.dumps(
        component, default=lambda c: c.to_plotly_json() if hasattr(c, "to_plotly_json") else str(c)
    )


def _decisions(rows: list[tuple]) -> pl.DataFrame:
    """(seconds after NOW, route, trigger, outcome, cost) → a frame as the query returns."""
    return pl.DataFrame(
        [
            {
                "ts": NOW + timedelta(seconds=s),
                "route": route,
                "objective": "balanced",
                "path": "small → large" if trigger else "small",
                "trigger": trigger,
                "trigger_detail": None,
                "final_model": None if outcome == "failed" else "small",
                "final_provider": None,
                "outcome": outcome,
                "cost_usd": cost,
                "latency_ms": 100.0,
                "ttft_ms": None,
                "stream": False,
            }
            for s, route, trigger, outcome, cost in rows
        ],
        schema=ROUTE_DECISION_SCHEMA,
    )


def test_escalation_rate_and_cost_per_successful_request_per_bucket() -> None:
    # given four requests of one route in one minute: one escalated, one failed
    frame = _decisions(
        [
            (1, "support", None, "ok", 0.001),
            (2, "support", "invalid_json", "escalated", 0.011),
            (3, "support", None, "ok", 0.001),
            (4, "support", None, "failed", 0.0005),
        ]
    )
    row = per_bucket(frame, timedelta(minutes=1)).row(0, named=True)
    assert row["requests"] == 4 and row["escalations"] == 1
    assert row["escalation_rate"] == pytest.approx(0.25)
    # the failed attempt's cost is paid too: spread over the three successes
    assert row["cost_per_success"] == pytest.approx(0.0135 / 3)


def test_triggers_are_counted_most_frequent_on_top_and_nothing_escalated_says_so() -> None:
    frame = _decisions(
        [
            (1, "a", "failure", "escalated", 0.01),
            (2, "a", "invalid_json", "escalated", 0.01),
            (3, "b", "invalid_json", "escalated", 0.01),
        ]
    )
    fig = triggers_figure(frame)
    assert fig["layout"]["yaxis"]["categoryarray"] == ["failure", "invalid_json"]
    quiet = triggers_figure(_decisions([(1, "a", None, "ok", 0.001)]))
    assert quiet["data"] == [] and "nothing escalated" in _text(quiet)


def test_the_page_draws_every_chart_and_the_latest_requests_with_why(engine: Engine) -> None:
    seed_store(engine, NOW, hours=3)
    ctx = DashContext(engine=engine, now=lambda: NOW)
    status, escalation, cost, paths, triggers, recent = routes.refresh(ctx, routes.ALL, "24h")
    assert "% escalated" in _text(status) and "per successful request" in _text(status)
    assert {t["name"] for t in escalation["data"]} == set(ROUTES)
    assert {t["name"] for t in cost["data"]} == set(ROUTES)
    assert {t["name"] for t in paths["data"]} >= {"small", "small → large"}
    assert triggers["data"] and "finish_length" in _text(triggers)
    text = _text(recent)
    assert "finish reason length" in text or "not JSON" in text or "no trigger" in text
    # one route only
    _, one, *_ = routes.refresh(ctx, "extract", "24h")
    assert [t["name"] for t in one["data"]] == ["extract"]


def test_a_store_without_routed_requests_says_how_to_get_them(engine: Engine) -> None:
    ctx = DashContext(engine=engine, now=lambda: NOW)
    status, *figures, _recent = routes.refresh(ctx, None, "24h")
    assert "Define a [[route]]" in _text(status)
    assert all(f["data"] == [] for f in figures)
    assert "Define a [[route]]" in _text(routes.layout(ctx, {}))


def test_an_unreachable_store_is_a_message_not_a_traceback() -> None:
    engine = make_engine(
        "postgresql://postgres@127.0.0.1:1/nowhere", connect_args={"connect_timeout": 2}
    )
    ctx = DashContext(engine=engine, now=lambda: NOW)
    assert "unreachable" in _text(routes.refresh(ctx, None, "1h")[0])
    assert "unreachable" in _text(routes.layout(ctx, {}))
