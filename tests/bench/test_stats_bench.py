"""The statistics-cost benchmark: its stream, its router cycle and its README rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_stream_halves_and_recovers_so_the_step_detector_has_work() -> None:
    from bench.bench_stats import STEP_EVERY, stream

    samples = stream(4 * STEP_EVERY)
    assert samples == stream(4 * STEP_EVERY)  # seeded
    means = [
        sum(s.tps for s in samples[i : i + STEP_EVERY]) / STEP_EVERY  # type: ignore[misc]
        for i in range(0, 4 * STEP_EVERY, STEP_EVERY)
    ]
    assert [round(m / 10) * 10 for m in means] == [160, 80, 160, 80]


def test_the_router_cycle_ranks_and_learns_through_the_live_state() -> None:
    from bench.bench_stats import router_cycle, stats_add, stream

    samples = stream(200)
    router_cycle(samples)  # the live state's API as the proxy drives it: breaks if it changes
    stats_add(samples)


def test_stats_rows_are_each_figure_against_the_ewma_of_the_same_run() -> None:
    from bench.bench_stats import readme_rows

    data = {"figures": {"ewma_us": 0.2, "stats_add_us": 8.0, "router_cycle_us": 150.0}}
    rows = readme_rows(data)
    assert [r.verdict for r in rows] == ["40x the EWMA", "750x the EWMA"]
    assert rows[0].result == "8.0 us per observation"


def test_importing_the_benchmark_loads_no_signalbox_module() -> None:
    code = (
        "import sys, bench.bench_stats; "
        "sys.exit(any(m.split('.')[0] == 'signalbox' for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
