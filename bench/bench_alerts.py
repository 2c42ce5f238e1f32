"""Detection delay of the alert rules: from a fault's start to the alert firing.

    python bench/bench_alerts.py [--trials 7] [--probe-interval 60] [--eval-interval 30]
    python bench/bench_alerts.py --profile fast   # only the settings of tests/alerts

Offline, in simulated time: a fresh SQLite store holds 6 h of healthy history for two endpoints
(TTFT log-normal, median 400 ms, sigma 0.25; one probe per ``--probe-interval``), then one endpoint
either goes down (every probe fails) or its TTFT triples (still answering). The real
``AlertEvaluator`` runs every ``--eval-interval`` with the profile's rules and default statistics
settings; each trial starts the fault at a random phase. By default both profiles run: "default"
(the default rules, ``signalbox.alerts.defaults``, probes every 60 s, evaluation every 30 s) and
"fast" (the rules of tests/alerts, probes and evaluation every 10 s). Prints each trial and the
median, for both faults; every run writes bench/results/alerts-<time>.json (bench/report.py reads
them).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.record import Row, Run, command_line  # noqa: E402

if TYPE_CHECKING:
    from signalbox.catalog import AlertRule

T_FAULT = 1_800_000_000.0
HISTORY_S = 6 * 3600.0
TTFT_MS, SIGMA, TPS = 400.0, 0.25, 60.0
FAULTS = {"outage": "outage", "ttft3x": "3x TTFT degradation"}  # fault -> its name in the README

# The rules of tests/alerts (fleet.py's OUTAGE_RULE and TTFT_RULE), as AlertRule fields: built on
# use, since signalbox's imports are not wanted when bench/report.py imports this module.
FAST_RULES: tuple[dict[str, Any], ...] = (
    {
        "name": "provider_down",
        "kind": "error_rate",
        "threshold": 0.3,
        "for_s": 30,
        "min_samples": 3,
        "half_life_s": 60,
    },
    {
        "name": "ttft_slow",
        "kind": "ttft_baseline",
        "threshold": 2.0,
        "for_s": 60,
        "min_samples": 4,
        "half_life_s": 60,
        "baseline_half_life_s": 3600,
    },
)
# profile -> (probe interval, evaluation interval), seconds, unless given on the command line
INTERVALS = {"default": (60.0, 30.0), "fast": (10.0, 10.0)}


def profile_rules(profile: str) -> tuple[AlertRule, ...]:
    """The rules a profile evaluates (each carries its half-life; the baseline lags four)."""
    from signalbox.alerts.defaults import DEFAULT_RULES
    from signalbox.catalog import AlertRule

    if profile == "default":
        return DEFAULT_RULES
    return tuple(AlertRule(**fields) for fields in FAST_RULES)


class Clock:
    """Simulated time, moved by the trial: the evaluator reads it instead of the wall clock."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def probe(eid: int, ts: float, rng: random.Random, down: bool, ttft_factor: float) -> dict:
    """One probe's observation row at ``ts``: a connect failure if ``down``, else a success."""
    from signalbox.records import ErrorClass, Observation, Source

    when = datetime.fromtimestamp(ts, UTC)
    if down:
        return Observation(eid, when, Source.PROBE, False, error_class=ErrorClass.CONNECT).to_row()
    noise = math.exp(rng.gauss(0, SIGMA))
    return Observation(
        eid, when, Source.PROBE, True, ttft_ms=TTFT_MS * ttft_factor * noise, tps=TPS / noise
    ).to_row()


async def trial(
    fault: str, seed: int, probe_s: float, eval_s: float, rules: tuple[AlertRule, ...]
) -> tuple[float | None, str]:
    """One fault at a random phase: seconds from its start to an alert firing on the faulty
    endpoint and the rule that fired, or (None, "-") if none fired within an hour."""
    # imported here, not at the top: bench/report.py imports this module for readme_rows only
    from sqlmodel import Session, select

    from signalbox.alerts.evaluator import AlertEvaluator
    from signalbox.catalog import parse_catalog
    from signalbox.db import make_engine
    from signalbox.migrate import upgrade
    from signalbox.schema import Alert
    from signalbox.sync import sync_catalog
    from signalbox.writer import insert_observations
    from tests.alerts.fleet import FLEET_TOML

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        catalog = parse_catalog(FLEET_TOML).model_copy(update={"alerts": list(rules)})
        ids = sync_catalog(engine, catalog).endpoint_ids
        eids = list(ids.values())
        victim = eids[0]
        phase = rng.uniform(0, probe_s)
        fault_at = T_FAULT + rng.uniform(0, eval_s)
        history, t = [], T_FAULT - HISTORY_S + phase
        while t < fault_at - 1800:
            history += [probe(e, t, rng, False, 1.0) for e in eids]
            t += probe_s
        insert_observations(engine, history)
        clock = Clock(fault_at - 1800)
        evaluator = AlertEvaluator(engine, catalog, clock=clock, env={})
        next_eval = clock.t
        fired: tuple[float, str] | None = None
        while fired is None and t < fault_at + 3600:
            while next_eval <= t:  # evaluations due before this probe
                clock.t = next_eval
                await evaluator.evaluate_once()
                with Session(engine) as session:
                    row = session.exec(
                        select(Alert).where(Alert.state == "firing", Alert.endpoint_id == victim)
                    ).first()
                if row is not None and row.firing_at is not None:
                    fired = (row.firing_at.timestamp() - fault_at, row.rule)
                    break
                next_eval += eval_s
            faulty = t >= fault_at
            rows = [
                probe(
                    e,
                    t,
                    rng,
                    faulty and e == victim and fault == "outage",
                    3.0 if faulty and e == victim and fault == "ttft3x" else 1.0,
                )
                for e in eids
            ]
            insert_observations(engine, rows)
            t += probe_s
        await evaluator.aclose()
        engine.dispose()
    return (fired[0], fired[1]) if fired else (None, "-")


def fault_figures(trials: list[tuple[float | None, str]]) -> dict[str, Any]:
    """One fault's trials (delay in s or None, rule) and, over those that fired, the median,
    min and max delay and the rule that fired most often."""
    delays = [d for d, _ in trials if d is not None]
    rules = Counter(r for d, r in trials if d is not None)
    return {
        "trials": [{"seed": i, "delay_s": d, "rule": r} for i, (d, r) in enumerate(trials)],
        "fired": len(delays),
        "median_s": statistics.median(delays) if delays else None,
        "min_s": min(delays) if delays else None,
        "max_s": max(delays) if delays else None,
        "rule": rules.most_common(1)[0][0] if rules else None,
    }


def figures_from(results: dict[str, dict[str, list[tuple[float | None, str]]]]) -> dict[str, Any]:
    """The result file's figures: per profile and fault (see :func:`fault_figures`)."""
    return {
        "profiles": {
            profile: {fault: fault_figures(trials) for fault, trials in faults.items()}
            for profile, faults in results.items()
        }
    }


def run_settings(
    trials: int, setup: dict[str, tuple[float, float, tuple[AlertRule, ...]]]
) -> dict[str, Any]:
    """The result file's settings: per profile (name -> probe interval, evaluation interval,
    rules) the intervals and every rule's fields; the history's shape."""
    return {
        "trials": trials,
        "profiles": {
            profile: {
                "probe_interval_s": probe_s,
                "eval_interval_s": eval_s,
                "rules": [rule.model_dump(mode="json") for rule in rules],
            }
            for profile, (probe_s, eval_s, rules) in setup.items()
        },
        "history_s": HISTORY_S,
        "ttft_ms": TTFT_MS,
        "ttft_sigma": SIGMA,
        "tps": TPS,
    }


def _delays(faults: dict[str, Any], names: bool) -> str:
    """Each fault's median delay, with how many trials fired when not all did."""
    parts = []
    for fault, name in FAULTS.items():
        f = faults.get(fault)
        if f is None:
            continue
        label = f"{name} " if names else ""
        if f["median_s"] is None:
            parts.append(f"{label}never fired within an hour")
            continue
        n = len(f["trials"])
        fired = f" ({f['fired']}/{n} fired)" if f["fired"] < n else ""
        parts.append(f"{label}{f['median_s']:.0f} s{fired}")
    return ", ".join(parts) if names else " and ".join(parts)


def _causes(profile: str, faults: dict[str, Any], settings: dict[str, Any]) -> str:
    """Each fault's firing rule's half-life / ``for``, and the probe interval, of one profile."""
    rules = {r["name"]: r for r in settings["profiles"][profile]["rules"]}
    parts = []
    for fault in FAULTS:
        rule = rules.get((faults.get(fault) or {}).get("rule"))
        if rule is not None:
            parts.append(f"{rule['half_life_s']:g} / {rule['for_s']:g} s")
    probe_s = settings["profiles"][profile]["probe_interval_s"]
    return f"{profile} {' and '.join(parts) or 'none fired'}, probes every {probe_s:g} s"


def readme_rows(data: dict[str, Any]) -> list[Row]:
    """The README's row: the default rules' median delays, the fast profile's as the baseline,
    and the firing rules' half-life and ``for`` (no target)."""
    profiles, settings = data["figures"]["profiles"], data["settings"]
    main = "default" if "default" in profiles else next(iter(profiles))
    other = next((p for p in profiles if p != main), None)
    baseline = "-"
    if other is not None:
        source = " (the rules of tests/alerts)" if other == "fast" else ""
        baseline = f"{other} profile{source}: {_delays(profiles[other], False)}"
    causes = "; ".join(_causes(p, profiles[p], settings) for p in (main, other) if p)
    verdict = f"no target; set by the firing rule's half-life / `for`: {causes}"
    what = "default rules" if main == "default" else f"{main} profile"
    return [Row(f"alert detection delay, {what}", _delays(profiles[main], True), baseline, verdict)]


def main() -> None:
    """Run the trials of each profile and fault; print and record the delays."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument(
        "--probe-interval", type=float, default=None, help="default 60 (fast: 10), every profile"
    )
    parser.add_argument(
        "--eval-interval", type=float, default=None, help="default 30 (fast: 10), every profile"
    )
    parser.add_argument(
        "--profile", default="default,fast", help="comma-separated, of: " + ", ".join(INTERVALS)
    )
    args = parser.parse_args()
    profiles = [p for p in args.profile.split(",") if p]
    unknown = [p for p in profiles if p not in INTERVALS]
    if unknown or not profiles:
        parser.error(f"--profile: one or more of {', '.join(INTERVALS)}")
    if args.trials < 1:
        parser.error("--trials must be at least 1")
    from signalbox.alerts.feed import baseline_lag_s

    setup = {}
    for profile in profiles:
        probe_s = args.probe_interval or INTERVALS[profile][0]
        eval_s = args.eval_interval or INTERVALS[profile][1]
        setup[profile] = (probe_s, eval_s, profile_rules(profile))
    record = Run("alerts", command_line("bench_alerts.py"), run_settings(args.trials, setup))
    results: dict[str, dict[str, list[tuple[float | None, str]]]] = {}
    for profile, (probe_s, eval_s, rules) in setup.items():
        print(f"rules ({profile}):")
        for r in rules:
            print(
                f"  {r.name}: kind={r.kind} threshold={r.threshold:g} for_s={r.for_s:g}"
                f" min_samples={r.min_samples:g} half_life_s={r.half_life_s:g}"
                f" baseline_half_life_s={r.baseline_half_life_s:g} (baseline lag {baseline_lag_s(r):g} s)"
            )
        print(f"probe every {probe_s:g} s, evaluation every {eval_s:g} s")
        results[profile] = {}
        for fault in FAULTS:
            trials = results[profile][fault] = []
            for seed in range(args.trials):
                delay, rule = asyncio.run(trial(fault, seed, probe_s, eval_s, rules))
                trials.append((delay, rule))
                shown = delay if delay is None else round(delay)
                print(f"  {fault} trial {seed}: fired after {shown} s ({rule})")
            # saved after every fault: a crash late in the run keeps what was measured
            path = record.save(figures_from(results))
            f = figures_from(results)["profiles"][profile][fault]
            if f["median_s"] is not None:
                print(
                    f"{fault}: median detection delay {f['median_s']:.0f} s (min {f['min_s']:.0f},"
                    f" max {f['max_s']:.0f}, {f['fired']}/{args.trials} fired)"
                )
            else:
                print(f"{fault}: never fired within an hour")
    print(f"\nwritten: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
