"""Replay page: URL selection, the strategy and gains tables and the choice shares on a seeded day,
the same numbers as ``signalbox.replay``, and messages for empty, silent, non-overlapping and
unreachable stores. One slow test loads the page in headless Chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import Engine, insert

from signalbox.dashboard import ids
from signalbox.dashboard.app import create_app
from signalbox.dashboard.context import DashContext
from signalbox.dashboard.figures import choice_shares_figure
from signalbox.dashboard.notices import EMPTY_STORE
from signalbox.dashboard.pages import replay as page
from signalbox.dashboard.pages.replay import Selection, refresh, selection
from signalbox.dashboard.replay_tables import Change, change
from signalbox.db import make_engine
from signalbox.replay import load, replay
from signalbox.routing.objectives import Objective
from signalbox.schema import Observation
from tests.dashboard import test_browser as harness
from tests.dashboard.seed import (
    MODEL,
    OTHER_MODEL,
    PROFILES,
    SILENT_PROVIDER,
    observation_rows,
    seed_store,
)
from tests.dashboard.server import DashboardThread

NOW = datetime(2026, 11, 25, 12, 3, tzinfo=UTC)
DOWN_URL = "postgresql://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
PROVIDERS = sorted(PROFILES)

driver = harness.driver  # the browser harness's headless Chromium (skips when it is missing)


def _text(component: object) -> str:
    return json.dumps(
        component, default=lambda c: c.to_plotly_json() if hasattr(c, "to_plotly_json") else str(c)
    )


@pytest.fixture
def seeded_day(sqlite_url: str) -> Iterator[DashContext]:
    engine = make_engine(sqlite_url)
    seed_store(engine, NOW)
    yield DashContext(engine=engine, now=lambda: NOW)
    engine.dispose()


def test_query_string_becomes_the_selection_and_back() -> None:
    query = {"model": "m", "objective": "latency", "policy": "round-robin", "step": "900"}
    sel = selection(query, ["m", "n"])
    assert sel == Selection("m", "latency", "round-robin", "900")
    assert page.search_for(sel) == "?model=m&objective=latency&policy=round-robin&step=900"
    bad = {"model": "gone", "objective": "speed", "policy": "random", "step": "7"}
    assert selection(bad, ["m"]) == Selection("m", "balanced", "signalbox", "300")
    assert selection({}, []).model is None


def test_layout_takes_its_controls_from_the_url(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    seed_store(engine, NOW, hours=0)
    query = {"model": OTHER_MODEL, "objective": "cost", "policy": "static-best", "step": "60"}
    controls = (ids.REPLAY_MODEL, ids.REPLAY_OBJECTIVE, ids.REPLAY_POLICY, ids.REPLAY_STEP)
    values = {
        c.id: c.value
        for c in page.layout(DashContext(engine=engine), query)._traverse()
        if getattr(c, "id", None) in controls
    }
    assert values == dict(zip(controls, query.values(), strict=True))


def test_seeded_day_shows_every_strategy_the_gains_and_the_choice_shares(
    seeded_day: DashContext,
) -> None:
    status, strategies, gains, figure = refresh(
        seeded_day, Selection(MODEL, "throughput", "signalbox", "300")
    )
    text = _text(strategies)
    assert "signalbox (policy)" in text and "hindsight (best each step)" in text
    assert all(f"only {p}" in text for p in PROVIDERS)
    assert f"only {SILENT_PROVIDER}" not in text
    assert f"Left out, no observations in the last 24 hours: {SILENT_PROVIDER}." in _text(status)
    assert "288 of 288 had observations of every provider" in _text(status)
    gain_text = _text(gains)
    assert all(f"only {p}" in gain_text for p in PROVIDERS) and "hindsight (the gap)" in gain_text
    assert {t["name"] for t in figure["data"]} <= set(PROVIDERS)
    assert [sum(bar) for bar in zip(*(t["x"] for t in figure["data"]), strict=True)] == [
        pytest.approx(100.0),
        pytest.approx(100.0),
    ]
    assert figure["data"][0]["y"] == ["signalbox", "hindsight"]


def test_page_numbers_are_those_of_signalbox_replay(seeded_day: DashContext) -> None:
    sel = Selection(MODEL, "latency", "round-robin", "900")
    cache = page.ReplayCache()
    refresh(seeded_day, sel, cache)
    until = NOW.replace(minute=0)  # the window ends on the last whole 15-min step
    since = until - timedelta(hours=24)
    obs, endpoints = load(seeded_day.engine, MODEL, since, until)
    heard = [e for e in endpoints if e.provider != SILENT_PROVIDER]
    expected = replay(
        obs,
        heard,
        model=MODEL,
        since=since,
        until=until,
        objective=Objective.LATENCY,
        policy="round-robin",
        step_s=900,
    )
    key = (sel, since, tuple(e.id for e in heard), obs.height)
    assert cache.get(key) is not None
    assert cache.get(key).rows() == expected.rows()  # type: ignore[union-attr]


def test_a_refresh_within_the_same_step_reuses_the_replay(
    seeded_day: DashContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = page.replay

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["policy"])
        return real(*args, **kwargs)

    monkeypatch.setattr(page, "replay", counting)
    cache = page.ReplayCache()
    sel = Selection(MODEL, "balanced", "static-best", "900")
    first = refresh(seeded_day, sel, cache)
    later = DashContext(engine=seeded_day.engine, now=lambda: NOW + timedelta(minutes=5))
    second = refresh(later, sel, cache)
    assert calls == ["static-best"]
    assert _text(first[1]) == _text(second[1])


def test_gain_is_coloured_by_what_is_better_for_the_policy() -> None:
    assert change(200.0, 400.0, higher_is_better=False) == Change("\u221250.0 %", True)
    assert change(90.0, 100.0, higher_is_better=True) == Change("\u221210.0 %", False)
    assert change(0.01, 0.03, higher_is_better=False, points=True) == Change("\u22122.0 pp", True)
    assert change(1.0, 1.0, higher_is_better=True).better is None
    assert change(None, 1.0, higher_is_better=True).text == "—"
    assert change(1.0, 0.0, higher_is_better=True).text == "—"


def test_choice_shares_figure_says_when_there_is_nothing_to_draw() -> None:
    figure = choice_shares_figure({"signalbox": {}, "hindsight": {}}, {})
    assert figure["data"] == [] and figure["layout"]["annotations"]


def test_empty_store_says_what_to_do(engine: Engine) -> None:
    ctx = DashContext(engine=engine, now=lambda: NOW)
    assert EMPTY_STORE in _text(page.layout(ctx, {}))
    status, strategies, gains, figure = refresh(ctx, selection({}, []))
    assert EMPTY_STORE in _text(status) and page.NOTHING in _text((strategies, gains))
    assert figure["data"] == []


def test_day_without_observations_says_there_is_nothing_to_replay(
    seeded_day: DashContext,
) -> None:
    later = DashContext(engine=seeded_day.engine, now=lambda: NOW + timedelta(days=3))
    status, strategies, _, figure = refresh(later, Selection(MODEL, "balanced", "signalbox", "300"))
    assert "No observations of llama-3.1-70b in the last 24 hours" in _text(status)
    assert page.NOTHING in _text(strategies) and figure["data"] == []


def test_providers_never_observed_in_the_same_step_ask_for_a_longer_step(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    ids_ = seed_store(engine, NOW, hours=0).endpoint_ids
    alpha = {("alpha", OTHER_MODEL): ids_[("alpha", OTHER_MODEL)]}
    bravo = {("bravo", OTHER_MODEL): ids_[("bravo", OTHER_MODEL)]}
    rows = observation_rows(alpha, NOW - timedelta(minutes=30), hours=1)
    rows += observation_rows(bravo, NOW - timedelta(hours=3), hours=1)
    with engine.begin() as conn:
        conn.execute(insert(Observation.__table__), rows)
    ctx = DashContext(engine=engine, now=lambda: NOW)
    status, strategies, _, figure = refresh(
        ctx, Selection(OTHER_MODEL, "balanced", "signalbox", "900")
    )
    assert "has observations of every provider (alpha, bravo); choose a longer step" in _text(
        status
    )
    assert page.NOTHING in _text(strategies)
    assert "not enough overlapping data" in _text(figure)


def test_database_down_shows_a_message_never_a_traceback() -> None:
    engine = make_engine(DOWN_URL, connect_args={"connect_timeout": 2})
    ctx = DashContext(engine=engine, now=lambda: NOW)
    for out in (
        page.layout(ctx, {}),
        refresh(ctx, Selection(MODEL, "balanced", "signalbox", "300")),
        refresh(ctx, selection({}, [])),
    ):
        text = _text(out)
        assert "database is unreachable" in text
        assert "Traceback" not in text and "psycopg" not in text


def test_replay_page_is_linked_in_the_nav_and_served_by_the_router(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    seed_store(engine, NOW, hours=0)
    app = create_app(engine)
    assert "/replay" in _text(app.layout)
    payload = {
        "output": f"{ids.PAGE}.children",
        "outputs": {"id": ids.PAGE, "property": "children"},
        "inputs": [{"id": ids.URL, "property": "pathname", "value": "/replay"}],
        "state": [{"id": ids.URL, "property": "search", "value": "?policy=round-robin"}],
        "changedPropIds": [f"{ids.URL}.pathname"],
    }
    response = app.server.test_client().post("/_dash-update-component", json=payload)
    assert response.status_code == 200
    body = json.dumps(response.get_json())
    assert ids.REPLAY_TABLE in body and "round-robin" in body
    assert "SECRET-WEBHOOK-TOKEN" not in body


@pytest.mark.slow
def test_replay_page_draws_in_a_real_browser_and_follows_its_controls(
    driver: Any, sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    seed_store(engine, datetime.now(UTC))
    driver.get("about:blank")
    driver.get_log("browser")  # drop what an earlier test's page left behind
    body = lambda: driver.find_element("tag name", "body").text  # noqa: E731
    with DashboardThread(create_app(engine, refresh_s=2)) as server:
        driver.get(server.base_url + "/")
        harness._wait("nav", lambda: driver.find_elements("link text", "Replay"))[0].click()
        harness._wait("replay URL", lambda: "/replay" in driver.current_url)
        harness._wait("gains table", lambda: "hindsight (the gap)" in body())
        harness._wait(
            "choice shares",
            lambda: any(
                g["id"] == ids.REPLAY_SHARES and g["names"] for g in harness._graphs(driver)
            ),
        )
        assert all(f"only {p}" in body() for p in PROVIDERS)
        assert f"no observations in the last 24 hours: {SILENT_PROVIDER}" in body()
        harness._no_secret_or_traceback(driver)
        harness._shot(driver, "sqlite-replay")

        # choosing a policy updates the URL in place and the tables follow; the timer refreshes
        driver.execute_script("window.__sbx_marker = 1;")
        driver.find_element("xpath", "//label[contains(., 'round-robin')]").click()
        harness._wait("policy in URL", lambda: "policy=round-robin" in driver.current_url)
        harness._wait("round-robin table", lambda: "round-robin (policy)" in body())
        status = driver.find_element("id", ids.REPLAY_STATUS).text
        harness._wait(
            "a refresh", lambda: driver.find_element("id", ids.REPLAY_STATUS).text != status
        )
        assert driver.execute_script("return window.__sbx_marker") == 1
        harness._shot(driver, "sqlite-replay-round-robin")
        driver.get("about:blank")  # stop the page's timer before the server goes
    engine.dispose()


@pytest.mark.slow
def test_replay_page_shows_messages_for_empty_and_unreachable_stores_in_a_real_browser(
    driver: Any, sqlite_url: str
) -> None:
    down = make_engine(DOWN_URL, connect_args={"connect_timeout": 2})
    cases = {"The store has no endpoints yet": make_engine(sqlite_url), "unreachable": down}
    for want, engine in cases.items():
        driver.get("about:blank")
        with DashboardThread(create_app(engine, refresh_s=2)) as server:
            driver.get(server.base_url + "/replay")
            harness._wait(
                f"'{want}'", lambda want=want: want in driver.find_element("tag name", "body").text
            )
            harness._wait("the chart", lambda: harness._graphs(driver))
            assert "Traceback" not in driver.page_source
            harness._shot(driver, f"{'empty' if engine is not down else 'db-down'}-replay")
            driver.get("about:blank")
        engine.dispose()


def test_a_fresh_install_replays_its_first_minutes(sqlite_url: str) -> None:
    # given two minutes of a new store, probed every 5 s as `signalbox demo` does, all of it after
    # the last whole 5-minute step (issue #19: the page said there was nothing to replay)
    engine = make_engine(sqlite_url)
    endpoint_ids = seed_store(engine, NOW, hours=0).endpoint_ids
    rows = observation_rows(endpoint_ids, NOW, hours=2 / 60, step_s=5)
    with engine.begin() as conn:
        conn.execute(insert(Observation.__table__), rows)
    ctx = DashContext(engine=engine, now=lambda: NOW)
    # when the page replays with its default step
    status, strategies, _, figure = refresh(ctx, selection({"model": MODEL}, [MODEL]))
    # then the step in progress is replayed: every strategy has a row and the chart has bars
    text = _text(status)
    assert "1 of 288 had observations of every provider" in text
    assert "to now (the step in progress)" in text and "No observations" not in text
    assert "signalbox (policy)" in _text(strategies)
    assert figure["data"]


def test_constraints_and_routing_settings_reach_the_page(seeded_day: DashContext) -> None:
    from signalbox.catalog import BreakerSettings, RoutingSettings

    routing = RoutingSettings(half_life_s=123, breaker=BreakerSettings(failure_threshold=7))
    ctx = DashContext(
        engine=seeded_day.engine, now=lambda: NOW, routing=routing, routing_note="no catalog here"
    )
    sel = selection({"model": MODEL, "objective": "throughput", "ignore": "alpha"}, [MODEL])
    status, _, _, figure = refresh(ctx, sel)
    text = _text(status)
    assert "No catalog here." in text
    assert "half-life 123 s" in text and "after 7 failures" in text
    assert "constraints: ignore alpha" in text
    assert "alpha" not in {t["name"] for t in figure["data"] if t["x"][0] > 0}


def test_constraints_round_trip_through_the_url() -> None:
    query = {"model": "m", "only": "b,a", "ignore": "c", "max_price": "1.5", "max_error_rate": "2"}
    sel = selection(query, ["m"])
    assert (sel.only, sel.ignore, sel.max_price, sel.max_error_rate) == (
        ("a", "b"),
        ("c",),
        1.5,
        None,
    )
    assert selection(dict(parse_qsl(page.search_for(sel)[1:])), ["m"]) == sel
    assert sel.constraints().only == frozenset({"a", "b"})
