"""Benchmark ``GET /v1/route``: requests per second and latency p50/p99 at N concurrent clients.

The router runs in its own process (uvloop, access log off) with warmed synthetic statistics for
the "fast" fleet's catalog; the load generator runs in this process on a minimal keep-alive
HTTP/1.1 client over asyncio streams (so the client costs as little CPU as possible).

    .venv/bin/python bench/bench_route.py [--concurrency 64] [--duration 5] [--runs 3] [--profile]

``--profile`` runs py-spy on the router process during the first run and writes a flame graph.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODEL = "llama-3.1-70b"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_router(port: int, data_dir: str) -> None:
    """Child process: a router on ``port`` with a few minutes of synthetic observations."""
    import random

    import uvloop
    from aiohttp import web

    from router.app import create_app
    from router.state import STATE
    from signalbox.catalog import parse_catalog
    from signalbox.migrate import upgrade
    from signalbox.settings import Settings
    from simulator.catalog import catalog_toml
    from simulator.scenario import load_scenario

    url = f"sqlite:///{data_dir}/bench.db"
    upgrade(url)
    catalog = parse_catalog(catalog_toml(load_scenario("fast"), "http://127.0.0.1:9"))
    app = create_app(Settings(data_dir=Path(data_dir), database_url=url), catalog, environ={})
    live = app[STATE].live
    rnd = random.Random(1)
    now = time.time()
    for key in live.endpoints:
        base = rnd.uniform(150, 400)
        for i in range(300):
            live.observe(
                key,
                now - i,
                rnd.random() > 0.01,
                ttft_ms=base * rnd.lognormvariate(0, 0.2),
                tps=rnd.uniform(60, 120),
                e2e_ms=base * 10,
            )
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


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


def decide_cost_us(n: int = 20000) -> tuple[float, float]:
    """In-process CPU cost of one decision: (cached ranking, fresh ranking) in microseconds."""
    import random

    from router.live import LiveState
    from router.params import route_query
    from router.select import SelectionSettings, choose, rank
    from signalbox.catalog import parse_catalog
    from signalbox.stats.scoring import Objective, PriceInfo
    from simulator.catalog import catalog_toml
    from simulator.scenario import load_scenario

    catalog = parse_catalog(catalog_toml(load_scenario("fast"), "http://127.0.0.1:9"))
    live = LiveState(
        catalog,
        time.time,
        resolve_price=lambda ref: PriceInfo(1.0, 2.0),
    )
    now = time.time()
    for key in live.endpoints:
        for i in range(100):
            live.observe(key, now - i, True, ttft_ms=200 + i, tps=80)
    rr = route_query({"model": MODEL, "sort": "latency"})
    settings = SelectionSettings()
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


async def _client(
    port: int, path: bytes, stop_at: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET " + path + b" HTTP/1.1\r\nHost: bench\r\n\r\n"
    perf = time.perf_counter
    while perf() < stop_at:
        t0 = perf()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        latencies.append(perf() - t0)
        if not head.startswith(b"HTTP/1.1 200"):
            errors.append(1)
    writer.close()


async def _load(port: int, concurrency: int, duration_s: float) -> tuple[float, list[float], int]:
    path = f"/v1/route?model={MODEL}&sort=latency".encode()
    latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    stop_at = start + duration_s
    await asyncio.gather(
        *(_client(port, path, stop_at, latencies, errors) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, latencies, len(errors)


def _wait_ready(port: int, timeout_s: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("router did not start")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> int:
    """Run the benchmark and print one line per run, then the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="py-spy raw stacks of the router")
    parser.add_argument("--baseline", action="store_true", help="also measure bare aiohttp")
    args = parser.parse_args()

    import uvloop

    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = mp.get_context("spawn").Process(target=serve_router, args=(port, tmp), daemon=True)
        proc.start()
        try:
            _wait_ready(port)
            uvloop.run(_load(port, args.concurrency, 1.0))  # warm-up
            results = []
            for run in range(args.runs):
                spy = None
                if args.profile and run == 0:
                    out = Path(tempfile.gettempdir()) / "route-profile.txt"
                    spy = subprocess.Popen(
                        [
                            str(Path(sys.executable).parent / "py-spy"),
                            "record",
                            "-p",
                            str(proc.pid),
                            "-o",
                            str(out),
                            "-d",
                            str(int(args.duration)),
                            "-r",
                            "200",
                            "--nonblocking",
                            "-f",
                            "raw",
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                rps, lat, errors = uvloop.run(_load(port, args.concurrency, args.duration))
                if spy:
                    spy.wait(timeout=60)
                p50, p99 = _quantile(lat, 0.5) * 1000, _quantile(lat, 0.99) * 1000
                results.append((rps, p50, p99))
                print(
                    f"run {run + 1}: {rps:,.0f} req/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms  errors {errors}  ({len(lat)} requests, {args.concurrency} clients)",
                    flush=True,
                )
            med = [statistics.median(r[i] for r in results) for i in range(3)]
            proc.terminate()  # free the CPU for the comparisons below
            if args.baseline:
                bport = _free_port()
                ctx = mp.get_context("spawn")
                base = ctx.Process(target=serve_baseline, args=(bport,), daemon=True)
                base.start()
                _wait_ready(bport)
                uvloop.run(_load(bport, args.concurrency, 1.0))
                runs = [
                    uvloop.run(_load(bport, args.concurrency, args.duration))
                    for _ in range(args.runs)
                ]
                base.terminate()
                brps = statistics.median(r[0] for r in runs)
                bp50 = statistics.median(_quantile(r[1], 0.5) * 1000 for r in runs)
                bp99 = statistics.median(_quantile(r[1], 0.99) * 1000 for r in runs)
                print(
                    f"bare aiohttp (fixed body), median of {args.runs}: {brps:,.0f} req/s  p50 {bp50:.2f} ms  p99 {bp99:.2f} ms"
                )
            cached, fresh = decide_cost_us()
            print(
                f"decision CPU in-process: {cached:.1f} us (cached ranking), {fresh:.1f} us (fresh ranking)"
            )
            print(
                f"median of {args.runs}: {med[0]:,.0f} req/s  p50 {med[1]:.2f} ms  p99 {med[2]:.2f} ms  (cpus {os.cpu_count()}, loadavg {os.getloadavg()[0]:.2f})"
            )
        finally:
            proc.terminate()
            proc.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
