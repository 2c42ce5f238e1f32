"""The Dash app, built per instance by :func:`create_app`: a shell (navigation, URL, refresh
timer), the pages with their callbacks bound to this app, and optional basic auth.

Pages are registered on the instance rather than through ``dash.register_page``, whose registry is
module-global: two apps in one process (tests, one per database) would share each other's pages.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs

import dash
from dash import Input, Output, State, dcc, html
from flask import Response, request
from sqlalchemy import Engine

from signalbox.catalog import RoutingSettings, routing_settings
from signalbox.dashboard import demo_controls, ids
from signalbox.dashboard.context import DashContext
from signalbox.dashboard.notices import notice
from signalbox.dashboard.pages import alerts, model, overview, replay, routes, routing
from signalbox.records import utcnow
from signalbox.settings import Settings

PAGES = (overview, model, alerts, routing, routes, replay)

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       background: #f6f7f9; color: #222; }
.topbar { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #1f2937; }
.topbar .brand { color: #fff; font-weight: 600; font-size: 18px; }
.topbar a { color: #cbd5e1; text-decoration: none; font-size: 15px; }
.topbar a:hover { color: #fff; }
.content { padding: 16px 24px; max-width: 1400px; margin: 0 auto; }
.card { background: #fff; border: 1px solid #e3e6ea; border-radius: 6px; padding: 12px 16px;
        margin-bottom: 16px; }
.card h3 { margin: 0 0 8px 0; font-size: 17px; }
.notice { padding: 10px 14px; border-radius: 4px; margin-bottom: 12px; font-size: 14px; }
.notice-info { background: #e8f0fe; color: #1a3e72; }
.notice-warn { background: #fff4e5; color: #7a4100; }
.notice-error { background: #fdecea; color: #7f1d1d; }
.alert-banner { background: #fdecea; border: 1px solid #f5c2c0; }
table.grid { border-collapse: collapse; width: 100%; font-size: 13px; }
table.grid th { text-align: left; font-weight: 600; color: #555; border-bottom: 2px solid #e3e6ea;
                padding: 5px 8px; vertical-align: bottom; }
table.grid th.num { text-align: right; }
table.grid td.best { font-weight: 700; color: #1b5e20; }
table.grid td { border-bottom: 1px solid #eef0f2; padding: 5px 8px; white-space: nowrap; }
table.grid td.num { text-align: right; font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px;
          vertical-align: -1px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; }
.controls { display: flex; gap: 28px; align-items: center; flex-wrap: wrap; margin-bottom: 12px; }
.controls label.head { font-weight: 600; margin-right: 8px; font-size: 14px; }
.controls .dash-radioitems label, .controls .radio label { margin-right: 12px; font-size: 14px; }
.graphs { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.graphs .card { margin-bottom: 0; padding: 4px; }
.model-row { display: grid; grid-template-columns: minmax(0, 1fr); gap: 8px; }
.model-row .tablebox { overflow-x: auto; }
a.action { font-size: 14px; }
"""

INDEX = (
    """<!DOCTYPE html>
<html><head>{%metas%}<title>{%title%}</title>{%favicon%}{%css%}<style>"""
    + STYLE
    + """</style>
</head><body>{%app_entry%}<footer>{%config%}{%scripts%}{%renderer%}</footer></body></html>"""
)


def _basic_auth(server, credentials: str) -> None:  # type: ignore[no-untyped-def]
    """Require HTTP basic auth ``user:password`` on every request of ``server``."""
    expected = "Basic " + base64.b64encode(credentials.encode()).decode()

    @server.before_request
    def _check() -> Response | None:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), expected.encode()):
            return None
        return Response(
            "authentication required", 401, {"WWW-Authenticate": 'Basic realm="signalbox"'}
        )


def _shell(ctx: DashContext) -> html.Div:
    nav = [html.Span("Signalbox", className="brand")]
    nav += [dcc.Link(page.NAME, href=page.PATH) for page in PAGES]
    return html.Div(
        [
            dcc.Location(id=ids.URL, refresh=False),
            dcc.Interval(id=ids.REFRESH, interval=int(ctx.refresh_s * 1000), n_intervals=0),
            html.Div(nav, className="topbar", id=ids.NAV),
            html.Div(id=ids.PAGE, className="content"),
        ]
    )


def query_params(search: str | None) -> dict[str, str]:
    """``?model=x&window=1h`` → ``{"model": "x", "window": "1h"}`` (first value of each key)."""
    parsed = parse_qs((search or "").lstrip("?"), keep_blank_values=False)
    return {key: values[0] for key, values in parsed.items() if values}


def create_app(
    target: Settings | Engine | str,
    *,
    now: Callable[[], datetime] = utcnow,
    refresh_s: float = 30.0,
    routing: RoutingSettings | None = None,
    auth: str | None = None,
    simulator_url: str | None = None,
) -> dash.Dash:
    """A console on ``target`` (settings, an engine or a database URL). Nothing is read from the
    store until a page asks. ``routing`` (staleness, breaker thresholds, ranking) defaults to the
    catalog's ``[routing]`` when ``target`` is settings, else to the defaults, and the pages say
    so. ``auth`` ("user:password") and ``simulator_url`` (demo: the "break a provider" control)
    default to the settings' values."""
    from signalbox.db import make_engine

    note = None
    if isinstance(target, Settings):
        engine = make_engine(target.effective_database_url)
        auth = target.dashboard_auth if auth is None else auth
        simulator_url = simulator_url or getattr(target, "simulator_url", None)
        if routing is None:
            routing, note = routing_settings(target.catalog)
    elif isinstance(target, str):
        engine = make_engine(target)
    else:
        engine = target
    if routing is None:
        routing, note = (
            RoutingSettings(),
            "no catalog given: ranking with the default routing settings",
        )
    ctx = DashContext(
        engine=engine,
        now=now,
        refresh_s=refresh_s,
        routing=routing,
        routing_note=note,
        simulator_url=simulator_url,
    )

    app = dash.Dash(
        __name__,
        title="Signalbox",
        update_title=None,
        suppress_callback_exceptions=True,
        serve_locally=True,
    )
    app.index_string = INDEX
    app.layout = _shell(ctx)
    if auth:
        if ":" not in auth:
            raise ValueError("dashboard auth must be 'user:password'")
        _basic_auth(app.server, auth)

    routes = {page.PATH: page for page in PAGES}

    @app.callback(
        Output(ids.PAGE, "children"), Input(ids.URL, "pathname"), State(ids.URL, "search")
    )
    def _route(pathname: str | None, search: str | None) -> object:
        page = routes.get((pathname or "/").rstrip("/") or "/")
        if page is None:
            return notice(f"No page at {pathname}. Use the links above.", "warn")
        return page.layout(ctx, query_params(search))

    for page in PAGES:
        page.register(app, ctx)
    demo_controls.register(app, ctx)
    app.server.config["SIGNALBOX_CONTEXT"] = ctx
    return app
