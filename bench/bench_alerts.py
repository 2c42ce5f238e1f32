"""Detection delay of the alert rules: from a fault's start to the alert firing.

    python bench/bench_alerts.py [--trials 7] [--probe-interval 60] [--eval-interval 30]
    python bench/bench_alerts.py --profile fast   # the settings of tests/alerts

Offline, in simulated time: a fresh SQLite store holds 6 h of healthy history for two endpoints
(TTFT log-normal, median 400 ms, sigma 0.25; one probe per ``--probe-interval``), then one endpoint
either goes down (every probe fails) or its TTFT triples (still answering). The real
``AlertEvaluator`` runs every ``--eval-interval`` with the default rules (``signalbox.alerts
.defaults``) and default statistics settings; each trial starts the fault at a random phase.
Prints each trial and the median, for both faults.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session, select

from signalbox.alerts.defaults import DEFAULT_RULES
from signalbox.alerts.evaluator import AlertEvaluator
from signalbox.alerts.feed import baseline_lag_s
from signalbox.catalog import AlertRule, parse_catalog
from signalbox.db import make_engine
from signalbox.migrate import upgrade
from signalbox.records import ErrorClass, Observation, Source
from signalbox.schema import Alert
from signalbox.sync import sync_catalog
from signalbox.writer import insert_observations
from tests.alerts.fleet import FLEET_TOML

T_FAULT = 1_800_000_000.0
HISTORY_S = 6 * 3600.0
TTFT_MS, SIGMA, TPS = 400.0, 0.25, 60.0


FAST_RULES = (
    AlertRule(
        name="provider_down",
        kind="error_rate",
        threshold=0.3,
        for_s=30,
        min_samples=3,
        half_life_s=60,
    ),
    AlertRule(
        name="ttft_slow",
        kind="ttft_baseline",
        threshold=2.0,
        for_s=60,
        min_samples=4,
        half_life_s=60,
        baseline_half_life_s=3600,
    ),
)
PROFILES = {  # each rule carries its half-life (the baseline lags four of them)
    "default": DEFAULT_RULES,
    "fast": FAST_RULES,
}


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def probe(eid: int, ts: float, rng: random.Random, down: bool, ttft_factor: float) -> dict:
    when = datetime.fromtimestamp(ts, UTC)
    if down:
        return Observation(eid, when, Source.PROBE, False, error_class=ErrorClass.CONNECT).to_row()
    noise = math.exp(rng.gauss(0, SIGMA))
    return Observation(
        eid, when, Source.PROBE, True, ttft_ms=TTFT_MS * ttft_factor * noise, tps=TPS / noise
    ).to_row()


async def trial(
    fault: str, seed: int, probe_s: float, eval_s: float, profile: str
) -> tuple[float | None, str]:
    rules = PROFILES[profile]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--probe-interval", type=float, default=None, help="default 60 (fast: 10)")
    parser.add_argument("--eval-interval", type=float, default=None, help="default 30 (fast: 10)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default")
    args = parser.parse_args()
    fast = args.profile == "fast"
    args.probe_interval = args.probe_interval or (10.0 if fast else 60.0)
    args.eval_interval = args.eval_interval or (10.0 if fast else 30.0)
    rules = PROFILES[args.profile]
    print(f"rules ({args.profile}):")
    for r in rules:
        print(
            f"  {r.name}: kind={r.kind} threshold={r.threshold:g} for_s={r.for_s:g}"
            f" min_samples={r.min_samples:g} half_life_s={r.half_life_s:g}"
            f" baseline_half_life_s={r.baseline_half_life_s:g} (baseline lag {baseline_lag_s(r):g} s)"
        )
    print(f"probe every {args.probe_interval:g} s, evaluation every {args.eval_interval:g} s")
    for fault in ("outage", "ttft3x"):
        delays = []
        for seed in range(args.trials):
            delay, rule = asyncio.run(
                trial(fault, seed, args.probe_interval, args.eval_interval, args.profile)
            )
            print(
                f"  {fault} trial {seed}: fired after {delay if delay is None else round(delay)} s ({rule})"
            )
            if delay is not None:
                delays.append(delay)
        if delays:
            print(
                f"{fault}: median detection delay {statistics.median(delays):.0f} s"
                f" (min {min(delays):.0f}, max {max(delays):.0f}, {len(delays)}/{args.trials} fired)"
            )
        else:
            print(f"{fault}: never fired within an hour")


if __name__ == "__main__":
    main()
