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
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.record import Row, Run, command_line  # noqa: E402
from bench.route.load import paced, python_run, quantile, uvloop_run, wrk_run  # noqa: E402
from bench.route.services import (  # noqa: E402
    decide_cost_us,
    free_port,
    profile,
    serve_baseline,
    start_router,
    stop,
    wait_ready,
)

# The targets for /v1/route: throughput per configuration, and p99 latency.
TARGET_RPS = 10_000.0
TARGET_P99_MS = 2.0
ClosedRun = tuple[float, float, float, int]  # req/s, p50 ms, p99 ms, errors
OpenRun = tuple[float, float]  # p50 ms, p99 ms


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
            bport = free_port()
            bproc = mp.get_context("spawn").Process(
                target=serve_baseline, args=(bport,), daemon=True
            )
            bproc.start()
            try:
                wait_ready(bport)
                base = measure(bport, args, client, "bare aiohttp")
            finally:
                bproc.terminate()
                bproc.join(10)
        for workers in args.workers:
            port = free_port()
            proc = start_router(data_dir, port, workers)
            try:
                if args.profile:
                    profile(proc.pid, args.duration)
                routers[workers] = measure(port, args, client, f"router x{workers}")
                if args.rate:
                    open_runs[workers] = []
                    for _ in range(args.runs):
                        lat = uvloop_run(paced(port, args.rate, args.concurrency, args.duration))
                        p50, p99 = quantile(lat, 0.5) * 1000, quantile(lat, 0.99) * 1000
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


if __name__ == "__main__":
    sys.exit(main())
