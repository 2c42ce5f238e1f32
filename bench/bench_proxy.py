"""Benchmark the streaming proxy's overhead against the simulator directly, same load, same run.

Four processes: the simulator (one OpenAI-dialect provider, fixed TTFT and tps), the router
(uvloop) in front of it, a bare aiohttp relay in front of it (the baseline: what one more Python
hop costs on this machine with nothing else done), and this load generator. For each concurrency
(default 50 and 200 streams of 256 tokens), each run sends one wave straight to the simulator, one
through the relay and one through the router, and compares TTFT p50/p99 and decode tokens/s p50.
Figures are medians over ``--runs``.

Paired: the simulator draws each request's TTFT (``x-simulator-ttft-ms``), and that draw's spread
is larger than the router's overhead, so subtracting the p50s of two waves mostly measures which
draws each wave got. Here the simulator records every request's planned TTFT by its id (which
the stream's chunks carry through the router), and each request's residual is the TTFT the
client saw less the one planned for it; the router's added latency is the proxied residuals less
the direct ones, with a bootstrap 95 % confidence interval over requests. Each invocation writes
bench/results/proxy-<time>.json.

    .venv/bin/python bench/bench_proxy.py [--streams 50 200] [--runs 5] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing as mp
import os
import re
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.spy import py_spy

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
Sample = tuple[float, float | None, str | None]  # TTFT ms (NaN: failed), decode tok/s, request id


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_simulator(port: int) -> None:
    """Child process: the simulator on ``port`` until terminated, recording each generation's
    planned TTFT by request id (``GET /bench/plans`` hands them over and forgets them)."""
    import uvloop
    from aiohttp import web

    from signalbox.simulator.scenario import parse_scenario
    from signalbox.simulator.server import build_app

    plans: dict[str, float] = {}

    async def record(request: web.Request, response: web.StreamResponse) -> None:
        rid, ttft = (
            response.headers.get("x-request-id"),
            response.headers.get("x-simulator-ttft-ms"),
        )
        if rid and ttft:
            plans[rid] = float(ttft)

    async def hand_over(request: web.Request) -> web.Response:
        out = dict(plans)
        plans.clear()
        return web.json_response(out)

    app = build_app(parse_scenario(SCENARIO))
    app.on_response_prepare.append(record)
    app.router.add_get("/bench/plans", hand_over)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


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


ID = re.compile(rb'"id":\s*"([^"]+)"')


async def _stream(session, url: str, body: bytes, out: list[Sample], delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    perf = time.perf_counter
    t0 = perf()
    first = last = 0.0
    tokens = 0
    rid = None
    async with session.post(url, data=body, headers={"content-type": "application/json"}) as resp:
        if resp.status != 200:
            out.append((float("nan"), None, None))
            FAILURES[f"{resp.status} {(await resp.text())[:160]}"] += 1
            return
        async for chunk in resp.content.iter_any():
            if rid is None and (m := ID.search(chunk)):
                rid = m.group(1).decode()
            n = chunk.count(b'"content":"') - chunk.count(b'"content":""')
            if n > 0:
                now = perf()
                if not first:
                    first = now
                last = now
                tokens += n
    tps = (tokens - 1) / (last - first) if tokens >= 2 and last > first else None
    out.append(((first - t0) * 1000 if first else float("nan"), tps, rid))


async def _wave(url: str, streams: int, model: str, ramp_s: float = 0.0) -> list[Sample]:
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
    out: list[Sample] = []
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


def _summary(results: list[Sample]) -> tuple[float, float, float, int]:
    ttft = [r[0] for r in results]
    tps = [r[1] for r in results if r[1] is not None]
    failed = sum(1 for r in results if r[0] != r[0])
    return _q(ttft, 0.5), _q(ttft, 0.99), statistics.median(tps) if tps else float("nan"), failed


def _residuals(wave: list[Sample], sim_url: str) -> list[float]:
    """Each request's client-seen TTFT less the TTFT the simulator planned for it (ms)."""
    import httpx

    plans = httpx.get(sim_url + "/bench/plans", timeout=10).json()
    return [ttft - plans[rid] for ttft, _, rid in wave if ttft == ttft and rid in plans]


def paired_added(
    direct: list[float], proxied: list[float], q: float = 0.5, rounds: int = 2000
) -> tuple[float, float, float]:
    """The proxy's added latency at quantile ``q`` of the residuals (proxied less direct) and a
    bootstrap 95 % interval: both samples resampled with replacement, ``rounds`` times."""
    import random

    rng = random.Random(16)
    point = _q(proxied, q) - _q(direct, q)
    diffs = sorted(
        _q(rng.choices(proxied, k=len(proxied)), q) - _q(rng.choices(direct, k=len(direct)), q)
        for _ in range(rounds)
    )
    return point, diffs[int(0.025 * rounds)], diffs[int(0.975 * rounds) - 1]


def _paired_report(streams: int, paired: dict[str, list[float]], med: list[float]) -> dict:
    """Print and return one concurrency's paired figures (and the unpaired medians)."""
    out: dict = {
        "requests": {k: len(v) for k, v in paired.items()},
        "unpaired_median_of_runs": {
            "added_ttft_p50_ms": med[0],
            "added_ttft_p99_ms": med[1],
            "tps_lost": med[2],
            "relay_added_p50_ms": med[5],
        },
    }
    for who in ("router", "relay"):
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            point, lo, hi = paired_added(paired["direct"], paired[who], q)
            out[f"{who}_added_{name}_ms"] = {"value": point, "ci95": [lo, hi]}
            print(
                f"{streams} streams, paired over {len(paired[who])} requests: {who} adds "
                f"{point:+.2f} ms at {name} of the residual (95 % CI {lo:+.2f} to {hi:+.2f})",
                flush=True,
            )
    return out


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

    from bench.record import Run

    command = "python bench/bench_proxy.py " + " ".join(sys.argv[1:])
    record = Run("proxy", command, {"streams": args.streams, "runs": args.runs, "tokens": TOKENS})
    figures: dict[str, dict] = {}
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
                _residuals([], sim_url)  # forget the warm-up's plans
                rows = []
                paired: dict[str, list[float]] = {"direct": [], "relay": [], "router": []}
                for run in range(args.runs):
                    spy = None
                    if args.profile and run == 0:
                        out = Path(tempfile.gettempdir()) / f"proxy-profile-{streams}.txt"
                        spy = py_spy(router.pid, out, 6)
                    wave = uvloop.run(_wave(direct, streams, "m", args.ramp))
                    paired["direct"] += _residuals(wave, sim_url)
                    d = _summary(wave)
                    wave = uvloop.run(_wave(relayed, streams, "m", args.ramp))
                    paired["relay"] += _residuals(wave, sim_url)
                    r = _summary(wave)
                    before = _added_buckets(router_url)
                    wave = uvloop.run(_wave(proxied, streams, "m", args.ramp))
                    after = _added_buckets(router_url)
                    paired["router"] += _residuals(wave, sim_url)
                    p = _summary(wave)
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
                figures[str(streams)] = _paired_report(streams, paired, med)
                record.save(figures)
        finally:
            router.terminate()
            relay_proc.terminate()
            sim.terminate()
            router.join(10)
            sim.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
