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
client latency p50/p99. Writes bench/results/routes-<UTC time>.json (``bench.record.Run``: the
commit, the machine's load, the settings; the figures pooled and per seed; again after every seed)
into ``--out`` and prints a markdown table. Target: the route's success within 1 point of
always-large at <= 40 % of its cost per successful request. bench/report.py reads the result
files (``readme_rows``, ``readme_detail``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.record import Row, Run, command_line  # noqa: E402
from bench.routes.report import ROUTE, Outcome, summarise, table, verdict  # noqa: E402

SCENARIO = "routes"
DEFAULT_MODEL, ESCALATE = "small", ["large"]
ROUTE_TOML = f"""
[[route]]
name = "{ROUTE}"
default = "{DEFAULT_MODEL}"
escalate = {json.dumps(ESCALATE)}
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


# the target, as bench.routes.report.verdict applies it (here to word the row and count the seeds)
TARGET_GAP_POINTS, TARGET_COST_SHARE = 1.0, 0.40
ARM_NAMES = {"small": "always small", "large": "always large", "route": f"route `{ROUTE}`"}
# how the README names each escalation trigger: (one, several)
TRIGGERS = {
    "invalid_json": ("invalid JSON", "invalid JSON"),
    "finish_length": ("truncated", "truncated"),
    "empty": ("empty", "empty"),
    "refusal": ("refusal", "refusals"),
    "failure": ("failure", "failures"),
}


def arm_figures(got: dict[str, Any]) -> dict[str, Any]:
    """One arm's figures from what :func:`fresh_arm` returned (or several seeds' of it pooled)."""
    return (
        summarise(got["outcomes"], got["cost_usd"], got["attempts"])
        | {"unpriced_attempts": got["unpriced"]}
        | {k: v for k, v in got.items() if k.startswith("decisions")}
    )


def pool(gots: list[dict[str, Any]]) -> dict[str, Any]:
    """Several seeds' results of one arm as one: outcomes joined, costs and counts summed."""
    out: dict[str, Any] = {"outcomes": [], "cost_usd": 0.0, "attempts": 0, "unpriced": 0}
    for got in gots:
        for key in ("outcomes", "cost_usd", "attempts", "unpriced"):
            out[key] += got[key]
        if "decisions_by_trigger" in got:
            counts = out.setdefault("decisions_by_trigger", {})
            for trigger, n in got["decisions_by_trigger"].items():
                counts[trigger] = counts.get(trigger, 0) + n
        if "decisions_cost_usd" in got:
            out["decisions_cost_usd"] = (
                out.get("decisions_cost_usd", 0.0) + got["decisions_cost_usd"]
            )
    return out


def figures_from(
    seeds: list[tuple[int, dict[str, dict[str, Any]]]], route_skipped: str | None = None
) -> dict[str, Any]:
    """The result file's figures from each seed's results per arm (``fresh_arm``'s): every seed's
    arms and target, the arms pooled over the seeds and their target, and why the route arm was
    skipped (None when it ran)."""
    runs = []
    for seed, by_arm in seeds:
        arms = {arm: arm_figures(got) for arm, got in by_arm.items()}
        runs.append({"seed": seed, "arms": arms, "target": verdict(arms)})
    names = dict.fromkeys(arm for _, by_arm in seeds for arm in by_arm)
    pooled = {
        arm: arm_figures(pool([by_arm[arm] for _, by_arm in seeds if arm in by_arm]))
        for arm in names
    }
    return {
        "route_skipped": route_skipped,
        "pooled": {"arms": pooled, "target": verdict(pooled)},
        "runs": runs,
    }


def _pct(share: float) -> str:
    return f"{100 * share:.1f} %"


def readme_rows(data: dict[str, Any]) -> list[Row]:
    """The README's row: the route pooled over the seeds (and each seed's cost share), the
    single-model arms as the baseline, and the target computed from the pooled figures."""
    settings, figures = data["settings"], data["figures"]
    arms, runs = figures["pooled"]["arms"], figures["runs"]
    route_def = settings["route"]
    hard = settings["hard"]
    what = (
        f"routing across models: route {route_def['name']} ({route_def['default']}, "
        f"escalate to {' then '.join(route_def['escalate'])}) vs one model, "
        f"{round(100 * (1 - hard), 1):g} % easy / {round(100 * hard, 1):g} % hard, "
        "JSON required, noisy simulator"
        + (", streamed" if settings.get("stream") else "")
        + f"; {settings['requests']} requests per arm and seed, pooled"
    )
    baseline = (
        "; ".join(
            f"{ARM_NAMES[arm]} {_pct(arms[arm]['success_rate'])}, "
            + (
                f"${arms[arm]['cost_per_success_usd'] * 1000:.3f}"
                if arms[arm]["cost_per_success_usd"]
                else "no success"
            )
            for arm in ("large", "small")
            if arm in arms
        )
        or "-"
    )
    route = arms.get("route")
    if route is None:
        skipped = figures.get("route_skipped")
        result = "route not run" + (f" (the catalog refused it: {skipped})" if skipped else "")
        return [Row(what, result, baseline, "target: not measured")]
    target = verdict(arms)
    cost = route["cost_per_success_usd"]
    result = f"route: **{_pct(route['success_rate'])}** success, " + (
        f"${cost * 1000:.3f} per 1k successes" if cost else "no success"
    )
    shares = [verdict(r["arms"]) for r in runs]
    if target is not None:
        seeds = ""
        if len(runs) > 1 and all(s is not None for s in shares):
            seeds = "; seeds " + ", ".join(f"{100 * s['cost_share_of_large']:.1f}" for s in shares)
            seeds += " %"
        result += f" (**{_pct(target['cost_share_of_large'])}** of always-large{seeds})"
    result += (
        f", {_pct(route['escalation_rate'] or 0.0)} escalated, p50 {route['latency_p50_ms']:.0f} ms"
    )
    if target is None:
        return [Row(what, result, baseline, "target: not measured (no always-large arm)")]
    outcome = "met" if target["met"] else "missed"
    if len(runs) > 1:
        per_seed = [s for s in shares if s is not None]
        over = sum(s["cost_share_of_large"] > TARGET_COST_SHARE for s in per_seed)
        behind = sum(s["success_gap_points"] > TARGET_GAP_POINTS for s in per_seed)
        notes = []
        if over:
            notes.append(f"{over} of {len(per_seed)} seeds above {100 * TARGET_COST_SHARE:g} %")
        if behind:
            notes.append(
                f"{behind} of {len(per_seed)} seeds more than {TARGET_GAP_POINTS:g} point behind"
            )
        if notes:
            outcome += f" pooled ({'; '.join(notes)})"
        else:
            outcome += (
                " pooled, and on every seed" if target["met"] else " pooled (met on every seed)"
            )
    verdict_text = (
        f"target: success within {TARGET_GAP_POINTS:g} point of always-large "
        f"({0.0 - target['success_gap_points']:+.1f}) at <= {100 * TARGET_COST_SHARE:g} % of its "
        f"cost: {outcome}"
    )
    return [Row(what, result, baseline, verdict_text)]


def readme_detail(data: dict[str, Any]) -> list[str]:
    """The README's lines below the table of benchmarks: the per-arm table pooled over the
    seeds, then the route's escalations by trigger (the router's recorded decisions)."""
    arms = data["figures"]["pooled"]["arms"]
    lines = table(arms).splitlines()
    route = arms.get("route")
    if route is None:
        return lines
    counts = {t: n for t, n in route.get("decisions_by_trigger", {}).items() if t != "none" and n}
    ordered = sorted(counts.items(), key=lambda tn: (-tn[1], tn[0]))
    parts = [f"{n:,} {TRIGGERS.get(t, (t, t))[n != 1]}" for t, n in ordered]
    # a blank line: a line right under a markdown table would be read as one of its rows
    return [
        *lines,
        "",
        f"Escalations: {', '.join(parts) or 'none'} in {route['requests']:,} requests.",
    ]


def main() -> int:
    """Run every arm on every seed, record the figures and print the pooled table."""
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
    if args.runs < 1 or args.requests < 1:
        parser.error("--runs and --requests must be at least 1")

    chosen = [a.strip() for a in args.arms.split(",") if a.strip()]
    if unknown := [a for a in chosen if a not in ARMS]:
        print(f"bench_routes: unknown arm(s) {', '.join(unknown)}; one of {', '.join(ARMS)}")
        return 2
    _, no_route = catalog_text("http://127.0.0.1:9")
    if no_route and "route" in chosen:
        print(f"route arm skipped: this build's catalog refuses the route ({no_route})")
        chosen.remove("route")
    out = args.out.resolve()
    settings = {
        **vars(args),
        # the committed file names the output folder as the command line would, not this machine's
        "out": str(out.relative_to(ROOT) if out.is_relative_to(ROOT) else out),
        "scenario": SCENARIO,
        "route": {"name": ROUTE, "default": DEFAULT_MODEL, "escalate": ESCALATE},
    }
    record = Run("routes", command_line("bench_routes.py"), settings)
    path = args.out / f"routes-{record.started:%Y%m%dT%H%M%SZ}.json"
    seeds: list[tuple[int, dict[str, dict[str, Any]]]] = []
    for run in range(args.runs):
        seed = args.seed + run
        asks = workload(args.requests, args.hard, seed)
        by_arm: dict[str, dict[str, Any]] = {}
        for arm in chosen:
            by_arm[arm] = fresh_arm(arm, asks, seed, args)
            f = arm_figures(by_arm[arm])
            print(
                f"run {run + 1} seed {seed} {arm}: success {f['success_rate']:.1%}, "
                f"cost/success {f['cost_per_success_usd']}, p50 {f['latency_p50_ms']:.0f} ms, "
                f"statuses {f['statuses']}",
                flush=True,
            )
        seeds.append((seed, by_arm))
        # saved after every seed: a crash late in the run keeps what was measured
        figures = figures_from(seeds, no_route)
        written = record.save(figures, path=path)
    print(f"\n{args.runs} run(s) x {args.requests} requests per arm, pooled:\n")
    print("\n".join(readme_detail(record.data)))
    target = figures["pooled"]["target"]
    if target is not None:
        per_run = ", ".join(
            f"{r['target']['cost_share_of_large']:.1%}"
            for r in figures["runs"]
            if r["target"] is not None
        )
        print(
            f"\ntarget (success within 1 point of always-large at <= 40 % of its cost per "
            f"success): gap {target['success_gap_points']:+.2f} points, cost "
            f"{target['cost_share_of_large']:.1%} of always-large (runs: {per_run}): "
            f"{'met' if target['met'] else 'NOT met'}"
        )
    print(f"\nwrote {written.relative_to(ROOT) if written.is_relative_to(ROOT) else written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
