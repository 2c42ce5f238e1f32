"""The processes the /v1/route benchmark starts and measures: the router on a seeded store, bare
aiohttp as the baseline, and py-spy; and the in-process cost of one decision."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.route.load import MODEL
from bench.spy import py_spy


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_store(data_dir: Path) -> tuple[Path, str]:
    """A catalog file and a migrated SQLite store holding five minutes of observations per
    endpoint (one a second, 1 % failures), ending now."""
    import random
    from datetime import UTC, datetime, timedelta

    from signalbox.catalog import parse_catalog
    from signalbox.db import make_engine
    from signalbox.migrate import upgrade
    from signalbox.records import Observation
    from signalbox.simulator.catalog import catalog_toml
    from signalbox.simulator.scenario import load_scenario
    from signalbox.sync import sync_catalog
    from signalbox.writer import insert_observations

    text = catalog_toml(load_scenario("fast"), "http://127.0.0.1:9")
    catalog_path = data_dir / "catalog.toml"
    catalog_path.write_text(text)
    url = f"sqlite:///{data_dir}/bench.db"
    upgrade(url)
    engine = make_engine(url)
    ids = sync_catalog(engine, parse_catalog(text)).endpoint_ids
    rnd = random.Random(1)
    now = datetime.now(UTC)
    rows = []
    for endpoint_id in ids.values():
        base = rnd.uniform(150, 400)
        for i in range(300):
            ok = rnd.random() > 0.01
            rows.append(
                Observation(
                    endpoint_id=endpoint_id,
                    ts=now - timedelta(seconds=i),
                    source="probe",
                    ok=ok,
                    error_class=None if ok else "server_error",
                    ttft_ms=base * rnd.lognormvariate(0, 0.2) if ok else None,
                    tps=rnd.uniform(60, 120) if ok else None,
                    e2e_ms=base * 10 if ok else None,
                ).to_row()
            )
    insert_observations(engine, rows)
    engine.dispose()
    return catalog_path, url


def start_router(data_dir: Path, port: int, workers: int) -> subprocess.Popen:
    """``signalbox router --workers N`` on the seeded store (waits until it answers)."""
    catalog_path, url = (
        seed_store(data_dir)
        if not (data_dir / "bench.db").exists()
        else (
            data_dir / "catalog.toml",
            f"sqlite:///{data_dir}/bench.db",
        )
    )
    cmd = [
        str(Path(sys.executable).parent / "signalbox"),
        "--catalog",
        str(catalog_path),
        "--database-url",
        url,
        "--data-dir",
        str(data_dir),
        "--log-level",
        "ERROR",
        "router",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port)
    time.sleep(1.0 + workers)  # every worker bound and warmed, not only the first
    return proc


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then wait (the router stops its workers)."""
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def serve_baseline(port: int) -> None:
    """Child process: bare aiohttp returning a fixed body of the same size, for comparison."""
    import uvloop
    from aiohttp import web

    body = b'{"x": "' + b"y" * 900 + b'"}'

    async def fixed(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/v1/route", fixed)
    app.router.add_get("/readyz", fixed)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def wait_ready(port: int, timeout_s: float = 30.0) -> None:
    """Poll ``/readyz`` on ``port`` until it answers 200 (RuntimeError after ``timeout_s``)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("router did not start")


def decide_cost_us(n: int = 20000) -> tuple[float, float]:
    """In-process CPU cost of one decision: (cached ranking, fresh ranking) in microseconds."""
    import random

    from signalbox.catalog import parse_catalog
    from signalbox.records import Sample
    from signalbox.router.live import LiveState
    from signalbox.router.params import route_query
    from signalbox.routing.objectives import Objective
    from signalbox.routing.scoring import PriceInfo
    from signalbox.routing.select import choose, rank
    from signalbox.simulator.catalog import catalog_toml
    from signalbox.simulator.scenario import load_scenario

    catalog = parse_catalog(catalog_toml(load_scenario("fast"), "http://127.0.0.1:9"))
    live = LiveState(
        catalog,
        time.time,
        resolve_price=lambda ref: PriceInfo(1.0, 2.0),
    )
    now = time.time()
    for key in live.endpoints:
        for i in range(100):
            live.observe(key, Sample(now - i, True, ttft_ms=200 + i, tps=80))
    rr = route_query({"model": MODEL, "sort": "latency"})
    settings = catalog.routing
    t0 = time.perf_counter()
    for _ in range(n):
        ranking = rank(
            MODEL,
            live.candidates(MODEL, Objective.LATENCY),
            Objective.LATENCY,
            rr.shape,
            rr.constraints,
        )
        choose(ranking, settings, random.random(), random.random())
    fresh = (time.perf_counter() - t0) / n * 1e6
    t0 = time.perf_counter()
    for _ in range(n):
        route_query({"model": MODEL, "sort": "latency"})
        choose(ranking, settings, random.random(), random.random())
    cached = (time.perf_counter() - t0) / n * 1e6
    return cached, fresh


def profile(pid: int, duration_s: float) -> None:
    """Start py-spy on ``pid`` (and its worker processes) for one run; raw stacks to a temp file."""
    out = Path(tempfile.gettempdir()) / "route-profile.txt"
    py_spy(pid, out, duration_s + 1, subprocesses=True)
    print(f"py-spy raw stacks -> {out}", flush=True)
