"""Routing across models (issue #18): always-small, always-large and a route, on one workload.

    python bench/bench_routes.py [--requests 500] [--concurrency 16] [--hard 0.2] [--seed 18]
                                 [--arms small,large,route] [--stream] [--out bench/results]

The simulator runs scenario ``routes`` (simulator/scenarios/routes.toml: a small model that fails
hard requests often, a large one that rarely fails and costs 10x) and the router runs in front of
it with a catalog holding a route ``support``: default ``small``, escalate ``[large]``, triggers
invalid_json, finish_length, empty, refusal and failure. Each arm sends the same seeded workload
through the router (model ``small``, ``large`` or ``support``): 80 % easy requests (difficulty
0..0.2), 20 % hard (0.8..1), JSON output required (``response_format`` json_schema with two
required keys). The difficulty rides in ``metadata.difficulty`` and in the prompt's length (the
simulator derives it from ``len / 4000`` where metadata does not reach the provider: Gemini).

Figures per arm: success rate (HTTP 200 and a JSON object holding the required keys), cost per
successful request (every upstream attempt's tokens times the catalog's prices, summed from the
router's observations of the arm, failed and escalated attempts included, over the successes) and
client latency p50/p99. Writes bench/results/routes-<UTC time>.json (with the commit and the
machine's load) and prints a markdown table. Target: the route's success within 1 point of
always-large at <= 40 % of its cost per successful request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.routes.report import ROUTE, Outcome, summarise, table, verdict  # noqa: E402

SCENARIO = "routes"
ROUTE_TOML = f"""
[[route]]
name = "{ROUTE}"
default = "small"
escalate = ["large"]
buffer_for_validation = true  # --stream: hold each stream until its answer validates
[route.triggers]
invalid_json = true
finish_length = true
empty = true
refusal = true
failure = true
"""
ARMS = {"small": "small", "large": "large", "route": ROUTE}
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
    "required": ["answer", "confidence"],
}
HARD_PROMPT_CHARS = 4000  # the scenario's: difficulty = prompt characters / this
FILLER = "Summarise the ticket below for the support queue and classify its urgency. "


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def catalog_text(sim_url: str) -> tuple[str, str | None]:
    """The catalog for the scenario at ``sim_url`` with the route, or without it and why, when
    this build's catalog does not know routes yet."""
    from signalbox.catalog import CatalogError, parse_catalog
    from signalbox.simulator.catalog import catalog_toml
    from signalbox.simulator.scenario import load_scenario

    base = catalog_toml(load_scenario(SCENARIO), sim_url)
    try:
        parse_catalog(base + ROUTE_TOML)
    except CatalogError as exc:
        return base, "; ".join(exc.problems)[:300]
    return base + ROUTE_TOML, None


def serve_simulator(port: int, seed: int) -> None:
    """Child process: the simulator with the routes scenario."""
    import threading

    from signalbox.simulator.scenario import load_scenario
    from signalbox.simulator.testing import SimulatorThread

    with SimulatorThread(load_scenario(SCENARIO).with_seed(seed), port=port):
        threading.Event().wait()


def serve_router(port: int, catalog: str, url: str, data_dir: str) -> None:
    """Child process: the router with the bench catalog on its own SQLite store."""
    import uvloop
    from aiohttp import web

    from signalbox.catalog import parse_catalog
    from signalbox.migrate import upgrade
    from signalbox.router.app import create_app
    from signalbox.settings import Settings

    upgrade(url)
    app = create_app(
        Settings(data_dir=Path(data_dir), database_url=url), parse_catalog(catalog), environ={}
    )
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


@dataclass(frozen=True, slots=True)
class Ask:
    """One request of the workload."""

    difficulty: float
    hard: bool
    prompt: str


def workload(n: int, hard_share: float, seed: int) -> list[Ask]:
    """``n`` requests, ``hard_share`` of them hard (difficulty 0.8..1), the rest easy (0..0.2);
    each prompt's length is its difficulty times the scenario's hard prompt length."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        hard = rng.random() < hard_share
        d = rng.uniform(0.8, 1.0) if hard else rng.uniform(0.0, 0.2)
        chars = max(len(FILLER), int(d * HARD_PROMPT_CHARS))
        prompt = (FILLER * (chars // len(FILLER) + 1))[:chars]
        out.append(Ask(round(d, 4), hard, prompt))
    return out


def valid_answer(content: Any) -> bool:
    """A JSON object holding every required key: what the app asked for."""
    if not isinstance(content, str):
        return False
    try:
        value = json.loads(content)
    except json.JSONDecodeError:
        return False
    return isinstance(value, dict) and all(k in value for k in SCHEMA["required"])


async def _send(session: Any, url: str, model: str, ask: Ask, stream: bool) -> Outcome:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": ask.prompt}],
        "max_tokens": 400,
        "metadata": {"difficulty": str(ask.difficulty)},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "ticket", "schema": SCHEMA},
        },
    }
    if stream:
        body["stream"] = True
    t0 = time.perf_counter()
    async with session.post(url, json=body) as resp:
        raw = await resp.read()
        status = resp.status
        path = resp.headers.get("x-signalbox-path")
        trigger = resp.headers.get("x-signalbox-trigger")
    latency_ms = (time.perf_counter() - t0) * 1000
    content: Any = None
    finish = None
    if status == 200 and not stream:
        choice = json.loads(raw)["choices"][0]
        content, finish = choice["message"].get("content"), choice.get("finish_reason")
    elif status == 200:
        parts = []
        for line in raw.decode().splitlines():
            if line.startswith("data: {"):
                for choice in json.loads(line[6:]).get("choices") or []:
                    parts.append(choice.get("delta", {}).get("content") or "")
                    finish = choice.get("finish_reason") or finish
        content = "".join(parts)
    ok = status == 200 and finish != "length" and valid_answer(content)
    return Outcome(ok, latency_ms, status, path, trigger, ask.hard)


async def run_arm(
    router_url: str, model: str, asks: list[Ask], concurrency: int, stream: bool
) -> list[Outcome]:
    """Send the workload through the router with at most ``concurrency`` requests in flight."""
    import aiohttp

    url = f"{router_url}/v1/chat/completions"
    gate = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(ask: Ask) -> Outcome:
            async with gate:
                return await _send(session, url, model, ask, stream)

        return await asyncio.gather(*(one(a) for a in asks))


def attempt_costs(db_url: str, since: datetime, until: datetime) -> tuple[float, int, int]:
    """Sum of the router's per-attempt cost (tokens times catalog prices) between two instants, and
    the number of attempts and of attempts without a cost."""
    from sqlalchemy import create_engine, func, select

    from signalbox.schema import Observation

    engine = create_engine(db_url)
    with engine.connect() as conn:
        total, attempts, unpriced = conn.execute(
            select(
                func.coalesce(func.sum(Observation.cost_usd), 0.0),
                func.count(),
                func.sum(Observation.cost_usd.is_(None)),  # type: ignore[union-attr]
            ).where(Observation.ts >= since, Observation.ts <= until)
        ).one()
    engine.dispose()
    return float(total), int(attempts), int(unpriced or 0)


def route_record(db_url: str, since: datetime, until: datetime) -> dict[str, Any]:
    """What the router recorded for the route's requests: decisions by trigger and their cost
    (a cross-check of the per-attempt sum)."""
    from sqlalchemy import create_engine, func, select

    from signalbox.schema import RouteDecision

    engine = create_engine(db_url)
    window = (RouteDecision.ts >= since, RouteDecision.ts <= until, RouteDecision.route == ROUTE)
    with engine.connect() as conn:
        by_trigger = conn.execute(
            select(RouteDecision.trigger, func.count())
            .where(*window)
            .group_by(RouteDecision.trigger)
        ).all()
        cost = conn.execute(select(func.sum(RouteDecision.cost_usd)).where(*window)).scalar()
    engine.dispose()
    return {
        "decisions_by_trigger": {str(t or "none"): int(n) for t, n in by_trigger},
        "decisions_cost_usd": float(cost or 0.0),
    }


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return head + ("-dirty" if dirty else "")


def wait_http(url: str, deadline_s: float = 60.0) -> None:
    import httpx

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {deadline_s:g} s")


def fresh_arm(arm: str, asks: list[Ask], seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One arm on its own simulator (seeded: every arm meets the same capability draws) and
    router (its own store): outcomes, attempts' cost and, for the route, its decisions."""
    import uvloop

    ctx = mp.get_context("spawn")
    sim_port, router_port = free_port(), free_port()
    sim_url, router_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{router_port}"
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/bench.db"
        catalog, _ = catalog_text(sim_url)
        sim = ctx.Process(target=serve_simulator, args=(sim_port, seed), daemon=True)
        router = ctx.Process(
            target=serve_router, args=(router_port, catalog, db_url, tmp), daemon=True
        )
        sim.start()
        try:
            wait_http(sim_url + "/truth")
            router.start()
            wait_http(router_url + "/healthz")
            since = datetime.now(UTC)
            outcomes = uvloop.run(
                run_arm(router_url, ARMS[arm], asks, args.concurrency, args.stream)
            )
            until = datetime.now(UTC)
            time.sleep(2.0)  # the router's writers flush every 0.5 s
            cost, attempts, unpriced = attempt_costs(db_url, since, until)
            out: dict[str, Any] = {
                "outcomes": outcomes,
                "cost_usd": cost,
                "attempts": attempts,
                "unpriced": unpriced,
            }
            if arm == "route":
                out |= route_record(db_url, since, until)
            return out
        finally:
            router.terminate()
            sim.terminate()
            router.join(10)
            sim.join(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="per arm and run")
    parser.add_argument("--runs", type=int, default=3, help="seeds seed..seed+runs-1, pooled")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--hard", type=float, default=0.2, help="share of hard requests")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--arms", default="small,large,route")
    parser.add_argument("--stream", action="store_true", help="stream (the route buffers)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    chosen = [a.strip() for a in args.arms.split(",") if a.strip()]
    if unknown := [a for a in chosen if a not in ARMS]:
        print(f"bench_routes: unknown arm(s) {', '.join(unknown)}; one of {', '.join(ARMS)}")
        return 2
    _, no_route = catalog_text("http://127.0.0.1:9")
    if no_route and "route" in chosen:
        print(f"route arm skipped: this build's catalog refuses the route ({no_route})")
        chosen.remove("route")
    load_before = os.getloadavg()
    pooled: dict[str, dict[str, Any]] = {
        a: {"outcomes": [], "cost_usd": 0.0, "attempts": 0, "unpriced": 0} for a in chosen
    }
    runs: list[dict[str, Any]] = []
    for run in range(args.runs):
        seed = args.seed + run
        asks = workload(args.requests, args.hard, seed)
        figures: dict[str, dict[str, Any]] = {}
        for arm in chosen:
            got = fresh_arm(arm, asks, seed, args)
            extra = {k: v for k, v in got.items() if k.startswith("decisions")}
            figures[arm] = summarise(got["outcomes"], got["cost_usd"], got["attempts"]) | extra
            for key in ("outcomes", "cost_usd", "attempts", "unpriced"):
                pooled[arm][key] += got[key]
            for key, value in extra.items():
                if key == "decisions_by_trigger":
                    counts = pooled[arm].setdefault(key, {})
                    for trigger, n in value.items():
                        counts[trigger] = counts.get(trigger, 0) + n
                else:
                    pooled[arm][key] = pooled[arm].get(key, 0.0) + value
            f = figures[arm]
            print(
                f"run {run + 1} seed {seed} {arm}: success {f['success_rate']:.1%}, "
                f"cost/success {f['cost_per_success_usd']}, p50 {f['latency_p50_ms']:.0f} ms, "
                f"statuses {f['statuses']}",
                flush=True,
            )
        runs.append({"seed": seed, "arms": figures, "target": verdict(figures)})
    arms = {
        arm: summarise(p["outcomes"], p["cost_usd"], p["attempts"])
        | {"unpriced_attempts": p["unpriced"]}
        | {k: v for k, v in p.items() if k.startswith("decisions")}
        for arm, p in pooled.items()
    }
    result = {
        "bench": "routes",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "route_skipped": no_route,
        "pooled": {"arms": arms, "target": verdict(arms)},
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"routes-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{args.runs} run(s) x {args.requests} requests per arm, pooled:\n")
    print(table(arms))
    target = result["pooled"]["target"]
    if target is not None:
        per_run = ", ".join(
            f"{r['target']['cost_share_of_large']:.1%}" for r in runs if r["target"] is not None
        )
        print(
            f"\ntarget (success within 1 point of always-large at <= 40 % of its cost per "
            f"success): gap {target['success_gap_points']:+.2f} points, cost "
            f"{target['cost_share_of_large']:.1%} of always-large (runs: {per_run}): "
            f"{'met' if target['met'] else 'NOT met'}"
        )
    print(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
