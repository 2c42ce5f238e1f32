"""Writer flush rate into PostgreSQL: observations per second, batched, through ObservationWriter.

    python bench/bench_writer.py [--rows 50000] [--runs 5] [--batch 500]

Creates a throwaway database on SIGNALBOX_TEST_POSTGRES_URL's server (default the local one),
writes N observations through the writer per run, and prints each run and the median. The baseline
in the same run is row-at-a-time inserts (one transaction each) for a tenth of the rows.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from signalbox.catalog import parse_catalog
from signalbox.db import make_engine, normalize_url
from signalbox.migrate import upgrade
from signalbox.sync import sync_catalog
from signalbox.writer import ObservationWriter, insert_observations
from tests.core.factories import CATALOG_TOML, observation


async def one_run(engine, endpoint_id: int, rows: int, batch: int) -> float:  # type: ignore[no-untyped-def]
    writer = ObservationWriter(engine, batch_size=batch, flush_interval_s=0.05)
    await writer.start()
    start = time.perf_counter()
    for i in range(rows):
        writer.submit(observation(endpoint_id, i))
        if i % 1000 == 0:
            await asyncio.sleep(0)
    await writer.flush(timeout_s=600)
    elapsed = time.perf_counter() - start
    await writer.close()
    return rows / elapsed


def baseline(engine, endpoint_id: int, rows: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for i in range(rows):
        insert_observations(engine, [observation(endpoint_id, i).to_row()])
    return rows / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    admin_url = os.environ.get(
        "SIGNALBOX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = f"sbx_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = normalize_url(admin_url).rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        engine = make_engine(url)
        endpoint_id = sync_catalog(engine, parse_catalog(CATALOG_TOML)).endpoint_ids[
            ("alpha", "llama-3.1-70b")
        ]
        base = [baseline(engine, endpoint_id, max(args.rows // 10, 100)) for _ in range(3)]
        rates = []
        for run in range(args.runs):
            rate = asyncio.run(one_run(engine, endpoint_id, args.rows, args.batch))
            rates.append(rate)
            print(f"run {run + 1}: {rate:,.0f} obs/s")
        med, base_med = statistics.median(rates), statistics.median(base)
        print(
            f"| writer, batch {args.batch} | {args.rows:,} rows x {args.runs} runs | "
            f"median {med:,.0f} obs/s | row-at-a-time baseline {base_med:,.0f} obs/s | "
            f"ratio {med / base_med:.1f}x |"
        )
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
