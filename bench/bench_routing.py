"""Routing quality: the same seeded request stream through each policy, on simulated fleets.

    python bench/bench_routing.py [--scenarios drift,outages,degrade,saturate] [--runs 5]
                                  [--rps 6] [--no-litellm] [--policies signalbox,oracle,...]
                                  [--raw DIR] [--report routing.json]

Policies: Signalbox (router + prober, objective throughput), round-robin, the best static provider
(best over the first tenth of the run, from the simulator's truth), LiteLLM's Router with
latency-based routing (installed by this script into its own virtualenv under .bench-venvs/), and
the oracle that reads /truth. Each policy gets its own simulator process with the same scenario and
seed, so all see the same timeline and none's load disturbs another's; all run at once. Scenario time
is compressed (--time-scale per scenario) so a run takes minutes. Loopback only.
Prints one table per scenario (medians over runs) and writes artifacts/bench/routing.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.routing.metrics import reroute_times, summarise  # noqa: E402
from bench.routing.policies import Oracle, RoundRobin, Static, best_static  # noqa: E402
from bench.routing.stream import (  # noqa: E402
    PROMPT,
    Planned,
    Result,
    Target,
    schedule,
    send_direct,
    send_router,
)
from signalbox.simulator.catalog import api_key_environment, catalog_toml  # noqa: E402
from signalbox.simulator.scenario import load_scenario  # noqa: E402

# scenario -> (time scale: scenario seconds per real second, real duration in seconds)
SCENARIOS = {
    "drift": (10.0, 150.0),
    "outages": (8.0, 150.0),
    "degrade": (8.0, 150.0),
    "saturate": (4.0, 120.0),
}
MODEL = "llama-3.1-70b"
WARMUP_S = 25.0  # real seconds from the simulators' start to the stream's (set-up, probes)
LITELLM_VENV = ROOT / ".bench-venvs" / "litellm"
POLICIES = ("signalbox", "round-robin", "best-static", "oracle", "litellm")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "signalbox.cli", *args]


def wait_http(url: str, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {deadline_s}s")


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


def ensure_litellm() -> Path:
    """A virtualenv holding litellm, made once."""
    python = LITELLM_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "litellm"], check=True)
    return python


def targets_for(scenario, sim_url: str) -> list[Target]:  # type: ignore[no-untyped-def]
    out = []
    for p in scenario.providers:
        m = p.find_model(MODEL)
        if m is None:
            continue
        base = f"{sim_url}/{p.name}/v1" if p.dialect == "openai" else f"{sim_url}/{p.name}"
        out.append(
            Target(
                p.name,
                p.dialect,
                base,
                m.upstream_model,
                p.api_key,
                m.price_input_per_mtok or 0.0,
                m.price_output_per_mtok or 0.0,
            )
        )
    return out


async def drive(plans: list[Planned], send) -> list[Result]:  # type: ignore[no-untyped-def]
    """Send each planned request at its time; results carry seconds since the run started."""
    t0 = time.monotonic()
    tasks = []
    for plan in plans:
        delay = t0 + plan.at_s - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(plan, time.monotonic() - t0)))
    return list(await asyncio.gather(*tasks))


async def run_scenario(
    name: str, run: int, rps: float, policies: list[str], workdir: Path
) -> tuple[dict, dict[str, list[Result]]]:
    """One run of one scenario: the report row per policy, and every request's result."""
    litellm = "litellm" in policies
    scale, duration = SCENARIOS[name]
    scenario = load_scenario(name).model_copy(update={"time_scale": scale})
    plans = schedule(seed=1000 + run, rps=rps, duration_s=duration)
    env = dict(os.environ, PYTHONUNBUFFERED="1", **api_key_environment(scenario))
    sims, procs = {}, []
    start_t = 0.0  # scenario time when the stream starts
    try:
        sims_epoch = time.time()
        for policy in policies:
            port = free_port()
            procs.append(
                start(
                    cli(
                        "simulate",
                        "--scenario",
                        name,
                        "--port",
                        str(port),
                        "--time-scale",
                        str(scale),
                        "--start-offset",  # scenario time 0 when the stream starts
                        str(-WARMUP_S * scale),
                    ),
                    env,
                    workdir / f"sim-{policy}.log",
                )
            )
            sims[policy] = f"http://127.0.0.1:{port}"
        for url in sims.values():
            wait_http(f"{url}/truth")
        # Signalbox: its own store, prober and router in front of its simulator.
        catalog = workdir / "catalog.toml"
        text = catalog_toml(scenario, sims["signalbox"], probe_interval_s=2.0, probe_jitter_s=0.5)
        catalog.write_text(text + "\n[routing]\nhalf_life_s = 20.0\nstale_after_s = 10.0\n")
        db = f"sqlite:///{workdir / 'signalbox.db'}"
        sb_env = dict(
            env,
            SIGNALBOX_DATABASE_URL=db,
            SIGNALBOX_CATALOG=str(catalog),
            SIGNALBOX_DATA_DIR=str(workdir),
        )
        # Set-up, before any request is timed: blocking is harmless here.
        subprocess.run(cli("db", "upgrade"), env=sb_env, check=True, capture_output=True)  # noqa: ASYNC221
        router_port = free_port()
        procs.append(start(cli("probe"), sb_env, workdir / "probe.log"))
        procs.append(
            start(cli("router", "--port", str(router_port)), sb_env, workdir / "router.log")
        )
        router_url = f"http://127.0.0.1:{router_port}"
        wait_http(f"{router_url}/healthz")

        limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
        timeout = httpx.Timeout(30.0, connect=5.0)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            # Every policy's stream starts at scenario time 0 in every run: WARMUP_S after the
            # simulators started (with that lead-in), whatever the set-up took (it varies by
            # seconds, and at x10 a second is ten scenario seconds: runs compared different parts
            # of the day, and the scenarios' events had partly passed). Signalbox probes during
            # the lead-in, as a router that has been running would have.
            stream_epoch = sims_epoch + WARMUP_S
            if time.time() > stream_epoch - 1:
                print(f"set-up took longer than {WARMUP_S:g} s; the stream starts late", flush=True)
                stream_epoch = time.time() + 1
            truth = (await client.get(f"{sims['oracle']}/truth")).json()
            start_t = truth["t"] + (stream_epoch - time.time()) * scale
            lite = None
            if litellm:  # started now: it imports and warms up, then waits for stream_epoch
                job = workdir / "litellm-job.json"
                job.write_text(
                    json.dumps(
                        {
                            "model": MODEL,
                            "prompt": PROMPT,
                            "start_at_epoch": stream_epoch,
                            "targets": [
                                {f: getattr(t, f) for f in Target.__slots__}
                                for t in targets_for(scenario, sims["litellm"])
                            ],
                            "schedule": [
                                {"at_s": p.at_s, "max_tokens": p.max_tokens} for p in plans
                            ],
                        }
                    )
                )
                lite = await asyncio.create_subprocess_exec(
                    str(ensure_litellm()),
                    str(ROOT / "bench" / "routing" / "litellm_driver.py"),
                    str(job),
                    str(workdir / "litellm-out.json"),
                    stdout=(workdir / "litellm.log").open("ab"),
                    stderr=subprocess.STDOUT,
                )
            static = None
            if "best-static" in policies:
                static = Static(
                    await best_static(
                        sims["best-static"],
                        targets_for(scenario, sims["best-static"]),
                        MODEL,
                        max(start_t, 0.0),
                        duration * scale / 10,
                    )
                )
            rr = RoundRobin(targets_for(scenario, sims.get("round-robin", sims["oracle"])))
            oracle = Oracle(sims["oracle"], targets_for(scenario, sims["oracle"]), MODEL)
            prices = {
                t.provider: (t.price_in, t.price_out)
                for t in targets_for(scenario, sims["signalbox"])
            }

            async def via_router(plan: Planned, sent_s: float) -> Result:
                result = await send_router(client, router_url, f"{MODEL}@throughput", plan, sent_s)
                p_in, p_out = prices.get(result.provider or "", (0.0, 0.0))
                result.cost_usd = (result.input_tokens * p_in + result.output_tokens * p_out) / 1e6
                return result

            senders = {
                "signalbox": via_router,
                "round-robin": lambda p, s: send_direct(client, rr.choose(), p, s),
                "best-static": lambda p, s: send_direct(client, static.choose(), p, s),
                "oracle": lambda p, s: send_direct(client, oracle.choose(), p, s),
            }
            await asyncio.sleep(max(stream_epoch - time.time() - 0.3, 0))
            await oracle.start()  # fresh truth at the start
            await asyncio.sleep(max(stream_epoch - time.time(), 0))
            jobs = {n: drive(plans, send) for n, send in senders.items() if n in policies}
            outs = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
            await oracle.stop()
            if lite is not None:
                await lite.wait()
                out = workdir / "litellm-out.json"
                if out.exists():
                    outs["litellm"] = [Result(**r) for r in json.loads(out.read_text())]
                else:  # one peer failing must not cost the other policies' run
                    log_tail = (workdir / "litellm.log").read_text(errors="replace")[-600:]
                    print(
                        f"LiteLLM driver exited {lite.returncode} without results; its log ends:\n{log_tail}",
                        flush=True,
                    )
    finally:
        stop(procs)

    report = {}
    outages = [e for e in scenario.events if e.kind == "outage" and e.applies(e.provider, MODEL)]
    for policy, results in outs.items():
        row = summarise(results)
        aways, backs = [], []
        for e in outages:
            away, back = reroute_times(
                results, e.provider, (e.start_s - start_t) / scale, (e.end_s - start_t) / scale
            )
            if away is not None:
                aways.append(away)
            if back is not None:
                backs.append(back)
        row["reroute_away_s"] = statistics.median(aways) if aways else None
        row["reroute_back_s"] = statistics.median(backs) if backs else None
        report[policy] = row
    return report, outs


def fmt(v, spec: str) -> str:  # type: ignore[no-untyped-def]
    return "-" if v is None else format(v, spec)


def print_tables(all_runs: dict[str, list[dict]], rps: float) -> None:
    """One table per scenario: medians over runs; "delivered" counts a failed request as 0 tok/s
    (what the app got), and the ratio to the oracle is on delivered tok/s."""
    keys = [
        "tps_delivered",
        "tps_mean",
        "ttft_p50_ms",
        "ttft_p99_ms",
        "error_rate",
        "cost_per_mtok",
        "reroute_away_s",
        "reroute_back_s",
    ]
    for name, runs in all_runs.items():
        for run in runs:
            for row in run.values():
                if row.get("tps_delivered") is None and row.get("tps_mean") is not None:
                    row["tps_delivered"] = row["tps_mean"] * (1 - (row["error_rate"] or 0.0))
        print(f"\n{name} (median of {len(runs)} runs, {rps:g} req/s, objective throughput)")
        print(
            f"{'policy':<12} {'delivered':>9} {'vs oracle':>9} {'ok tok/s':>8} {'TTFT p50':>9} "
            f"{'TTFT p99':>9} {'errors':>7} {'$/Mtok':>7} {'away s':>7} {'back s':>7}"
        )
        med = {}
        policies = list(dict.fromkeys(p for r in runs for p in r))  # a peer may miss a run
        for policy in policies:
            med[policy] = {}
            for k in keys:
                vals = [r[policy][k] for r in runs if r.get(policy, {}).get(k) is not None]
                med[policy][k] = statistics.median(vals) if vals else None
        oracle = med.get("oracle", {}).get("tps_delivered")
        for policy, m in med.items():
            ratio = m["tps_delivered"] / oracle if m["tps_delivered"] and oracle else None
            print(
                f"{policy:<12} {fmt(m['tps_delivered'], '9.1f')} {fmt(ratio, '9.1%')} "
                f"{fmt(m['tps_mean'], '8.1f')} {fmt(m['ttft_p50_ms'], '9.0f')} "
                f"{fmt(m['ttft_p99_ms'], '9.0f')} {fmt(m['error_rate'], '7.2%')} "
                f"{fmt(m['cost_per_mtok'], '7.3f')} {fmt(m['reroute_away_s'], '7.1f')} "
                f"{fmt(m['reroute_back_s'], '7.1f')}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--rps", type=float, default=6.0)
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument(
        "--policies",
        default=",".join(POLICIES),
        help="which policies run (signalbox and the oracle always do; fewer runs faster)",
    )
    parser.add_argument("--report", type=Path, help="only print the tables of a saved routing.json")
    parser.add_argument(
        "--raw", type=Path, help="also write every request's result under this folder"
    )
    args = parser.parse_args()
    if args.report:
        print_tables(json.loads(args.report.read_text()), args.rps)
        return
    names = [s for s in args.scenarios.split(",") if s]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; one of {', '.join(SCENARIOS)}")
    asked = {p for p in args.policies.split(",") if p} | {"signalbox", "oracle"}
    if args.no_litellm:
        asked.discard("litellm")
    if asked - set(POLICIES):
        parser.error(
            f"unknown policy {sorted(asked - set(POLICIES))[0]!r}; one of {', '.join(POLICIES)}"
        )
    policies = [p for p in POLICIES if p in asked]
    all_runs: dict[str, list[dict]] = {n: [] for n in names}
    out_dir = ROOT / "artifacts" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    for run in range(args.runs):
        for name in names:
            with tempfile.TemporaryDirectory(prefix=f"sbx-bench-{name}-") as tmp:
                t = time.monotonic()
                rep, outs = asyncio.run(run_scenario(name, run, args.rps, policies, Path(tmp)))
                if args.raw:  # every request, for looking into where traffic went
                    args.raw.mkdir(parents=True, exist_ok=True)
                    (args.raw / f"{name}-run{run + 1}.json").write_text(
                        json.dumps({p: [r.to_json() for r in rs] for p, rs in outs.items()})
                    )
                all_runs[name].append(rep)
                print(f"run {run + 1} {name}: {time.monotonic() - t:.0f}s", flush=True)
                # saved after every scenario run: a crash an hour in keeps what was measured
                (out_dir / "routing.json").write_text(json.dumps(all_runs, indent=1))
    print_tables(all_runs, args.rps)


if __name__ == "__main__":
    main()
