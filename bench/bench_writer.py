"""Writer flush rate into PostgreSQL: observations per second, batched, through ObservationWriter.

    python bench/bench_writer.py [--rows 50000] [--runs 5] [--batch 500]

Creates a throwaway database on SIGNALBOX_TEST_POSTGRES_URL's server (default the local one),
writes N observations through the writer per run, and prints each run and the median. The baseline
in the same run is row-at-a-time inserts (one transaction each) for a tenth of the rows, three
times. Every run writes bench/results/writer-<time>.json (bench/report.py reads them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.record import Row, Run, command_line  # noqa: E402

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

BASELINE_RUNS = 3
FLUSH_INTERVAL_S = 0.05


async def one_run(engine: Engine, endpoint_id: int, rows: int, batch: int) -> float:
    """Observations per second through the batched writer, from the first submit to flushed."""
    from signalbox.writer import ObservationWriter
    from tests.core.factories import observation

    writer = ObservationWriter(engine, batch_size=batch, flush_interval_s=FLUSH_INTERVAL_S)
    await writer.start()
    start = time.perf_counter()
    for i in range(rows):
        writer.submit(observation(endpoint_id, i))
        if i % 1000 == 0:
            await asyncio.sleep(0)  # let the writer's task flush while we submit
    await writer.flush(timeout_s=600)
    elapsed = time.perf_counter() - start
    await writer.close()
    return rows / elapsed


def baseline(engine: Engine, endpoint_id: int, rows: int) -> float:
    """Observations per second inserted one row per transaction (what the writer replaces)."""
    from signalbox.writer import insert_observations
    from tests.core.factories import observation

    start = time.perf_counter()
    for i in range(rows):
        insert_observations(engine, [observation(endpoint_id, i).to_row()])
    return rows / (time.perf_counter() - start)


def figures_from(rates: list[float], baseline_rates: list[float]) -> dict[str, Any]:
    """The result file's figures: every run's and every baseline run's obs/s, their medians and
    the ratio of the medians (None until both sides have a run)."""
    med = statistics.median(rates) if rates else None
    base = statistics.median(baseline_rates) if baseline_rates else None
    return {
        "runs_obs_per_s": rates,
        "baseline_runs_obs_per_s": baseline_rates,
        "median_obs_per_s": med,
        "baseline_median_obs_per_s": base,
        "ratio": med / base if med is not None and base else None,
    }


def _ratio(ratio: float) -> str:
    # whole numbers once the ratio is large: a tenth of 25x is noise between runs
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def readme_rows(data: dict[str, Any]) -> list[Row]:
    """The README's row: the writer's median rate against the row-at-a-time baseline's."""
    fig, settings = data["figures"], data["settings"]
    med, base, ratio = fig["median_obs_per_s"], fig["baseline_median_obs_per_s"], fig["ratio"]
    return [
        Row(
            "observation writer into PostgreSQL",
            "no run" if med is None else f"{med:,.0f} obs/s, batches of {settings['batch']}",
            "-" if base is None else f"{base:,.0f} obs/s, one row per transaction",
            "-" if ratio is None else _ratio(ratio),
        )
    ]


def main() -> None:
    """Measure the baseline, then the writer run after run; print and record them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    from sqlalchemy import text

    from signalbox.catalog import parse_catalog
    from signalbox.db import make_engine, normalize_url
    from signalbox.migrate import upgrade
    from signalbox.sync import sync_catalog
    from tests.core.factories import CATALOG_TOML

    admin_url = os.environ.get(
        "SIGNALBOX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = f"sbx_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        server = conn.execute(text("SHOW server_version")).scalar_one()
    baseline_rows = max(args.rows // 10, 100)
    settings = {
        **vars(args),
        "baseline_rows": baseline_rows,
        "baseline_runs": BASELINE_RUNS,
        "flush_interval_s": FLUSH_INTERVAL_S,
        "postgres_version": server,
    }
    record = Run("writer", command_line("bench_writer.py"), settings)
    url = normalize_url(admin_url).rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        engine = make_engine(url)
        endpoint_id = sync_catalog(engine, parse_catalog(CATALOG_TOML)).endpoint_ids[
            ("alpha", "llama-3.1-70b")
        ]
        base = [baseline(engine, endpoint_id, baseline_rows) for _ in range(BASELINE_RUNS)]
        print("row-at-a-time baseline: " + ", ".join(f"{b:,.0f}" for b in base) + " obs/s")
        rates: list[float] = []
        for run in range(args.runs):
            rate = asyncio.run(one_run(engine, endpoint_id, args.rows, args.batch))
            rates.append(rate)
            print(f"run {run + 1}: {rate:,.0f} obs/s")
            # saved after every run: a crash late in the run keeps what was measured
            written = record.save(figures_from(rates, base))
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    fig = figures_from(rates, base)
    print(
        f"| writer, batch {args.batch} | {args.rows:,} rows x {args.runs} runs | "
        f"median {fig['median_obs_per_s']:,.0f} obs/s | row-at-a-time baseline "
        f"{fig['baseline_median_obs_per_s']:,.0f} obs/s | ratio {fig['ratio']:.1f}x |"
    )
    print(f"\nwritten: {written.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
