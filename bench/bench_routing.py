"""Routing quality: the same seeded request stream through each policy, on simulated fleets.

    python bench/bench_routing.py --generated 20            # random held-out scenarios 0..19
    python bench/bench_routing.py --scenarios drift,outages  # the fixed ones
        [--runs 1] [--rps 6] [--no-litellm] [--policies signalbox,oracle,...] [--raw DIR]
        [--keep DIR]
    python bench/bench_routing.py --report bench/results/routing-....json   # tables again
    python bench/bench_routing.py --generated 20 --candidate ../venv-b/bin/python  # paired A/B

Policies: Signalbox with its default settings ("signalbox"), and with the same defaults with every
duration divided by the run's time scale ("signalbox-scaled": the default router at the
scenario's own pace; on request also "signalbox-tuned", the first build's hand-tuned row);
round-robin; the best static provider chosen early (best over the
run's first tenth) and in hindsight (best over the whole run, from the truth); LiteLLM's Router
with latency-based routing (pinned version, installed by this script into .bench-venvs/litellm,
never at test time); and the oracle: greedy on /truth at request time (polled every 200 ms), no
retries. The oracle is the yardstick, not a strict upper bound: a router that retries can beat
it. Each policy gets its own simulator with the same scenario and seed (same timeline, no
disturbance between policies); all run at once, time compressed. Loopback only. The simulator's
noise (per-request spread, jitter, stalls, other tenants' load) is on. No router setting changes
per scenario. Every run writes bench/results/routing-<time>.json (bench/report.py reads them).

A/B of a router change: ``--candidate PYTHON`` (the interpreter of an environment where a worktree
at the commit to try is installed, ``pip install -e``) adds, next to each Signalbox row, the same
row run by that installation ("signalbox@candidate"), in the same run, on the same stream, so each
scenario run pairs the two under the same machine load (two separate runs of one scenario can
differ by tens of points). It writes routing-ab-<time>.json, which the README's table does not
read, and prints the paired differences.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.record import Run, commit  # noqa: E402
from bench.routing.generate import generate  # noqa: E402
from bench.routing.metrics import (  # noqa: E402
    distribution,
    outage_attempts,
    reroute_times,
    summarise,
)
from bench.routing.policies import (  # noqa: E402
    Oracle,
    RoundRobin,
    Static,
    best_static,
    hindsight_static,
)
from bench.routing.services import (  # noqa: E402
    CANDIDATE,
    LITELLM_VERSION,
    SignalboxRow,
    ensure_litellm,
    row_settings,
    start_simulator,
    stop,
    wait_http,
)
from bench.routing.stream import (  # noqa: E402
    PROMPT,
    Planned,
    Result,
    Target,
    schedule,
    send_direct,
    send_router,
)
from signalbox.simulator.catalog import api_key_environment  # noqa: E402
from signalbox.simulator.scenario import Scenario, load_scenario, parse_scenario  # noqa: E402

# fixed scenario -> (time scale: scenario seconds per real second, real duration in seconds)
SCENARIOS = {
    "drift": (10.0, 150.0),
    "outages": (8.0, 150.0),
    "degrade": (8.0, 150.0),
    "saturate": (4.0, 120.0),
}
SIGNALBOX_ROWS = ("signalbox", "signalbox-scaled", "signalbox-tuned")
GENERATED_SCALE, GENERATED_SPAN_S = 10.0, 420.0  # x10: 42 real seconds per generated scenario
MODEL = "llama-3.1-70b"
GRACE_S = 30.0  # real seconds the stream's requests get after the last is sent (see drive)
WARMUP_S = 25.0  # real seconds from the simulators' start to the stream's (set-up, probes)
POLICIES = (
    "signalbox",
    "signalbox-scaled",
    "signalbox-tuned",
    "round-robin",
    "early-static",
    "hindsight-static",
    "litellm",
    "oracle",
)
LABELS = {
    "signalbox": "Signalbox (default settings)",
    "signalbox-scaled": "Signalbox (default settings on the scenario's clock)",
    "signalbox-tuned": "Signalbox (tuned to x10 time)",
    "round-robin": "round-robin",
    "early-static": "best static (chosen early)",
    "hindsight-static": "best static (hindsight)",
    "litellm": f"LiteLLM Router {LITELLM_VERSION} (latency-based)",
    "oracle": "oracle (greedy on truth)",
}


def installed_tree(python: str) -> Path | None:
    """The checkout whose Signalbox ``python`` imports (its services too), or None."""
    code = (
        "import pathlib, signalbox, signalbox.router;"
        "print(pathlib.Path(signalbox.__file__).resolve().parents[1])"
    )
    try:
        # not run here: with -c the working directory comes first on sys.path, and this
        # checkout's package would answer for the candidate's
        out = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=60, cwd=Path.home()
        )
    except OSError:
        return None
    tree = Path(out.stdout.strip())
    return tree if out.returncode == 0 and (tree / "signalbox").is_dir() else None


def resolve(name: str, workdir: Path) -> tuple[Scenario, str, float, float]:
    """The scenario, the simulator's --scenario argument, the time scale and real duration."""
    if name.startswith("gen-"):
        text = generate(int(name[4:]), GENERATED_SPAN_S)
        path = workdir / f"{name}.toml"
        path.write_text(text)
        return (
            parse_scenario(text, path.name),
            str(path),
            GENERATED_SCALE,
            GENERATED_SPAN_S / GENERATED_SCALE,
        )
    scale, duration = SCENARIOS[name]
    return load_scenario(name), name, scale, duration


def targets_for(scenario: Scenario, sim_url: str) -> list[Target]:
    """A direct target per provider serving MODEL on the simulator at ``sim_url``."""
    out = []
    for p in scenario.providers:
        m = p.find_model(MODEL)
        if m is None:
            continue
        base = f"{sim_url}/{p.name}/v1" if p.dialect == "openai" else f"{sim_url}/{p.name}"
        price_in, price_out = m.price_input_per_mtok or 0.0, m.price_output_per_mtok or 0.0
        out.append(
            Target(p.name, p.dialect, base, m.upstream_model, p.api_key, price_in, price_out)
        )
    return out


async def drive(plans: list[Planned], send) -> list[Result]:  # type: ignore[no-untyped-def]
    """Send each planned request at its time; results carry seconds since the run started.

    A request still open ``GRACE_S`` after the last one was sent fails as "unfinished" (as the
    LiteLLM driver's do): a static policy herded onto a saturated provider streams at a few
    tokens/s for minutes, which no app would wait for and no run can afford."""
    t0 = time.monotonic()
    tasks, sent = [], {}
    for plan in plans:
        delay = t0 + plan.at_s - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(send(plan, time.monotonic() - t0))
        sent[task] = time.monotonic() - t0
        tasks.append(task)
    await asyncio.wait(tasks, timeout=GRACE_S)
    out = []
    for task in tasks:
        if task.done():
            out.append(task.result())
        else:
            task.cancel()
            out.append(Result(sent[task], None, False, error="unfinished"))
    return out


def litellm_job(path: Path, scenario: Scenario, sim_url: str, plans, epoch: float) -> None:  # type: ignore[no-untyped-def]
    """The LiteLLM driver's job file: targets, schedule and the stream's start (epoch seconds)."""
    targets = [{f: getattr(t, f) for f in Target.__slots__} for t in targets_for(scenario, sim_url)]
    path.write_text(
        json.dumps(
            {
                "model": MODEL,
                "prompt": PROMPT,
                "start_at_epoch": epoch,
                "targets": targets,
                "schedule": [{"at_s": p.at_s, "max_tokens": p.max_tokens} for p in plans],
            }
        )
    )


async def run_scenario(
    name: str,
    run: int,
    rps: float,
    policies: list[str],
    workdir: Path,
    candidate: str | None = None,
) -> tuple[dict, dict[str, list[Result]]]:
    """One run of one scenario: the report row per policy, and every request's result (rows
    ending ``@candidate`` run Signalbox with the interpreter ``candidate``)."""
    scenario, scenario_arg, scale, duration = resolve(name, workdir)
    plans = schedule(seed=1000 + run, rps=rps, duration_s=duration)
    env = dict(os.environ, PYTHONUNBUFFERED="1", **api_key_environment(scenario))
    sims, procs = {}, []
    outs: dict[str, list[Result]] = {}
    meta: dict = {}
    try:
        sims_epoch = time.time()
        for policy in policies:
            proc, sims[policy] = start_simulator(
                scenario_arg, scale, WARMUP_S, env, workdir / f"sim-{policy}.log"
            )
            procs.append(proc)
        rows = {
            row: SignalboxRow(
                row,
                scenario,
                sims[row],
                workdir,
                env,
                scale,
                python=candidate if row.endswith(CANDIDATE) else None,
            )
            for row in policies
            if row.removesuffix(CANDIDATE) in SIGNALBOX_ROWS
        }
        procs += [r.migrate for r in rows.values()]
        for url in sims.values():  # set-up, before any request is timed: blocking is fine
            wait_http(f"{url}/truth")
        stream_epoch = sims_epoch + WARMUP_S
        lite = None
        if "litellm" in policies:  # started now: imports and warms up, then waits
            job = workdir / "litellm-job.json"
            litellm_job(job, scenario, sims["litellm"], plans, stream_epoch)
            lite = await asyncio.create_subprocess_exec(
                str(ensure_litellm()),
                str(ROOT / "bench" / "routing" / "litellm_driver.py"),
                str(job),
                str(workdir / "litellm-out.json"),
                stdout=(workdir / "litellm.log").open("ab"),
                stderr=subprocess.STDOUT,
            )
        for r in rows.values():
            procs += r.launch()
        routers = {row: r.url for row, r in rows.items()}
        for url in routers.values():
            wait_http(f"{url}/healthz")
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
        timeout = httpx.Timeout(30.0, connect=5.0)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            # Every policy's stream starts at scenario time 0: WARMUP_S after the simulators
            # started (with that lead-in), whatever the set-up took. Signalbox probes during the
            # lead-in, as a router that has been running would have.
            if time.time() > stream_epoch - 1:
                print(f"set-up took longer than {WARMUP_S:g} s; the stream starts late", flush=True)
                stream_epoch = time.time() + 1
            truth = (await client.get(f"{sims['oracle']}/truth")).json()
            start_t = truth["t"] + (stream_epoch - time.time()) * scale
            statics = {}
            if "early-static" in policies:
                url = sims["early-static"]
                early = await best_static(
                    url, targets_for(scenario, url), MODEL, max(start_t, 0.0), duration * scale / 10
                )
                statics["early-static"] = Static(early)
            if "hindsight-static" in policies:
                spec = next(p.find_model(MODEL) for p in scenario.providers if p.find_model(MODEL))
                tokens = statistics.fmean(
                    min(p.max_tokens, spec.output_tokens_median) for p in plans
                )
                best, scores = hindsight_static(
                    scenario,
                    targets_for(scenario, sims["hindsight-static"]),
                    MODEL,
                    max(start_t, 0.0),
                    duration * scale,
                    rps,
                    tokens,
                )
                statics["hindsight-static"] = Static(best)
                meta["hindsight_scores"] = {k: round(v, 2) for k, v in scores.items()}
            meta.update({k: v.target.provider for k, v in statics.items()})
            rr = RoundRobin(targets_for(scenario, sims.get("round-robin", sims["oracle"])))
            oracle = Oracle(sims["oracle"], targets_for(scenario, sims["oracle"]), MODEL)
            prices = {t.provider: (t.price_in, t.price_out) for t in targets_for(scenario, "")}

            def via_router(url: str):  # type: ignore[no-untyped-def]
                async def send(plan: Planned, sent_s: float) -> Result:
                    result = await send_router(client, url, f"{MODEL}@throughput", plan, sent_s)
                    p_in, p_out = prices.get(result.provider or "", (0.0, 0.0))
                    result.cost_usd = (
                        result.input_tokens * p_in + result.output_tokens * p_out
                    ) / 1e6
                    return result

                return send

            senders = {row: via_router(url) for row, url in routers.items()}
            senders["round-robin"] = lambda p, s: send_direct(client, rr.choose(), p, s)
            for key, static in statics.items():
                senders[key] = lambda p, s, st=static: send_direct(client, st.choose(), p, s)
            senders["oracle"] = lambda p, s: send_direct(client, oracle.choose(), p, s)
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
                    tail = (workdir / "litellm.log").read_text(errors="replace")[-600:]
                    print(f"LiteLLM driver exited {lite.returncode}; its log ends:\n{tail}")
    finally:
        stop(procs)
    return score(scenario, outs, start_t, scale, duration, meta), outs


def score(scenario: Scenario, outs: dict[str, list[Result]], start_t, scale, duration, meta):  # type: ignore[no-untyped-def]
    """The report row per policy: throughput figures, share of the oracle, and per outage (inside
    the measured stream) the attempts that still went to the dead provider and their cost."""
    report: dict = {"_meta": meta}
    outages = [
        ((e.start_s - start_t) / scale, (e.end_s - start_t) / scale, e.provider)
        for e in scenario.events
        if e.kind == "outage" and scenario.provider(e.provider).find_model(MODEL)
    ]
    outages = [(s, min(e, duration), p) for s, e, p in outages if 0 <= s < duration]
    cap = 2 * max(m.tps for p in scenario.providers for m in p.models if m.model == MODEL)
    oracle = summarise(outs["oracle"], cap)["tps_delivered"] if "oracle" in outs else None
    for policy, results in outs.items():
        row = summarise(results, cap)
        row["share_of_oracle"] = (
            row["tps_delivered"] / oracle if oracle and row["tps_delivered"] is not None else None
        )
        per = [outage_attempts(results, p, s, e) for s, e, p in outages]
        backs = [reroute_times(results, p, s, e)[1] for s, e, p in outages]
        row["outages"] = per
        row["attempting_s"] = statistics.median([o["attempting_s"] for o in per]) if per else None
        added = [o["added_ttft_ms"] for o in per if o["added_ttft_ms"] is not None]
        row["added_ttft_ms"] = statistics.median(added) if added else None
        row["outage_failures"] = sum(o["failed"] for o in per)
        backs = [b for b in backs if b is not None]
        row["reroute_back_s"] = statistics.median(backs) if backs else None
        report[policy] = row
    return report


def summary(all_runs: dict[str, list[dict]]) -> dict:
    """Per policy over the scenarios: the distribution of the share of the oracle, and for each
    Signalbox row how often it beat the hindsight-best static provider and by how much (its share
    less the static provider's, in points of the oracle: the median, and the worst).

    A scenario run several times counts once: a policy's share in it is the median over its runs,
    and its margin over the static provider the median of the paired margins (the two ran at the
    same time, on the same machine, so the pair shares whatever load the run met). One run's
    share can move by several points, which decides "ahead" wherever the static provider is
    within a point of the oracle. ``run_spread`` is the median over scenarios of the spread
    (highest less lowest share) between a policy's runs of one scenario: the noise one run has."""
    shares: dict[str, list[float]] = {}
    margins: dict[str, list[float]] = {}
    spreads: dict[str, list[float]] = {}
    for runs in all_runs.values():
        per_run: dict[str, list[float]] = {}
        paired: dict[str, list[float]] = {}
        for rep in runs:
            hind = (rep.get("hindsight-static") or {}).get("share_of_oracle")
            for policy, row in rep.items():
                if policy.startswith("_") or row.get("share_of_oracle") is None:
                    continue
                per_run.setdefault(policy, []).append(row["share_of_oracle"])
                if policy.startswith("signalbox") and hind is not None:
                    paired.setdefault(policy, []).append(row["share_of_oracle"] - hind)
        for policy, values in per_run.items():
            shares.setdefault(policy, []).append(statistics.median(values))
            if len(values) > 1:
                spreads.setdefault(policy, []).append(max(values) - min(values))
        for policy, values in paired.items():
            margins.setdefault(policy, []).append(statistics.median(values))
    out = {}
    for policy, values in shares.items():
        out[policy] = {"label": label(policy), **distribution(values)}
        if policy in spreads:
            out[policy]["run_spread"] = statistics.median(spreads[policy])
        if policy in margins:
            m = margins[policy]
            out[policy]["ahead_of_hindsight_static"] = sum(v > 0 for v in m) / len(m)
            out[policy]["margin_over_hindsight_static"] = {
                "median": statistics.median(m),
                "worst": min(m),
            }
    return out


def label(policy: str) -> str:
    """The policy's name in tables ("..., candidate" for an A/B's candidate row)."""
    base = policy.removesuffix(CANDIDATE)
    return LABELS.get(base, base) + (", candidate" if base != policy else "")


def paired_ab(all_runs: dict[str, list[dict]]) -> dict:
    """Per candidate row, against its base row: each scenario's difference in share of the
    oracle (candidate less base, in the same run; the median over the scenario's runs), and
    over the scenarios their median and mean, how many are better and worse, and the two-sided
    sign test's p-value (no assumption on the differences' distribution)."""
    diffs: dict[str, list[float]] = {}
    for runs in all_runs.values():
        per: dict[str, list[float]] = {}
        for rep in runs:
            for policy, row in rep.items():
                base = rep.get(policy.removesuffix(CANDIDATE)) or {}
                if (
                    policy.endswith(CANDIDATE)
                    and row.get("share_of_oracle") is not None
                    and base.get("share_of_oracle") is not None
                ):
                    per.setdefault(policy, []).append(
                        row["share_of_oracle"] - base["share_of_oracle"]
                    )
        for policy, values in per.items():
            diffs.setdefault(policy, []).append(statistics.median(values))
    out = {}
    for policy, d in diffs.items():
        better, worse = sum(v > 0 for v in d), sum(v < 0 for v in d)
        out[policy] = {
            "base": policy.removesuffix(CANDIDATE),
            "n": len(d),
            "median": statistics.median(d),
            "mean": statistics.fmean(d),
            "better": better,
            "worse": worse,
            "sign_p": sign_test(better, worse),
            "per_scenario": [round(v, 4) for v in d],
        }
    return out


def sign_test(better: int, worse: int) -> float:
    """Two-sided sign-test p-value of ``better`` against ``worse`` (ties left out)."""
    n = better + worse
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(better, worse) + 1)) / 2**n
    return min(1.0, 2 * tail)


def fmt(v, spec: str) -> str:  # type: ignore[no-untyped-def]
    return "-" if v is None else format(v, spec)


def print_tables(all_runs: dict[str, list[dict]], rps: float) -> None:
    """One line per scenario and policy (medians over runs), then the distribution."""
    keys = ("share_of_oracle", "tps_delivered", "ttft_p50_ms", "error_rate", "attempting_s")
    head = f"{'policy':<18} {'vs oracle':>9} {'tok/s':>7} {'TTFT p50':>9} {'errors':>7}"
    for name, runs in all_runs.items():
        print(f"\n{name} (median of {len(runs)} runs, {rps:g} req/s)")
        print(f"{head} {'dead s':>7} {'+TTFT':>7} {'back s':>7}")
        for policy in dict.fromkeys(p for r in runs for p in r if not p.startswith("_")):
            m = {}
            for k in (*keys, "added_ttft_ms", "reroute_back_s"):
                vals = [r[policy][k] for r in runs if r.get(policy, {}).get(k) is not None]
                m[k] = statistics.median(vals) if vals else None
            print(
                f"{policy:<18} {fmt(m['share_of_oracle'], '9.1%')} "
                f"{fmt(m['tps_delivered'], '7.1f')} {fmt(m['ttft_p50_ms'], '9.0f')} "
                f"{fmt(m['error_rate'], '7.2%')} {fmt(m['attempting_s'], '7.1f')} "
                f"{fmt(m['added_ttft_ms'], '7.0f')} {fmt(m['reroute_back_s'], '7.1f')}"
            )
    print("\nshare of the oracle over the scenarios (median of each scenario's runs)")
    for d in summary(all_runs).values():
        beat = d.get("ahead_of_hindsight_static")
        extra = f", ahead of hindsight-static in {beat:.0%}" if beat is not None else ""
        print(
            f"  {d['label']:<40} median {fmt(d['median'], '.1%')}, worst 10 % "
            f"{fmt(d['worst10'], '.1%')}, min {fmt(d['min'], '.1%')} (n={d['n']}){extra}"
        )
    ab = paired_ab(all_runs)
    if ab:
        print("\nA/B: candidate less base, share of the oracle, paired within each run")
    for policy, d in ab.items():
        print(
            f"  {policy:<28} median {d['median'] * 100:+.1f} pt, mean {d['mean'] * 100:+.1f} pt, "
            f"better in {d['better']} of {d['n']}, worse in {d['worse']} "
            f"(sign test p = {d['sign_p']:.2f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenarios", default=None, help="fixed scenarios or gen-<seed>, comma-separated"
    )
    parser.add_argument("--generated", type=int, default=0, help="this many random scenarios")
    parser.add_argument("--first-seed", type=int, default=0, help="of the generated scenarios")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--rps", type=float, default=6.0)
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument(
        "--policies",
        default=",".join(p for p in POLICIES if p != "signalbox-tuned"),
        help="oracle always runs; signalbox-tuned (the first build's hand-tuned row) on request",
    )
    parser.add_argument("--report", type=Path, help="only print the tables of a saved result")
    parser.add_argument("--raw", type=Path, help="also write every request's result here")
    parser.add_argument(
        "--candidate",
        help="A/B: also run each Signalbox row with this python, of an environment where the "
        "change to try is installed",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep each run's working directory here (stores with the decision log, logs)",
    )
    args = parser.parse_args()
    if args.report:
        data = json.loads(args.report.read_text())
        print_tables(data["figures"]["scenarios"], data["settings"]["rps"])
        return
    fixed = args.scenarios if args.scenarios is not None else ("" if args.generated else None)
    names = [s for s in (fixed if fixed is not None else ",".join(SCENARIOS)).split(",") if s]
    unknown = [n for n in names if n not in SCENARIOS and not re.fullmatch(r"gen-\d+", n)]
    if unknown:
        parser.error(
            f"unknown scenario {unknown[0]!r}; one of {', '.join(SCENARIOS)} or gen-<seed>"
        )
    names += [f"gen-{args.first_seed + i:03d}" for i in range(args.generated)]
    asked = {p for p in args.policies.split(",") if p} | {"oracle"}
    if args.no_litellm:
        asked.discard("litellm")
    if asked - set(POLICIES):
        parser.error(f"unknown policy {sorted(asked - set(POLICIES))[0]!r}")
    policies = [p for p in POLICIES if p in asked]
    candidate = None
    if args.candidate is not None:
        candidate = str(Path(args.candidate).absolute())
        tree = installed_tree(candidate)
        if tree is None:
            parser.error(f"--candidate {args.candidate}: no Signalbox installed for that python")
        rows = [p for p in policies if p in SIGNALBOX_ROWS]
        if not rows:
            parser.error("--candidate needs a Signalbox row among the policies")
        policies += [row + CANDIDATE for row in rows]
    settings = {
        "rps": args.rps,
        "runs": args.runs,
        "policies": policies,
        "scenarios": names,
        "warmup_s": WARMUP_S,
        "generated": {"time_scale": GENERATED_SCALE, "span_s": GENERATED_SPAN_S},
        "signalbox_rows": {  # as on the generated scenarios' clock
            row: row_settings(row, GENERATED_SCALE) for row in SIGNALBOX_ROWS if row in policies
        },
        "litellm_version": LITELLM_VERSION,
    }
    if candidate is not None:
        settings["candidate"] = {"python": candidate, **commit(tree)}
    benchmark = "routing" if candidate is None else "routing-ab"
    record = Run(benchmark, "python bench/bench_routing.py " + " ".join(sys.argv[1:]), settings)
    all_runs: dict[str, list[dict]] = {n: [] for n in names}
    for run in range(args.runs):
        for name in names:
            with tempfile.TemporaryDirectory(prefix=f"sbx-bench-{name}-") as tmp:
                t = time.monotonic()
                rep, outs = asyncio.run(
                    run_scenario(name, run, args.rps, policies, Path(tmp), candidate)
                )
                if args.raw:  # every request, for looking into where traffic went
                    args.raw.mkdir(parents=True, exist_ok=True)
                    (args.raw / f"{name}-run{run + 1}.json").write_text(
                        json.dumps({p: [r.to_json() for r in rs] for p, rs in outs.items()})
                    )
                if args.keep:  # the routers' stores and logs, for tracing their decisions
                    shutil.copytree(tmp, args.keep / f"{name}-run{run + 1}", dirs_exist_ok=True)
                all_runs[name].append(rep)
                share = rep.get("signalbox", {}).get("share_of_oracle")
                print(f"run {run + 1} {name}: {time.monotonic() - t:.0f}s, {fmt(share, '.1%')}")
                # saved after every scenario run: a crash an hour in keeps what was measured
                figures = {"scenarios": all_runs, "summary": summary(all_runs)}
                if candidate is not None:
                    figures["ab"] = paired_ab(all_runs)
                path = record.save(figures)
    print_tables(all_runs, args.rps)
    print(f"\nwritten: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
