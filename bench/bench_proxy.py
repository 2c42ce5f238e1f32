"""Benchmark the streaming proxy's overhead against the simulator directly, same load, same run.

Four processes: the simulator (one OpenAI-dialect provider, fixed TTFT and tps), the router
(uvloop) in front of it, a bare aiohttp relay in front of it (the baseline: what one more Python
hop costs on this machine with nothing else done), and this load generator. For each concurrency
(default 50 and 200 streams of 256 tokens), each run sends one wave straight to the simulator, one
through the relay and one through the router, and compares TTFT p50/p99 and decode tokens/s p50.
Figures are medians over ``--runs``.

    .venv/bin/python bench/bench_proxy.py [--streams 50 200] [--runs 5] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SCENARIO = """
name = "bench-proxy"
seed = 1
[defaults]
ttft_median_ms = 50.0
ttft_sigma = 0.05
tps = 100.0
output_tokens_median = 4000
output_tokens_sigma = 0.0
[[provider]]
name = "solo"
dialect = "openai"
[[provider.model]]
model = "m"
"""
TOKENS = 256
FAILURES: collections.Counter[str] = collections.Counter()  # status and body start, per failure


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_simulator(port: int) -> None:
    """Child process: the simulator on ``port`` until terminated."""
    import threading

    from signalbox.simulator.scenario import parse_scenario
    from signalbox.simulator.testing import SimulatorThread

    with SimulatorThread(parse_scenario(SCENARIO), port=port):
        threading.Event().wait()


def serve_router(port: int, sim_url: str, data_dir: str) -> None:
    """Child process: the router on ``port`` in front of the simulator."""
    import uvloop
    from aiohttp import web

    from signalbox.catalog import parse_catalog
    from signalbox.migrate import upgrade
    from signalbox.router.app import create_app
    from signalbox.settings import Settings
    from signalbox.simulator.catalog import catalog_toml
    from signalbox.simulator.scenario import parse_scenario

    url = f"sqlite:///{data_dir}/bench.db"
    upgrade(url)
    catalog = parse_catalog(catalog_toml(parse_scenario(SCENARIO), sim_url))
    app = create_app(Settings(data_dir=Path(data_dir), database_url=url), catalog, environ={})
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def serve_relay(port: int, upstream_url: str) -> None:
    """Child process: the least a Python proxy can do (aiohttp server + pooled aiohttp client,
    bytes passed through as they arrive, no selection, parsing or measurement) as the baseline
    for what the router itself adds on top of the extra hop."""
    import aiohttp
    import uvloop
    from aiohttp import web

    async def relay(request: web.Request) -> web.StreamResponse:
        session = request.app["session"]
        body = await request.read()
        async with session.post(
            upstream_url, data=body, headers={"content-type": "application/json"}
        ) as upstream:
            response = web.StreamResponse(
                status=upstream.status, headers={"Content-Type": "text/event-stream"}
            )
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        app["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        yield
        await app["session"].close()

    app = web.Application()
    app.router.add_post("/v1/chat/completions", relay)
    app.router.add_get("/healthz", lambda r: web.Response(text="ok"))
    app.cleanup_ctx.append(lifecycle)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def _stream(
    session, url: str, body: bytes, out: list[tuple[float, float | None]], delay_s: float
) -> None:
    await asyncio.sleep(delay_s)
    perf = time.perf_counter
    t0 = perf()
    first = last = 0.0
    tokens = 0
    async with session.post(url, data=body, headers={"content-type": "application/json"}) as resp:
        if resp.status != 200:
            out.append((float("nan"), None))
            FAILURES[f"{resp.status} {(await resp.text())[:160]}"] += 1
            return
        async for chunk in resp.content.iter_any():
            n = chunk.count(b'"content":"') - chunk.count(b'"content":""')
            if n > 0:
                now = perf()
                if not first:
                    first = now
                last = now
                tokens += n
    tps = (tokens - 1) / (last - first) if tokens >= 2 and last > first else None
    out.append(((first - t0) * 1000 if first else float("nan"), tps))


async def _wave(
    url: str, streams: int, model: str, ramp_s: float = 0.0
) -> list[tuple[float, float | None]]:
    import aiohttp
    import orjson

    body = orjson.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": "go"}],
            "max_tokens": TOKENS,
            "stream": True,
        }
    )
    out: list[tuple[float, float | None]] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as session:
        await asyncio.gather(
            *(_stream(session, url, body, out, ramp_s * i / streams) for i in range(streams))
        )
    return out


def _q(values: list[float], q: float) -> float:
    ordered = sorted(v for v in values if v == v)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def _summary(results: list[tuple[float, float | None]]) -> tuple[float, float, float, int]:
    ttft = [r[0] for r in results]
    tps = [r[1] for r in results if r[1] is not None]
    failed = sum(1 for r in results if r[0] != r[0])
    return _q(ttft, 0.5), _q(ttft, 0.99), statistics.median(tps) if tps else float("nan"), failed


def _added_buckets(router_url: str) -> dict[float, int]:
    """The router's own added-first-token-latency histogram (cumulative counts by bound)."""
    import httpx

    out = {}
    for line in httpx.get(router_url + "/metrics", timeout=5).text.splitlines():
        if line.startswith("signalbox_router_added_latency_seconds_bucket"):
            bound = line.split('le="')[1].split('"')[0]
            out[float("inf") if bound == "+Inf" else float(bound)] = int(line.rsplit(" ", 1)[1])
    return out


def _bucket_quantile(before: dict[float, int], after: dict[float, int], q: float) -> float:
    """Upper bound (ms) of the bucket holding quantile ``q`` of the wave's added latency."""
    diff = {b: after[b] - before.get(b, 0) for b in after}
    total = diff[float("inf")]
    for bound in sorted(diff):
        if total and diff[bound] >= q * total:
            return bound * 1000
    return float("nan")


def _wait(url: str, timeout_s: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def main() -> int:
    """Run both waves per concurrency and print the overhead."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--ramp",
        type=float,
        default=1.0,
        help="spread stream starts over this many seconds (0: all at once)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the router (raw stacks in $TMPDIR)"
    )
    args = parser.parse_args()
    import uvloop

    ctx = mp.get_context("spawn")
    sim_port, router_port = _free_port(), _free_port()
    sim_url, router_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{router_port}"
    with tempfile.TemporaryDirectory() as tmp:
        sim = ctx.Process(target=serve_simulator, args=(sim_port,), daemon=True)
        sim.start()
        _wait(sim_url + "/truth")
        router = ctx.Process(target=serve_router, args=(router_port, sim_url, tmp), daemon=True)
        router.start()
        _wait(router_url + "/healthz")
        direct = f"{sim_url}/solo/v1/chat/completions"
        proxied = f"{router_url}/v1/chat/completions"
        relay_port = _free_port()
        relay_proc = ctx.Process(target=serve_relay, args=(relay_port, direct), daemon=True)
        relay_proc.start()
        _wait(f"http://127.0.0.1:{relay_port}/healthz")
        relayed = f"http://127.0.0.1:{relay_port}/v1/chat/completions"
        try:
            for streams in args.streams:
                # warm-up at this concurrency: a proxy in steady state has its upstream pool open
                uvloop.run(_wave(proxied, streams, "m"))
                uvloop.run(_wave(relayed, streams, "m"))
                rows = []
                for run in range(args.runs):
                    spy = None
                    if args.profile and run == 0:
                        out = Path(tempfile.gettempdir()) / f"proxy-profile-{streams}.txt"
                        spy = subprocess.Popen(
                            [
                                str(Path(sys.executable).parent / "py-spy"),
                                "record",
                                "-p",
                                str(router.pid),
                                "-o",
                                str(out),
                                "-d",
                                "6",
                                "-r",
                                "200",
                                "--nonblocking",
                                "-f",
                                "raw",
                            ],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    d = _summary(uvloop.run(_wave(direct, streams, "m", args.ramp)))
                    r = _summary(uvloop.run(_wave(relayed, streams, "m", args.ramp)))
                    before = _added_buckets(router_url)
                    p = _summary(uvloop.run(_wave(proxied, streams, "m", args.ramp)))
                    after = _added_buckets(router_url)
                    inside = (
                        _bucket_quantile(before, after, 0.5),
                        _bucket_quantile(before, after, 0.99),
                    )
                    if spy:
                        spy.wait(timeout=60)
                    rows.append(
                        (
                            p[0] - d[0],
                            p[1] - d[1],
                            1 - p[2] / d[2],
                            inside[0],
                            inside[1],
                            r[0] - d[0],
                            r[1] - d[1],
                        )
                    )
                    print(
                        f"{streams} streams run {run + 1}: direct ttft p50 {d[0]:.2f} p99 {d[1]:.2f} ms tps {d[2]:.1f} fail {d[3]} | router ttft p50 {p[0]:.2f} p99 {p[1]:.2f} ms tps {p[2]:.1f} fail {p[3]} | bare relay ttft p50 {r[0]:.2f} p99 {r[1]:.2f} ms | in-router added <= {inside[0]:g} / {inside[1]:g} ms (p50/p99 bucket)",
                        flush=True,
                    )
                    for what, n in FAILURES.most_common(3):
                        print(f"    {n} failed: {what}", flush=True)
                    FAILURES.clear()
                # a run whose every proxied stream failed has NaN figures: leave it out, say so
                good = [row for row in rows if all(v == v for v in row)] or rows
                if len(good) < len(rows):
                    print(f"    {len(rows) - len(good)} run(s) left out of the medians (NaN)")
                med = [statistics.median(row[i] for row in good) for i in range(7)]
                print(
                    f"{streams} streams, median of {args.runs}: added TTFT p50 {med[0]:+.2f} ms, p99 {med[1]:+.2f} ms, tps lost {med[2]:+.2%}; in-router added <= {med[3]:g} ms p50, <= {med[4]:g} ms p99; bare aiohttp relay adds p50 {med[5]:+.2f} ms, p99 {med[6]:+.2f} ms  (loadavg {os.getloadavg()[0]:.2f})",
                    flush=True,
                )
        finally:
            router.terminate()
            relay_proc.terminate()
            sim.terminate()
            router.join(10)
            sim.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
