"""Page callbacks and the app shell: URL selection, messages for empty/no-data/down stores,
basic auth, and no secret in anything served."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from signalbox.dashboard import ids
from signalbox.dashboard.app import create_app, query_params
from signalbox.dashboard.context import DashContext
from signalbox.dashboard.notices import EMPTY_STORE
from signalbox.dashboard.pages import alerts, model, overview, routing
from signalbox.db import make_engine
from tests.dashboard.seed import MODEL, SILENT_PROVIDER, seed_store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DOWN_URL = "postgresql://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1


@pytest.fixture
def down() -> DashContext:
    engine = make_engine(DOWN_URL, connect_args={"connect_timeout": 2})
    return DashContext(engine=engine, now=lambda: NOW)


def _text(component: object) -> str:
    return json.dumps(
        component, default=lambda c: c.to_plotly_json() if hasattr(c, "to_plotly_json") else str(c)
    )


def test_query_string_becomes_the_selection() -> None:
    assert query_params("?model=m&window=24h&window=7d") == {"model": "m", "window": "24h"}
    assert model.selection({"model": "m", "window": "7d", "source": "probe"}, ["m", "n"]) == (
        "m",
        "7d",
        "probe",
    )
    assert model.selection({"model": "gone", "window": "1y", "source": "x"}, ["m"]) == (
        "m",
        "1h",
        "both",
    )
    assert model.search_for("m", "24h", "both") == "?model=m&window=24h&source=both"


def test_model_page_layout_takes_its_controls_from_the_url(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    seed_store(engine, NOW, hours=0)
    page = model.layout(
        DashContext(engine=engine), {"model": MODEL, "window": "30d", "source": "traffic"}
    )
    values = {
        c.id: c.value
        for c in page._traverse()
        if getattr(c, "id", None) in (ids.MODEL_SELECT, ids.MODEL_WINDOW, ids.MODEL_SOURCE)
    }
    assert values == {ids.MODEL_SELECT: MODEL, ids.MODEL_WINDOW: "30d", ids.MODEL_SOURCE: "traffic"}


def test_empty_store_says_what_to_do_on_every_page(engine: Engine) -> None:
    ctx = DashContext(engine=engine, now=lambda: NOW)
    assert EMPTY_STORE in _text(overview.layout(ctx, {}))
    assert EMPTY_STORE in _text(overview.refresh(ctx, [])[0])
    assert EMPTY_STORE in _text(model.charts(ctx, None, "1h", "both")[0])
    assert EMPTY_STORE in _text(routing.refresh(ctx, None, "24h")[0])
    assert "Nothing is firing" in _text(alerts.refresh(ctx)[1])


def test_endpoint_without_data_is_named_on_the_model_page(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    seed_store(engine, NOW, hours=1)
    status, *figures = model.charts(
        DashContext(engine=engine, now=lambda: NOW), MODEL, "1h", "both"
    )
    assert f"for: {SILENT_PROVIDER}." in _text(status)
    assert all(SILENT_PROVIDER not in {t["name"] for t in f["data"]} for f in figures)


def test_window_without_data_draws_messages(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    seed_store(engine, NOW, hours=1)
    status, *figures = model.charts(
        DashContext(engine=engine, now=lambda: NOW), MODEL, "15m", "traffic"
    )
    later = DashContext(engine=engine, now=lambda: NOW.replace(day=28))
    status, *figures = model.charts(later, MODEL, "15m", "both")
    assert "No observations for llama-3.1-70b in the last 15 min" in _text(status)
    assert all(f["data"] == [] and f["layout"]["annotations"] for f in figures)


def test_database_down_shows_a_message_on_every_page_never_a_traceback(down: DashContext) -> None:
    outputs = [
        overview.layout(down, {}),
        overview.refresh(down, [MODEL]),
        model.layout(down, {}),
        model.charts(down, MODEL, "24h", "both"),
        alerts.refresh(down),
        routing.layout(down, {}),
        routing.refresh(down, MODEL, "1h"),
    ]
    for out in outputs:
        text = _text(out)
        assert "database is unreachable" in text
        assert "Traceback" not in text and "psycopg" not in text


def _layout_of(client, path: str) -> str:  # type: ignore[no-untyped-def]
    payload = {
        "output": f"{ids.PAGE}.children",
        "outputs": {"id": ids.PAGE, "property": "children"},
        "inputs": [{"id": ids.URL, "property": "pathname", "value": path}],
        "state": [{"id": ids.URL, "property": "search", "value": ""}],
        "changedPropIds": [f"{ids.URL}.pathname"],
    }
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200
    return json.dumps(response.get_json(), ensure_ascii=False)


def test_router_callback_serves_each_page_and_a_message_for_unknown_paths(engine: Engine) -> None:
    seed_store(engine, NOW, hours=0)
    client = create_app(engine).server.test_client()
    for page in (overview, model, alerts, routing):
        body = _layout_of(client, page.PATH)
        assert "SECRET-WEBHOOK-TOKEN" not in body and "base_url" not in body
    assert "No page at /nope" in _layout_of(client, "/nope")


def test_basic_auth_guards_every_route(engine: Engine) -> None:
    client = create_app(engine, auth="ops:s3cret").server.test_client()
    assert client.get("/").status_code == 401
    assert client.get("/_dash-layout").status_code == 401
    wrong = base64.b64encode(b"ops:nope").decode()
    assert client.get("/", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    good = base64.b64encode(b"ops:s3cret").decode()
    assert client.get("/", headers={"Authorization": f"Basic {good}"}).status_code == 200


def test_auth_without_a_colon_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="user:password"):
        create_app(engine, auth="justapassword")


def test_two_apps_in_one_process_keep_their_own_stores(tmp_path, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    seeded = make_engine(sqlite_url)
    seed_store(seeded, NOW, hours=0)
    from signalbox.migrate import upgrade

    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    upgrade(other_url)
    a = create_app(seeded).server.test_client()
    b = create_app(make_engine(other_url)).server.test_client()
    assert MODEL in _layout_of(a, "/")
    assert EMPTY_STORE in _layout_of(b, "/")


def test_the_console_takes_the_catalogs_routing_settings_or_says_it_uses_defaults(
    sqlite_url: str, tmp_path: Path
) -> None:
    from signalbox.settings import Settings

    catalog = tmp_path / "catalog.toml"
    catalog.write_text("[routing]\nstale_after_s = 42\n[routing.breaker]\nfailure_threshold = 2\n")
    app = create_app(Settings(database_url=sqlite_url, catalog=catalog))
    ctx = app.server.config["SIGNALBOX_CONTEXT"]
    assert ctx.routing.stale_after_s == 42 and ctx.routing.breaker.failure_threshold == 2
    assert ctx.routing_note is None
    app = create_app(Settings(database_url=sqlite_url, catalog=tmp_path / "absent.toml"))
    ctx = app.server.config["SIGNALBOX_CONTEXT"]
    assert ctx.routing.stale_after_s == 300
    assert "absent.toml not readable" in ctx.routing_note


def test_the_routing_page_says_how_its_decisions_were_sampled(sqlite_url: str) -> None:
    from signalbox.catalog import RoutingSettings

    engine = make_engine(sqlite_url)
    seed_store(engine, NOW, hours=1)
    ctx = DashContext(
        engine=engine, now=lambda: NOW, routing=RoutingSettings(decision_sample_rate=0.25)
    )
    status = _text(routing.refresh(ctx, MODEL, "24h")[0])
    assert "a random 25% of their decisions" in status and "decisions recorded" in status
