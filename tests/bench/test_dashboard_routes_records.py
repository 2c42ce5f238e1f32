"""The dashboard and routes benchmarks' result files: figures built from small fake measurements,
written and read back through ``bench.record.Run``, give the README's rows and the routes table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import bench_dashboard, bench_routes
from bench.record import Run
from bench.routes.report import Outcome

ROOT = Path(__file__).resolve().parents[2]


def _saved(tmp_path: Path, kind: str, settings: dict[str, Any], figures: dict[str, Any]) -> dict:
    """The result file as bench/report.py reads it."""
    path = Run(kind, f"python bench/bench_{kind}.py", settings).save(
        figures, path=tmp_path / f"{kind}.json"
    )
    return json.loads(path.read_text())


# -- dashboard -----------------------------------------------------------------------------------

DASH_SETTINGS = {"rows": 10_000_000, "runs": 3, "target_ms": 300.0}


def _dashboard(tmp_path: Path, samples: dict[str, list[float]]) -> dict:
    figures = bench_dashboard.figures_from(samples, 300.0, {"insert_s": 400.0, "rollup_s": 60.0})
    return _saved(tmp_path, "dashboard", DASH_SETTINGS, figures)


def test_dashboard_row_gives_each_views_median_and_meets_the_target(tmp_path: Path) -> None:
    samples = {
        "model 15m": [30.0, 25.2, 24.0],
        "model 1h": [62.0, 61.0, 70.0],
        "model 24h": [104.4, 110.0, 99.0],
        "model 7d": [25.0, 25.0, 26.0],
        "model 30d": [60.0, 59.0, 61.0],
        "overview": [121.0, 200.0, 120.0],
    }
    data = _dashboard(tmp_path, samples)
    first = data["figures"]["views"][0]
    assert first == {"view": "model 15m", "samples_ms": [30.0, 25.2, 24.0], "median_ms": 25.2}
    assert data["figures"]["over_target"] == []
    assert data["figures"]["seeding"]["insert_s"] == 400.0
    (row,) = bench_dashboard.readme_rows(data)
    assert row.what == "dashboard queries, 10 M observations in PostgreSQL; 3 runs per view"
    assert (
        row.result == "15 min 25 ms, 1 h 62 ms, 24 h 104 ms, 7 d 25 ms, 30 d 60 ms, overview 121 ms"
    )
    assert row.baseline == "-"
    assert row.verdict == "target < 300 ms per window: met"


def test_dashboard_target_is_missed_by_any_view_at_or_over_it(tmp_path: Path) -> None:
    samples = {"model 24h": [300.0, 310.0, 290.0], "model 30d": [40.0] * 3, "overview": [350.0]}
    data = _dashboard(tmp_path, samples)
    assert data["figures"]["over_target"] == ["model 24h", "overview"]
    (row,) = bench_dashboard.readme_rows(data)
    assert row.verdict == "target < 300 ms per window: missed (24 h 300 ms, overview 350 ms)"


def test_dashboard_row_count_is_read_from_the_settings() -> None:
    assert [bench_dashboard.count_label(n) for n in (10_000_000, 2_500_000, 200_000, 950)] == [
        "10 M",
        "2.5 M",
        "200 k",
        "950",
    ]


# -- routes --------------------------------------------------------------------------------------


def _got(
    ok_easy: int,
    ok_hard: int,
    cost_usd: float,
    latency_ms: float,
    escalations: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One arm's results on one seed as ``fresh_arm`` returns them: 80 easy and 20 hard requests,
    the first ``sum(escalations)`` of them escalated (route arm only)."""
    triggers = [t for t, n in (escalations or {}).items() for _ in range(n)]
    outcomes = [
        Outcome(
            ok=(i < ok_easy) if i < 80 else (i - 80 < ok_hard),
            latency_ms=latency_ms + i,
            status=200,
            path="large" if i < len(triggers) else "small",
            trigger=triggers[i] if i < len(triggers) else None,
            hard=i >= 80,
        )
        for i in range(100)
    ]
    got: dict[str, Any] = {
        "outcomes": outcomes,
        "cost_usd": cost_usd,
        "attempts": 100 + len(triggers),
        "unpriced": 0,
    }
    if escalations is not None:
        got["decisions_by_trigger"] = {"none": 100 - len(triggers), **escalations}
        got["decisions_cost_usd"] = cost_usd
    return got


def _routes(tmp_path: Path, route_costs: tuple[float, float], route_hard_ok: int = 20) -> dict:
    """Two seeds: always-large at $0.0008 per success (99 of 100), always-small, and the route
    with the given cost per seed."""
    seeds = [
        (
            18,
            {
                "small": _got(80, 5, 0.0085, 500.0),
                "large": _got(80, 19, 0.0792, 1300.0),
                "route": _got(80, route_hard_ok, route_costs[0], 550.0, {"invalid_json": 15}),
            },
        ),
        (
            19,
            {
                "small": _got(80, 5, 0.0085, 500.0),
                "large": _got(80, 19, 0.0792, 1300.0),
                "route": _got(
                    80, route_hard_ok - 1, route_costs[1], 550.0, {"invalid_json": 10, "empty": 4}
                ),
            },
        ),
    ]
    settings = {
        "requests": 100,
        "runs": 2,
        "hard": 0.2,
        "stream": False,
        "out": "bench/results",
        "route": {"name": "support", "default": "small", "escalate": ["large"]},
    }
    return _saved(tmp_path, "routes", settings, bench_routes.figures_from(seeds))


def test_routes_file_keeps_every_seed_and_the_pooled_arms(tmp_path: Path) -> None:
    data = _routes(tmp_path, (0.030, 0.033))
    assert data["benchmark"] == "routes" and data["figures"]["route_skipped"] is None
    runs = data["figures"]["runs"]
    assert [r["seed"] for r in runs] == [18, 19]
    assert runs[0]["arms"]["route"]["decisions_by_trigger"] == {"none": 85, "invalid_json": 15}
    assert runs[0]["target"]["cost_share_of_large"] == 0.375
    route = data["figures"]["pooled"]["arms"]["route"]
    assert (route["requests"], route["successes"], route["upstream_attempts"]) == (200, 199, 229)
    assert route["decisions_by_trigger"] == {"none": 171, "invalid_json": 25, "empty": 4}
    assert data["figures"]["pooled"]["target"]["met"] is True


def test_routes_row_reads_the_pooled_route_against_the_single_models(tmp_path: Path) -> None:
    (row,) = bench_routes.readme_rows(_routes(tmp_path, (0.030, 0.033)))
    assert row.what == (
        "routing across models: route support (small, escalate to large) vs one model, "
        "80 % easy / 20 % hard, JSON required, noisy simulator; "
        "100 requests per arm and seed, pooled"
    )
    assert row.result == (
        "route: **99.5 %** success, $0.317 per 1k successes (**39.6 %** of always-large; "
        "seeds 37.5, 41.7 %), 14.5 % escalated, p50 600 ms"
    )
    assert row.baseline == "always large 99.0 %, $0.800; always small 85.0 %, $0.100"
    assert row.verdict == (
        "target: success within 1 point of always-large (+0.5) at <= 40 % of its cost: "
        "met pooled (1 of 2 seeds above 40 %)"
    )


def test_routes_target_is_missed_on_cost_or_on_success(tmp_path: Path) -> None:
    (row,) = bench_routes.readme_rows(_routes(tmp_path, (0.030, 0.052)))
    assert "(**51.5 %** of always-large; seeds 37.5, 65.7 %)" in row.result
    assert row.verdict.endswith("of its cost: missed pooled (1 of 2 seeds above 40 %)")
    # cheap, but 3 more hard requests failed per seed: 2.5 points behind always-large
    (row,) = bench_routes.readme_rows(_routes(tmp_path, (0.020, 0.020), route_hard_ok=17))
    assert row.verdict == (
        "target: success within 1 point of always-large (-2.5) at <= 40 % of its cost: "
        "missed pooled (2 of 2 seeds more than 1 point behind)"
    )


def test_routes_detail_is_the_per_arm_table_and_the_escalations(tmp_path: Path) -> None:
    lines = bench_routes.readme_detail(_routes(tmp_path, (0.030, 0.033)))
    assert lines[:2] == [
        "| arm | success | hard success | cost per 1k successes | escalated | p50 | p99 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    assert lines[2] == "| always small | 85.0% | 25.0% | $0.100 | - | 550 ms | 599 ms |"
    assert lines[4] == "| route `support` | 99.5% | 97.5% | $0.317 | 14.5% | 600 ms | 649 ms |"
    assert lines[5:] == ["", "Escalations: 25 invalid JSON, 4 empty in 200 requests."]


def test_routes_row_says_when_the_route_arm_did_not_run(tmp_path: Path) -> None:
    seeds = [(18, {"small": _got(80, 5, 0.0085, 500.0), "large": _got(80, 19, 0.0792, 1300.0)})]
    settings = {
        "requests": 100,
        "hard": 0.2,
        "route": {"name": "support", "default": "small", "escalate": ["large"]},
    }
    figures = bench_routes.figures_from(seeds, route_skipped="unknown key [route]")
    data = _saved(tmp_path, "routes", settings, figures)
    (row,) = bench_routes.readme_rows(data)
    assert row.result == "route not run (the catalog refused it: unknown key [route])"
    assert row.verdict == "target: not measured"
    assert len(bench_routes.readme_detail(data)) == 4  # the table of the two arms, no escalations


def test_importing_the_benchmarks_loads_no_signalbox_module() -> None:
    # bench/report.py imports them for readme_rows: cheap, without the service's dependencies
    code = (
        "import sys, bench.bench_dashboard, bench.bench_routes; "
        "heavy = {'signalbox', 'sqlalchemy', 'polars'}; "
        "sys.exit(any(m.split('.')[0] in heavy for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
