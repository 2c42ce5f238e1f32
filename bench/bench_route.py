"""Benchmark ``GET /v1/route``: requests per second and latency p50/p99 at N concurrent clients.

The router is the real ``signalbox router [--workers N]`` command, on a SQLite store seeded with
five minutes of synthetic observations for the "fast" fleet's catalog, so it warms from the store
exactly as in production. The load comes from ``wrk`` when it is installed (a C load generator:
it leaves the router nearly all the CPU; Debian package ``wrk``), else from a minimal keep-alive
HTTP/1.1 client over asyncio streams in this process. Each configuration runs ``--runs`` times
and the medians are printed, with bare aiohttp returning a constant body of the same size as the
baseline in the same script (``--baseline``).

Closed-loop clients obey Little's law: mean latency = clients / throughput, so 64 clients at
10,000 req/s wait 6.4 ms on average whatever the server does. ``--rate`` adds an open-loop run
(requests sent on a fixed schedule over the same connections) that shows latency when the router
is not the bottleneck.

    python bench/bench_route.py [--concurrency 64] [--duration 5] [--runs 5]
        [--workers 1 2] [--baseline] [--rate 2000] [--client auto|wrk|python] [--profile]

``--profile`` runs py-spy on the router process during the first run and writes raw stacks.
Every run writes bench/results/route-<UTC time>.json (``bench.record.Run``: every repetition's
figures and the medians); bench/report.py builds the README's row from it (``readme_rows``).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.record import Row, Run, command_line  # noqa: E402

MODEL = "llama-3.1-70b"
ROUTE_PATH = f"/v1/route?model={MODEL}&sort=latency"
T = TypeVar("T")
# The targets for /v1/route: throughput per configuration, and p99 latency.
TARGET_RPS = 10_000.0
TARGET_P99_MS = 2.0
ClosedRun = tuple[float, float, float, int]  # req/s, p50 ms, p99 ms, errors
OpenRun = tuple[float, float]  # p50 ms, p99 ms


def _free_port() -> int:
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
    _wait_ready(port)
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


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> bytes:
    """One keep-alive request and its whole response; returns the response head."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return head


async def _client(
    port: int, path: bytes, stop_at: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET " + path + b" HTTP/1.1\r\nHost: bench\r\n\r\n"
    perf = time.perf_counter
    while perf() < stop_at:
        t0 = perf()
        head = await _exchange(reader, writer, request)
        latencies.append(perf() - t0)
        if not head.startswith(b"HTTP/1.1 200"):
            errors.append(1)
    writer.close()


async def _load(port: int, concurrency: int, duration_s: float) -> tuple[float, list[float], int]:
    path = ROUTE_PATH.encode()
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


def wrk_run(port: int, concurrency: int, duration_s: float) -> tuple[float, float, float, int]:
    """One wrk run: (req/s, p50 ms, p99 ms, non-2xx responses + socket errors)."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{duration_s:g}s",
            "--latency",
            f"http://127.0.0.1:{port}{ROUTE_PATH}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = p50 = p99 = 0.0
    errors = 0
    for line in out.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(words[1])
        elif words[:1] == ["50%"]:
            p50 = _ms(words[1])
        elif words[:1] == ["99%"]:
            p99 = _ms(words[1])
        elif line.strip().startswith(("Non-2xx", "Socket errors")):
            errors += sum(int(w.strip(",")) for w in words if w.strip(",").isdigit())
    return rps, p50, p99, errors


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def python_run(port: int, concurrency: int, duration_s: float) -> tuple[float, float, float, int]:
    """One run of the in-process asyncio client: (req/s, p50 ms, p99 ms, errors)."""
    import uvloop

    rps, lat, errors = uvloop.run(_load(port, concurrency, duration_s))
    return rps, _quantile(lat, 0.5) * 1000, _quantile(lat, 0.99) * 1000, errors


async def _paced(port: int, rate: float, concurrency: int, duration_s: float) -> list[float]:
    """Open loop: request i is due at i / rate; each goes out on a free connection and its
    latency counts from when it was due (so queueing in the client counts against the router)."""
    path = ROUTE_PATH.encode()
    request = b"GET " + path + b" HTTP/1.1\r\nHost: bench\r\n\r\n"
    conns: asyncio.Queue = asyncio.Queue()
    for _ in range(concurrency):
        conns.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    perf = time.perf_counter  # uvloop's loop.time() ticks in whole milliseconds
    start = perf()
    total = int(rate * duration_s)

    async def one(due: float) -> None:
        reader, writer = await conns.get()
        await _exchange(reader, writer, request)
        latencies.append(perf() - due)
        conns.put_nowait((reader, writer))

    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - perf()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    while not conns.empty():
        conns.get_nowait()[1].close()
    return latencies


def measure(port: int, args: argparse.Namespace, client: str, label: str) -> list[ClosedRun]:
    """Warm up, then ``args.runs`` closed-loop runs; prints and returns each."""
    run_once = wrk_run if client == "wrk" else python_run
    run_once(port, args.concurrency, 1.0)
    results = []
    for run in range(args.runs):
        rps, p50, p99, errors = run_once(port, args.concurrency, args.duration)
        results.append((rps, p50, p99, errors))
        print(
            f"  {label} run {run + 1}: {rps:,.0f} req/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms  errors {errors}",
            flush=True,
        )
    return results


def closed_loop(runs: list[ClosedRun]) -> dict[str, Any]:
    """Every closed-loop run's figures, their medians and the errors summed over the runs."""
    rows = [{"rps": r, "p50_ms": p50, "p99_ms": p99, "errors": e} for r, p50, p99, e in runs]
    median = {k: statistics.median(row[k] for row in rows) for k in ("rps", "p50_ms", "p99_ms")}
    return {"runs": rows, "median": median, "errors": sum(e for *_, e in runs)}


def open_loop(rate: float, runs: list[OpenRun]) -> dict[str, Any]:
    """Every open-loop run's latency quantiles at ``rate`` and their medians."""
    rows = [{"p50_ms": p50, "p99_ms": p99} for p50, p99 in runs]
    median = {k: statistics.median(row[k] for row in rows) for k in ("p50_ms", "p99_ms")}
    return {"rate": rate, "runs": rows, "median": median}


def figures_from(
    baseline: list[ClosedRun] | None,
    routers: dict[int, list[ClosedRun]],
    open_runs: dict[int, list[OpenRun]],
    rate: float,
    decision_us: tuple[float, float] | None,
) -> dict[str, Any]:
    """The result file's figures: bare aiohttp's closed-loop runs (None without ``--baseline``),
    per worker count the router's closed-loop runs, its ratio to the baseline and its open-loop
    runs at ``rate`` (when measured), the in-process decision cost, and the targets."""
    base = closed_loop(baseline) if baseline else None
    out = []
    for workers, runs in routers.items():
        entry: dict[str, Any] = {"workers": workers, **closed_loop(runs)}
        entry["ratio_to_baseline"] = (
            entry["median"]["rps"] / base["median"]["rps"]
            if base and base["median"]["rps"]
            else None
        )
        entry["open_loop"] = open_loop(rate, open_runs[workers]) if open_runs.get(workers) else None
        out.append(entry)
    return {
        "baseline": base,
        "routers": out,
        "decision_us": (
            {"cached": decision_us[0], "fresh": decision_us[1]} if decision_us else None
        ),
        "targets": {"rps": TARGET_RPS, "p99_ms": TARGET_P99_MS},
    }


def summary_lines(figures: dict[str, Any]) -> list[str]:
    """The medians as the script prints them at the end, read off the figures."""
    lines = []
    base = figures["baseline"]
    if base:
        m = base["median"]
        lines.append(
            f"bare aiohttp, 1 process (baseline): {m['rps']:,.0f} req/s  p50 {m['p50_ms']:.2f} ms  p99 {m['p99_ms']:.2f} ms"
        )
    for r in figures["routers"]:
        m, ratio = r["median"], r["ratio_to_baseline"]
        vs = f"  ({ratio:.2f}x bare aiohttp)" if ratio is not None else ""
        lines.append(
            f"router, {r['workers']} worker(s): {m['rps']:,.0f} req/s  p50 {m['p50_ms']:.2f} ms  p99 {m['p99_ms']:.2f} ms{vs}"
        )
        if r["open_loop"]:
            o = r["open_loop"]
            lines.append(
                f"router, {r['workers']} worker(s), open loop {o['rate']:,.0f} req/s: p50 {o['median']['p50_ms']:.2f} ms  p99 {o['median']['p99_ms']:.2f} ms"
            )
    d = figures["decision_us"]
    if d:
        lines.append(
            f"decision CPU in-process: {d['cached']:.1f} us (cached ranking), {d['fresh']:.1f} us (fresh ranking)"
        )
    return lines


def _label(workers: int, flag: bool = True) -> str:
    """A worker count as the README names it (the flag spelled out, as it is typed)."""
    if workers == 1:
        return "1 worker"
    return f"`--workers {workers}`" if flag else f"{workers} workers"


def _split(items: list[tuple[str, bool]], what: str) -> str:
    """``what`` met or missed, naming the configurations when they disagree."""
    met = [name for name, ok in items if ok]
    missed = [name for name, ok in items if not ok]
    if not missed:
        return f"{what} met"
    if not met:
        return f"{what} missed"
    return f"{what} met with {', '.join(met)}, missed with {', '.join(missed)}"


def readme_rows(data: dict[str, Any]) -> list[Row]:
    """The README's row: each worker count's closed-loop medians (the best throughput in bold),
    the open-loop latency, bare aiohttp as the baseline, the ratios and both targets' verdicts."""
    settings, figures = data["settings"], data["figures"]
    connections = settings["concurrency"]
    client = "wrk" if settings["client"] == "wrk" else "asyncio client"
    what = f"`GET /v1/route`, {connections} connections ({client})"
    routers = figures["routers"]
    best = max(r["median"]["rps"] for r in routers)
    parts = []
    for r in routers:
        m = r["median"]
        rps = f"{m['rps']:,.0f} req/s"
        errors = f", {r['errors']:,} errors" if r["errors"] else ""
        parts.append(
            f"{_label(r['workers'])}: {f'**{rps}**' if m['rps'] == best else rps}, "
            f"p50 {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms{errors}"
        )
    opened = [r for r in routers if r["open_loop"]]
    if opened:
        rate = opened[0]["open_loop"]["rate"]
        parts.append(
            f"open loop at {rate:,.0f} req/s, "
            + "; ".join(
                f"{_label(r['workers'])}: p50 {r['open_loop']['median']['p50_ms']:.2f} ms, "
                f"p99 {r['open_loop']['median']['p99_ms']:.2f} ms"
                for r in opened
            )
        )
    base = figures["baseline"]
    baseline = "-"
    if base:
        errors = f", {base['errors']:,} errors" if base["errors"] else ""
        baseline = (
            f"bare aiohttp returning a constant, 1 process: {base['median']['rps']:,.0f} req/s, "
            f"p50 {base['median']['p50_ms']:.1f} ms{errors}"
        )
    verdict = []
    if base:
        verdict.append(
            ", ".join(
                f"{_label(r['workers'], flag=False)} {r['ratio_to_baseline']:.2f}x" for r in routers
            )
            + " bare aiohttp"
        )
    target_rps, target_p99 = figures["targets"]["rps"], figures["targets"]["p99_ms"]
    verdict.append(
        _split(
            [(_label(r["workers"], False), r["median"]["rps"] >= target_rps) for r in routers],
            f"target {target_rps / 1000:g}k req/s",
        )
    )
    p99 = []
    if opened:
        p99.append(
            _split(
                [
                    (_label(r["workers"], False), r["open_loop"]["median"]["p99_ms"] < target_p99)
                    for r in opened
                ],
                "open loop",
            )
        )
    # Little's law: a closed loop of N clients waits N / throughput on average, so its latency
    # falls under the target only above N / target requests per second
    needed = connections / (target_p99 / 1000)
    closed = _split(
        [(_label(r["workers"], False), r["median"]["p99_ms"] < target_p99) for r in routers],
        f"closed loop at {connections} clients",
    )
    p99.append(
        f"{closed} (Little's law: mean wait = {connections} / throughput, under "
        f"{target_p99:g} ms only above {needed / 1000:,.3g}k req/s)"
    )
    verdict.append(f"p99 < {target_p99:g} ms: " + "; ".join(p99))
    return [Row(what, "; ".join(parts), baseline, "; ".join(verdict))]


def main() -> int:
    """Run the benchmark, print one line per run and the medians, and write the result file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--rate", type=float, default=0.0, help="also run open loop at this rate")
    parser.add_argument("--profile", action="store_true", help="py-spy raw stacks of the router")
    parser.add_argument("--baseline", action="store_true", help="also measure bare aiohttp")
    args = parser.parse_args()
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    record = Run("route", command_line("bench_route.py"), {**vars(args), "client": client})
    print(
        f"client {client}, {args.concurrency} connections, {args.duration:g} s x {args.runs} runs, cpus {os.cpu_count()}",
        flush=True,
    )
    base: list[ClosedRun] | None = None
    routers: dict[int, list[ClosedRun]] = {}
    open_runs: dict[int, list[OpenRun]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        if args.baseline:
            bport = _free_port()
            bproc = mp.get_context("spawn").Process(
                target=serve_baseline, args=(bport,), daemon=True
            )
            bproc.start()
            try:
                _wait_ready(bport)
                base = measure(bport, args, client, "bare aiohttp")
            finally:
                bproc.terminate()
                bproc.join(10)
        for workers in args.workers:
            port = _free_port()
            proc = start_router(data_dir, port, workers)
            try:
                if args.profile:
                    _profile(proc.pid, args.duration)
                routers[workers] = measure(port, args, client, f"router x{workers}")
                if args.rate:
                    open_runs[workers] = []
                    for _ in range(args.runs):
                        lat = uvloop_run(_paced(port, args.rate, args.concurrency, args.duration))
                        p50, p99 = _quantile(lat, 0.5) * 1000, _quantile(lat, 0.99) * 1000
                        open_runs[workers].append((p50, p99))
            finally:
                stop(proc)
    figures = figures_from(base, routers, open_runs, args.rate, decide_cost_us())
    print(f"medians of {args.runs} (loadavg {os.getloadavg()[0]:.2f}):")
    for line in summary_lines(figures):
        print("  " + line)
    path = record.save(figures)
    print(f"\nwritten: {path.relative_to(ROOT)}")
    return 0


def uvloop_run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a fresh uvloop event loop."""
    import uvloop

    return uvloop.run(coro)


def _profile(pid: int, duration_s: float) -> None:
    out = Path(tempfile.gettempdir()) / "route-profile.txt"
    subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "-p",
            str(pid),
            "--subprocesses",
            "-o",
            str(out),
            "-d",
            str(int(duration_s) + 1),
            "-r",
            "200",
            "--nonblocking",
            "-f",
            "raw",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    print(f"py-spy raw stacks -> {out}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
