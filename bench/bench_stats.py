"""What learning from one observation costs the router: its statistics, per observation.

    python bench/bench_stats.py [--observations 20000] [--runs 7]

Two figures, in microseconds per observation, over one seeded stream of traffic (TTFT and tokens/s
with lognormal noise, the provider's speed halving and recovering every 500 observations, so the
step detector has steps to find): ``EndpointStats.add`` alone, and the router's whole cycle for one
proxied request (``LiveState``: begin, the load curve, the observation into every half-life's
statistics and the breaker, end, and a fresh ranking of the model's endpoints, as the proxy ranks
per request). Observations are 0.1 s apart, so every ranking rebuilds the endpoint's snapshot
(rebuilt at most every 50 ms after new data): the cycle of an endpoint at 10 requests/s; a busier
one shares each rebuild between requests. The baseline in the same run is a plain exponentially weighted mean of the same
values (what a naive router would keep): the ratio says what the statistics cost in units of the
machine's speed that day. Signalbox is imported from the interpreter running the script, so
running it with another environment's python measures that checkout (the result records which).
Every run writes bench/results/stats-<time>.json (bench/report.py reads them).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":
    # this checkout on the path for bench.record only: Signalbox must come from the interpreter's
    # installation (on the path, this checkout's package would be found first)
    sys.path.insert(0, str(ROOT))
    from bench.record import Row, Run, command_line

    sys.path.remove(str(ROOT))
else:
    from bench.record import Row, Run, command_line

if TYPE_CHECKING:  # imported where used: report.py imports this module for readme_rows alone
    from signalbox.records import Sample

T0 = 1_800_000_000.0
STEP_EVERY = 500  # observations between the provider's speed halving and recovering
SPACING_S = 0.1  # between observations (the router's clock moves with them)
CATALOG = """
[[provider]]
name = "p1"
base_url = "http://127.0.0.1:9/p1/v1"

[[provider]]
name = "p2"
base_url = "http://127.0.0.1:9/p2/v1"

[[model]]
name = "m"

[[model.endpoint]]
provider = "p1"
upstream_model = "m"
price_input_per_mtok = 0.5
price_output_per_mtok = 1.0

[[model.endpoint]]
provider = "p2"
upstream_model = "m"
price_input_per_mtok = 0.5
price_output_per_mtok = 1.0
"""


def stream(n: int) -> list[Sample]:
    """``n`` traffic samples of one endpoint, seeded."""
    from signalbox.records import Sample, Source

    rng = random.Random(7)
    out = []
    for i in range(n):
        tps = (160.0 if (i // STEP_EVERY) % 2 == 0 else 80.0) * math.exp(rng.gauss(0, 0.1))
        out.append(
            Sample(
                T0 + i * SPACING_S,
                True,
                source=Source.TRAFFIC,
                ttft_ms=200.0 * math.exp(rng.gauss(0, 0.2)),
                tps=tps,
                e2e_ms=2000.0,
                itl_ms=1000.0 / tps,
            )
        )
    return out


def per_observation_us(fn, samples: list[Sample]) -> float:  # type: ignore[no-untyped-def]
    """Microseconds per sample of ``fn(samples)``."""
    start = time.perf_counter()
    fn(samples)
    return (time.perf_counter() - start) / len(samples) * 1e6


def ewma(samples: list[Sample]) -> None:
    """The baseline: a plain exponentially weighted mean of TTFT and tokens/s."""
    ttft = tps = 0.0
    for s in samples:
        ttft += 0.05 * (s.ttft_ms - ttft)  # type: ignore[operator]
        tps += 0.05 * (s.tps - tps)  # type: ignore[operator]


def stats_add(samples: list[Sample]) -> None:
    """Every sample into one endpoint's statistics (the default 15-minute half-life)."""
    from signalbox.stats import EndpointStats

    stats = EndpointStats(900.0, 300.0)
    for s in samples:
        stats.add(s)


def router_cycle(samples: list[Sample]) -> None:
    """Each sample as one proxied request through the router's live state, ranked before it."""
    from signalbox.catalog import parse_catalog
    from signalbox.router.live import LiveState
    from signalbox.routing.objectives import Objective

    now = [T0]
    live = LiveState(parse_catalog(CATALOG), clock=lambda: now[0])
    for s in samples:
        now[0] = s.ts
        live.candidates("m", Objective.THROUGHPUT)
        level = live.begin("p1/m")
        live.observe_load("p1/m", level, s.ts, s.ttft_ms, s.tps)
        live.observe("p1/m", s, load_level=level)
        live.end("p1/m")


def measured_tree() -> Path:
    """The checkout whose Signalbox this interpreter imports."""
    import signalbox

    return Path(signalbox.__file__).resolve().parents[1]


def readme_rows(data: dict[str, Any]) -> list[Row]:
    """The README's rows: each figure against the plain EWMA of the same run."""
    fig = data["figures"]
    base = fig["ewma_us"]
    rows = []
    for key, what in (
        ("stats_add_us", "statistics of one observation (`EndpointStats.add`)"),
        ("router_cycle_us", "router's bookkeeping per proxied request (rank, learn)"),
    ):
        value = fig[key]
        rows.append(
            Row(
                what,
                f"{value:.1f} us per observation",
                f"{base:.2f} us, a plain EWMA of the same values",
                f"{value / base:.0f}x the EWMA",
            )
        )
    return rows


def main() -> None:
    """Time the baseline and both figures, interleaved, run after run; print and record them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if args.runs < 1 or args.observations < 1:
        parser.error("--runs and --observations must be at least 1")
    samples = stream(args.observations)
    tree = measured_tree()
    settings = {"observations": args.observations, "runs": args.runs, "measured_tree": str(tree)}
    # the commit recorded is the measured checkout's (this script may belong to another)
    record = Run("stats", command_line("bench_stats.py"), settings, tree=tree)
    runs: dict[str, list[float]] = {"ewma_us": [], "stats_add_us": [], "router_cycle_us": []}
    for run in range(args.runs):
        # interleaved, so that the machine's slow moments fall on all three alike
        runs["ewma_us"].append(per_observation_us(ewma, samples))
        runs["stats_add_us"].append(per_observation_us(stats_add, samples))
        runs["router_cycle_us"].append(per_observation_us(router_cycle, samples))
        print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in runs.items()))
    figures: dict[str, Any] = {k: statistics.median(v) for k, v in runs.items()}
    figures["runs"] = runs
    path = record.save(figures)
    print(
        f"median: EWMA {figures['ewma_us']:.2f} us, EndpointStats.add "
        f"{figures['stats_add_us']:.2f} us, router cycle {figures['router_cycle_us']:.2f} us "
        f"per observation ({record.data['commit']})"
    )
    print(f"written: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
