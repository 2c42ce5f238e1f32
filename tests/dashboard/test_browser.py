"""End to end: seed a store (SQLite and PostgreSQL), serve the dashboard, load every page in headless
Chromium, wait until every chart has a trace for each provider, save screenshots."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from signalbox.dashboard.app import create_app
from signalbox.db import make_engine
from tests.dashboard.seed import MODEL, PROFILES, ROUTES, SILENT_PROVIDER, seed_store
from tests.dashboard.server import DashboardThread

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PROVIDERS = sorted(PROFILES)
SECRETS = ("SECRET-WEBHOOK-TOKEN", "sk-dashboard-test-secret")

GRAPHS_JS = """
return Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => ({
  id: (el.closest('.dash-graph') || el).id,
  names: (el.data || []).map(t => t.name),
  title: (el.layout && el.layout.title && el.layout.title.text) || ''
}));
"""


def _browser_missing() -> str | None:
    if os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER):
        return None
    return f"{CHROMIUM} or {CHROMEDRIVER} missing (apt-get install chromium chromium-driver)"


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    """One headless Chromium for the module, with a fresh profile."""
    missing = _browser_missing()
    if missing:
        if os.environ.get("SIGNALBOX_REQUIRE_BROWSER") == "1":
            pytest.fail(missing + " (SIGNALBOX_REQUIRE_BROWSER=1)")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="sbx-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait(what: str, check: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def _graphs(driver: Any) -> list[dict]:
    return driver.execute_script(GRAPHS_JS)


def _charts_ready(driver: Any, expected: dict[str, list[str]]) -> Callable[[], Any]:
    """Every graph in ``expected`` (id prefix → providers) has a trace for each provider."""

    def check() -> list[dict] | None:
        graphs = _graphs(driver)
        for prefix, providers in expected.items():
            matching = [g for g in graphs if prefix in g["id"]]
            if not matching:
                return None
            for g in matching:
                if not set(providers) <= set(g["names"]):
                    return None
        return graphs

    return check


def _shot(driver: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    metrics = {"width": 1400, "height": min(height, 4000), "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def _no_secret_or_traceback(driver: Any) -> None:
    source = driver.page_source
    for secret in SECRETS:
        assert secret not in source
    assert "Traceback" not in source
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []  # no failed callback (HTTP 500) or script error


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A store seeded with a day of observations, alerts and decisions, on each database."""
    monkeypatch.setenv("ALPHA_SECRET_KEY", SECRETS[1])
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "fresh_pg_url")
    engine = make_engine(url)
    seed_store(engine, datetime.now(UTC))
    yield engine
    engine.dispose()


def test_every_page_draws_each_provider_in_a_real_browser(driver: Any, seeded: Engine) -> None:
    db = seeded.dialect.name
    app = create_app(seeded, refresh_s=2)
    driver.get("about:blank")
    driver.get_log("browser")  # drop what an earlier test's page left behind
    with DashboardThread(app) as server:
        # overview: the ranking table, a trend per model with every provider, the firing alert
        driver.get(server.base_url + "/")
        _wait("overview sparklines", _charts_ready(driver, {"ov-spark": []}))
        _wait(
            "llama sparkline with every provider",
            lambda: any(
                MODEL in g["id"] and set(PROVIDERS) <= set(g["names"]) for g in _graphs(driver)
            ),
        )
        body = driver.find_element("tag name", "body").text
        assert "alert(s) firing" in body and "high-error-rate" in body
        assert "no data" in body  # the silent provider's state
        _no_secret_or_traceback(driver)
        _shot(driver, f"{db}-overview")

        # one click from the overview to a day of tokens/sec
        link = driver.find_element("partial link text", "tokens/sec of every provider")
        link.click()
        _wait("model URL", lambda: "window=24h" in driver.current_url)
        model_graphs = {
            g: PROVIDERS
            for g in ("model-tps", "model-ttft", "model-errors", "model-cost", "model-samples")
        }
        graphs = _wait("model charts", _charts_ready(driver, model_graphs))
        tps = next(g for g in graphs if g["id"] == "model-tps")
        assert "tokens/sec" in tps["title"].lower()
        assert SILENT_PROVIDER in driver.find_element("tag name", "body").text  # named as no data
        _no_secret_or_traceback(driver)
        _shot(driver, f"{db}-model-24h")

        # choosing another window updates the URL in place (no reload) and the charts follow
        driver.execute_script("window.__sbx_marker = 1;")
        driver.find_element("xpath", "//label[contains(., '7 days')]").click()
        _wait("7d in URL", lambda: "window=7d" in driver.current_url)
        _wait("7d charts", lambda: "last 7 days" in driver.find_element("tag name", "body").text)
        _wait("7d traces", _charts_ready(driver, model_graphs))
        _shot(driver, f"{db}-model-7d")
        # the timer refreshes the page in place: the status line's time moves on, no reload
        status = driver.find_element("id", "model-status").text
        _wait("a refresh", lambda: driver.find_element("id", "model-status").text != status)
        assert driver.execute_script("return window.__sbx_marker") == 1

        # the URL holds the selection: loading it directly shows the same view
        driver.get(server.base_url + f"/model?model={MODEL}&window=15m&source=probe")
        _wait("15m model charts", _charts_ready(driver, model_graphs))
        assert "last 15 min" in driver.find_element("tag name", "body").text
        _shot(driver, f"{db}-model-15m-probe")

        driver.get(server.base_url + "/alerts")
        _wait("alerts timeline", _charts_ready(driver, {"alerts-timeline": PROVIDERS}))
        text = driver.find_element("tag name", "body").text
        assert "still firing" in text and "ttft-regression" in text
        _no_secret_or_traceback(driver)
        _shot(driver, f"{db}-alerts")

        driver.get(server.base_url + f"/routing?model={MODEL}&window=24h")
        _wait(
            "routing charts",
            _charts_ready(driver, {"routing-share": PROVIDERS, "routing-reasons": PROVIDERS}),
        )
        _no_secret_or_traceback(driver)
        _shot(driver, f"{db}-routing")

        # routes: escalation and cost of each route over time, paths, triggers, latest requests
        driver.get(server.base_url + "/routes?window=24h")
        routes_charts = {"routes-escalation": ROUTES, "routes-cost": ROUTES, "routes-triggers": []}
        _wait("routes charts", _charts_ready(driver, routes_charts))
        _wait(
            "latest routed requests",
            lambda: "small" in driver.find_element("id", "routes-recent").text,
        )
        _no_secret_or_traceback(driver)
        _shot(driver, f"{db}-routes")
        driver.get("about:blank")  # stop the page's timer before the server goes


def test_empty_and_unreachable_stores_show_messages_in_a_real_browser(
    driver: Any, sqlite_url: str
) -> None:
    down = make_engine(
        "postgresql://postgres@127.0.0.1:1/nowhere", connect_args={"connect_timeout": 2}
    )
    cases = {"empty": make_engine(sqlite_url), "db-down": down}
    expected = {"empty": "The store has no endpoints yet", "db-down": "The database is unreachable"}
    for name, engine in cases.items():
        driver.get("about:blank")
        driver.get_log("browser")
        with DashboardThread(create_app(engine, refresh_s=2)) as server:
            for path in ("/", "/model", "/alerts", "/routing"):
                driver.get(server.base_url + path)
                want = (
                    "Nothing is firing" if (name, path) == ("empty", "/alerts") else expected[name]
                )
                _wait(
                    f"'{want}' on {path}",
                    lambda want=want: want in driver.find_element("tag name", "body").text,
                )
                graphs = {"/": 0, "/model": 5, "/alerts": 1, "/routing": 2}[path]
                _wait("charts drawn", lambda graphs=graphs: len(_graphs(driver)) >= graphs)
                assert "Traceback" not in driver.page_source
                page = path.strip("/") or "overview"
                _shot(driver, f"{name}-{page}")
            driver.get("about:blank")
        engine.dispose()


RANGES_JS = """
return Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => {
  const xs = (el.data || []).flatMap(t => (t.x || []).map(v => Date.parse(String(v).replace(' ', 'T') + 'Z')));
  const range = (el._fullLayout && el._fullLayout.xaxis && el._fullLayout.xaxis.range) || [];
  return {
    id: (el.closest('.dash-graph') || el).id,
    traces: (el.data || []).length,
    names: (el.data || []).map(t => t.name),
    x_min: xs.length ? Math.min(...xs) : null,
    x_max: xs.length ? Math.max(...xs) : null,
    range: range.map(v => Date.parse(String(v).replace(' ', 'T') + 'Z')),
    y_categories: (el.data || []).flatMap(t => t.orientation === 'h' ? (t.y || []) : []),
    x_dtick: el.layout && el.layout.xaxis ? el.layout.xaxis.dtick : null,
  };
});
"""
NO_DATA_NOTICES = ("No observations", "no observations", "nothing to replay", "No routing decision")


def _fills_its_axis(graph: dict) -> bool:
    """The data spans at least a third of the drawn time axis (squeezed, three minutes of data
    cover 5 % of an hour's axis; fitted, the axis adds about a bucket before them and the
    running bucket after)."""
    lo, hi = graph["range"] if len(graph["range"]) == 2 else (None, None)
    if graph["x_min"] is None or lo is None or hi <= lo:
        return False
    return (graph["x_max"] - graph["x_min"]) >= (hi - lo) / 3


@pytest.fixture
def fresh_store(sqlite_url: str) -> Iterator[Engine]:
    """A store as a new install has it after three minutes of probes and traffic."""
    from tests.dashboard.seed import seed_fresh_store

    engine = make_engine(sqlite_url)
    seed_fresh_store(engine, datetime.now(UTC), minutes=3)
    yield engine
    engine.dispose()


def test_a_store_minutes_old_fills_every_chart_in_a_real_browser(
    driver: Any, fresh_store: Engine
) -> None:
    app = create_app(fresh_store, refresh_s=60)
    driver.get("about:blank")
    driver.get_log("browser")
    with DashboardThread(app) as server:

        def graphs_with_data(prefixes: list[str]) -> Callable[[], Any]:
            def check() -> list[dict] | None:
                graphs = driver.execute_script(RANGES_JS)
                wanted = [g for g in graphs if any(p in g["id"] for p in prefixes)]
                if len(wanted) < len(prefixes) or not all(g["traces"] for g in wanted):
                    return None
                return wanted

            return check

        def no_empty_notice() -> None:
            # a notice may name the provider that never answered, never one with data
            lines = driver.find_element("tag name", "body").text.splitlines()
            empty = [line for line in lines if any(n in line for n in NO_DATA_NOTICES)]
            named = [line for line in empty if MODEL in line or any(p in line for p in PROVIDERS)]
            assert not named, named

        # overview: each model's trend has every provider with data and fills its axis; the
        # ranking table fits the page at 1400 px (no horizontal scroll)
        driver.get(server.base_url + "/")
        sparks = _wait("overview trends", graphs_with_data(["ov-spark"]))
        for spark in sparks:
            assert _fills_its_axis(spark), spark
        assert set(PROVIDERS) <= {n for s in sparks for n in s["names"]}
        overflow = driver.execute_script(
            "return Array.from(document.querySelectorAll('.tablebox'))"
            ".map(b => b.scrollWidth - b.clientWidth)"
        )
        assert overflow and max(overflow) <= 0, overflow
        no_empty_notice()
        _no_secret_or_traceback(driver)
        _shot(driver, "fresh-overview")

        # model page: every chart has data filling its axis, in the hour and the day windows
        for window in ("1h", "24h"):
            driver.get(server.base_url + f"/model?model={MODEL}&window={window}&source=both")
            charts = _wait(f"{window} charts", graphs_with_data(list(MODEL_GRAPHS)))
            for chart in charts:
                assert set(PROVIDERS) <= set(chart["names"]) or "ttft" in chart["id"], chart
                assert _fills_its_axis(chart), (window, chart)
            no_empty_notice()
            _shot(driver, f"fresh-model-{window}")

        # routing page: the share chart fills its axis; reasons are counted by kind on whole
        # numbers, never by their text with figures in it
        driver.get(server.base_url + f"/routing?model={MODEL}&window=24h")
        share, reasons = _wait(
            "routing charts", graphs_with_data(["routing-share", "routing-reasons"])
        )
        assert _fills_its_axis(share), share
        kinds = set(reasons["y_categories"])
        assert kinds and not any(ch.isdigit() for kind in kinds for ch in kind), kinds
        assert isinstance(reasons["x_dtick"], int) and reasons["x_dtick"] >= 1
        no_empty_notice()
        _no_secret_or_traceback(driver)
        _shot(driver, "fresh-routing")

        # replay: the first minutes are replayed (where each strategy sent its steps is drawn)
        driver.get(server.base_url + f"/replay?model={MODEL}&objective=throughput")
        (shares,) = _wait("replay shares", graphs_with_data(["replay-shares"]))
        assert set(shares["names"]) <= set(PROVIDERS) and shares["names"], shares
        _wait(
            "replay gains",
            lambda: driver.find_element("id", "replay-gains").text.strip(),
        )
        no_empty_notice()
        _no_secret_or_traceback(driver)
        _shot(driver, "fresh-replay")

        # routes: minutes of routed requests fill the escalation, cost and path charts
        driver.get(server.base_url + "/routes?window=24h")
        charts = _wait(
            "routes charts", graphs_with_data(["routes-escalation", "routes-cost", "routes-paths"])
        )
        for chart in charts:
            assert _fills_its_axis(chart), chart
        no_empty_notice()
        _no_secret_or_traceback(driver)
        _shot(driver, "fresh-routes")

        # alerts: nothing fired yet, and the page says so rather than failing
        driver.get(server.base_url + "/alerts")
        _wait(
            "alerts page",
            lambda: "Nothing is firing" in driver.find_element("tag name", "body").text,
        )
        _no_secret_or_traceback(driver)
        _shot(driver, "fresh-alerts")
        driver.get("about:blank")


MODEL_GRAPHS = ("model-tps", "model-ttft", "model-errors", "model-cost", "model-samples")
