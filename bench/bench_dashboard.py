"""Dashboard query benchmark: seed N observations (default 10 million) over 30 days into a fresh
PostgreSQL database, roll them up, then time the server-side work of the model page — queries and
polars shaping and figure building — for each window (15m, 1h, 24h, 7d, 30d), and of the overview.
Target: median < 300 ms for every window (and the overview).

    python bench/bench_dashboard.py                 # 10M rows: loading them takes most of the time
    python bench/bench_dashboard.py --rows 200000   # quick run

The database is created afresh and seeded on every run (nothing is cached between runs) and
dropped at the end unless ``--keep``. Every run writes bench/results/dashboard-<time>.json
(bench/report.py reads them).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.record import Row, Run, command_line  # noqa: E402

# the service's modules (sqlalchemy, polars, plotly) are imported inside the functions that use
# them: bench/report.py imports this module for readme_rows only

MODELS = ("bench-70b", "bench-8b")
PROVIDERS = ("p1", "p2", "p3", "p4")
DAYS = 30


def catalog_toml() -> str:
    """Four providers serving two models: 8 endpoints."""
    parts = [
        f'[[provider]]\nname = "{p}"\nbase_url = "http://127.0.0.1:9/{p}/v1"\n' for p in PROVIDERS
    ]
    for model in MODELS:
        parts.append(f'[[model]]\nname = "{model}"\n')
        for i, p in enumerate(PROVIDERS):
            parts.append(
                f'[[model.endpoint]]\nprovider = "{p}"\nupstream_model = "{model}"\n'
                f"price_input_per_mtok = {0.2 + 0.1 * i}\nprice_output_per_mtok = {0.4 + 0.1 * i}\n"
            )
    return "\n".join(parts)


SEED_SQL = """
INSERT INTO observation (uid, endpoint_id, ts, source, ok, error_class, http_status, ttft_ms, tps,
                         e2e_ms, input_tokens, output_tokens, tokens_estimated, cost_usd, probe_shape)
SELECT gen_random_uuid(),
       (CAST(:ids AS int[]))[1 + (g % :k)],
       to_timestamp(:t0 + g * :dt),
       CASE WHEN g % 3 = 0 THEN 'traffic' ELSE 'probe' END,
       r > 0.03,
       CASE WHEN r > 0.03 THEN NULL ELSE 'http_5xx' END,
       CASE WHEN r > 0.03 THEN 200 ELSE 503 END,
       CASE WHEN r > 0.03 THEN 200 + 300 * random() END,
       CASE WHEN r > 0.03 THEN 70 + 30 * sin((:t0 + g * :dt) / 13751.0 + (g % :k)) + 10 * random() END,
       CASE WHEN r > 0.03 THEN 2500 + 500 * random() END,
       40, CASE WHEN r > 0.03 THEN 200 ELSE 0 END, false,
       CASE WHEN r > 0.03 THEN 0.0002 END,
       'short'
FROM (SELECT g, random() AS r FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g) s
"""


def create_database(admin_url: str) -> str:
    """A fresh, migrated database next to ``admin_url``; returns its URL."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from signalbox.db import make_engine, normalize_url
    from signalbox.migrate import upgrade

    name = f"sbx_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(normalize_url(admin_url)).set(database=name)
    rendered = url.render_as_string(hide_password=False)
    upgrade(rendered)
    return rendered


def drop_database(admin_url: str, url: str) -> None:
    """Drop the benchmark database."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from signalbox.db import make_engine

    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def seed(url: str, rows: int, now: datetime) -> dict[str, Any]:
    """Sync the catalog, insert ``rows`` observations over 30 days in chunks, roll them up; the
    seconds each step took and the rows the rollups wrote."""
    from sqlalchemy import text

    from signalbox.catalog import parse_catalog
    from signalbox.db import make_engine
    from signalbox.rollup import run_rollups
    from signalbox.sync import sync_catalog

    engine = make_engine(url)
    ids = list(sync_catalog(engine, parse_catalog(catalog_toml())).endpoint_ids.values())
    t0 = (now - timedelta(days=DAYS)).timestamp()
    dt = DAYS * 86400 / rows
    chunk = 1_000_000
    started = time.perf_counter()
    for lo in range(0, rows, chunk):
        hi = min(rows, lo + chunk) - 1
        with engine.begin() as conn:
            params = {"ids": ids, "k": len(ids), "t0": t0, "dt": dt, "lo": lo, "hi": hi}
            conn.execute(text(SEED_SQL), params)
        print(f"  inserted {hi + 1:>11,} rows ({time.perf_counter() - started:6.1f} s)", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE observation"))
    insert_s = time.perf_counter() - started
    started = time.perf_counter()
    report = run_rollups(engine, now)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE observation_1m"))
        conn.execute(text("VACUUM ANALYZE observation_1h"))
    rollup_s = time.perf_counter() - started
    print(f"  rollups {report.upserted} in {rollup_s:.1f} s", flush=True)
    engine.dispose()
    return {
        "insert_s": round(insert_s, 1),
        "rollup_s": round(rollup_s, 1),
        "rollup_rows": {table: int(n) for table, n in report.upserted.items()},
    }


def measure(url: str, now: datetime, runs: int) -> dict[str, list[float]]:
    """Each view's server-side work in milliseconds, ``runs`` times (after one warm-up run)."""
    from signalbox.dashboard.context import DashContext
    from signalbox.dashboard.pages import model as model_page
    from signalbox.dashboard.pages import overview
    from signalbox.dashboard.shape import WINDOWS
    from signalbox.db import make_engine

    engine = make_engine(url)
    ctx = DashContext(engine=engine, now=lambda: now)
    views: dict[str, Callable[[], Any]] = {
        f"model {w}": (lambda w=w: model_page.charts(ctx, MODELS[0], w, "both")) for w in WINDOWS
    }
    views["overview"] = lambda: overview.refresh(ctx, list(MODELS))
    results: dict[str, list[float]] = {}
    for name, view in views.items():
        view()
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            view()
            samples.append((time.perf_counter() - started) * 1000)
        results[name] = samples
        print(
            f"  {name:<12} median {statistics.median(samples):7.1f} ms  (min {min(samples):.1f},"
            f" max {max(samples):.1f}, n={runs})",
            flush=True,
        )
    engine.dispose()
    return results


def figures_from(
    samples: dict[str, list[float]], target_ms: float, seeding: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The result file's figures: per view (in the order measured) every run's milliseconds and
    their median, the views at or over the target, and the seeding's timings."""
    views = [
        {
            "view": name,
            "samples_ms": [round(ms, 2) for ms in runs],
            "median_ms": round(statistics.median(runs), 2),
        }
        for name, runs in samples.items()
        if runs
    ]
    return {
        "views": views,
        "over_target": [v["view"] for v in views if v["median_ms"] >= target_ms],
        "seeding": seeding or {},
    }


def view_label(view: str) -> str:
    """``model 15m`` as ``15 min``, ``model 24h`` as ``24 h``; other views by their name."""
    match = re.fullmatch(r"model (\d+)([mhd])", view)
    if not match:
        return view
    return f"{match[1]} {dict(m='min', h='h', d='d')[match[2]]}"


def count_label(n: int) -> str:
    """A row count as the README writes it: 10 M, 200 k, 950."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:g} M"
    if n >= 1_000:
        return f"{n / 1_000:g} k"
    return str(n)


def readme_rows(data: dict[str, Any]) -> list[Row]:
    """The README's row: each view's median, and the target (every view's median under
    ``target_ms``, the overview included, as the script's exit status has it)."""
    settings, views = data["settings"], data["figures"]["views"]
    target = settings["target_ms"]
    result = ", ".join(f"{view_label(v['view'])} {v['median_ms']:.0f} ms" for v in views)
    over = [
        f"{view_label(v['view'])} {v['median_ms']:.0f} ms"
        for v in views
        if v["median_ms"] >= target
    ]
    if not views:
        outcome = "missed (nothing measured)"
    elif over:
        outcome = f"missed ({', '.join(over)})"
    else:
        outcome = "met"
    verdict = f"target < {target:g} ms per window: {outcome}"
    # the repetitions, which the hand-written table gave beside the command
    what = (
        f"dashboard queries, {count_label(settings['rows'])} observations in PostgreSQL; "
        f"{settings['runs']} runs per view"
    )
    return [Row(what, result or "nothing measured", "-", verdict)]


def main() -> int:
    """Run the benchmark and record it; exit 1 when a view misses the target."""
    from sqlalchemy.engine import make_url

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "SIGNALBOX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--target-ms", type=float, default=300.0)
    args = parser.parse_args()
    if args.rows < 1 or args.runs < 1:
        parser.error("--rows and --runs must be at least 1")
    # the admin URL's password, if any, stays out of the committed result file
    settings = {**vars(args), "admin_url": make_url(args.admin_url).render_as_string()}
    record = Run("dashboard", command_line("bench_dashboard.py"), settings)
    now = datetime.now(UTC)
    url = create_database(args.admin_url)
    print(f"database {make_url(url).database}: seeding {args.rows:,} observations", flush=True)
    try:
        seeding = seed(url, args.rows, now)
        print("server-side time per view (queries + polars shaping + figures):", flush=True)
        samples = measure(url, now, args.runs)
    finally:
        if not args.keep:
            drop_database(args.admin_url, url)
    figures = figures_from(samples, args.target_ms, seeding)
    written = record.save(figures)
    slow = figures["over_target"]
    print("all views under target" if not slow else f"over {args.target_ms} ms: {', '.join(slow)}")
    print(f"\nwritten: {written.relative_to(ROOT) if written.is_relative_to(ROOT) else written}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
