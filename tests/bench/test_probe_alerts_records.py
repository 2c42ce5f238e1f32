"""The probe-accuracy and alert-delay benchmarks' result files: figures built from small fake
measurements, written and read back through ``bench.record.Run``, give the README's rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import bench_alerts, bench_probe_accuracy
from bench.record import Run

ROOT = Path(__file__).resolve().parents[2]


def _saved(tmp_path: Path, kind: str, settings: dict[str, Any], figures: dict[str, Any]) -> dict:
    """The result file as bench/report.py reads it."""
    path = Run(kind, f"python bench/bench_{kind}.py", settings).save(
        figures, path=tmp_path / f"{kind}.json"
    )
    return json.loads(path.read_text())


# -- probe accuracy ------------------------------------------------------------------------------


def _pairs(
    ttft_errors_ms: list[float], tps_error: float = 0.004, lag_ms: float = 1.0
) -> list[tuple[float, float, float, float, float]]:
    """(measured TTFT, true TTFT, measured tps, true tps, loop lag) around a 250 ms, 80 tok/s truth."""
    return [(250.0 + e, 250.0, 80.0 * (1 + tps_error), 80.0, lag_ms) for e in ttft_errors_ms]


def _run(pairs: list[tuple[float, float, float, float, float]]) -> dict[str, float]:
    out = bench_probe_accuracy.pair_figures(pairs, drop_lag_ms=10.0)
    return {**out, "endpoints": 2.0, "written": float(len(pairs)), "load1": 0.3}


def _probe_file(tmp_path: Path, top_run: dict[str, float]) -> dict:
    # the lowest rate given last: the row finds highest and lowest from the rates, not the order
    results = {500.0: [top_run, top_run], 10.0: [_run(_pairs([2.2] * 100))] * 2}
    figures = bench_probe_accuracy.figures_from(results)
    return _saved(tmp_path, "probe_accuracy", {"rates": [500.0, 10.0]}, figures)


def test_probe_row_reads_the_kept_observations_at_the_top_rate_against_the_lowest(
    tmp_path: Path,
) -> None:
    # 98 observations 0.5 ms off, 2 at 1.5 ms; 5 more far off but taken while the loop lagged
    kept = _pairs([0.5] * 98 + [1.5] * 2)
    lagged = _pairs([100.0] * 5, lag_ms=50.0)
    data = _probe_file(tmp_path, _run(kept + lagged))
    top = next(r for r in data["figures"]["rates"] if r["rate_per_min"] == 500.0)
    assert len(top["runs"]) == 2 and top["median"]["kept_n"] == 100.0 and top["median"]["n"] == 105
    assert data["figures"]["target_met"] is True
    (row,) = bench_probe_accuracy.readme_rows(data)
    assert row.what == "probe accuracy at 500 probes/min"
    assert row.result == "TTFT error p50 0.50 ms, p99 1.50 ms (0.60 %); tps error p99 0.40 %"
    assert row.baseline == "10/min: TTFT p99 2.20 ms (0.88 %)"
    assert row.verdict == "target max(2 ms, 2 %) at p99: met (100 % within)"


def test_probe_target_is_missed_when_over_1_percent_of_ttfts_or_the_tps_p99_is_off(
    tmp_path: Path,
) -> None:
    # 5 % of TTFTs 6 ms off: beyond max(2 ms, 2 % of 250 ms = 5 ms)
    slow = _probe_file(tmp_path, _run(_pairs([0.5] * 95 + [6.0] * 5)))
    (row,) = bench_probe_accuracy.readme_rows(slow)
    assert row.verdict == "target max(2 ms, 2 %) at p99: missed (95 % within)"
    # every TTFT within, tokens/s 3 % off
    (row,) = bench_probe_accuracy.readme_rows(
        _probe_file(tmp_path, _run(_pairs([0.5] * 100, tps_error=0.03)))
    )
    assert row.result.endswith("tps error p99 3.00 %")
    assert row.verdict == "target max(2 ms, 2 %) at p99: missed (100 % within)"


def test_probe_medians_skip_runs_without_a_figure_and_the_file_holds_no_nan(
    tmp_path: Path,
) -> None:
    no_truth = _pairs([0.5] * 10)
    no_truth[0] = (250.5, float("nan"), 80.3, float("nan"), 1.0)  # a response without headers
    only_lagged = _run(_pairs([0.5] * 10, lag_ms=50.0))  # nothing kept in this run
    good = _run(_pairs([0.5] * 100))
    figures = bench_probe_accuracy.figures_from({500.0: [_run(no_truth), only_lagged, good]})
    text = json.dumps(figures, allow_nan=False)  # raises on NaN
    median = json.loads(text)["rates"][0]["median"]
    assert median["kept_n"] == 10.0  # over 10, 0 and 100 kept
    assert median["kept_ttft_err_p50_ms"] == 0.5  # only the good run has a finite figure
    (row,) = bench_probe_accuracy.readme_rows(_saved(tmp_path, "probe_accuracy", {}, figures))
    assert row.baseline == "-"  # one rate: no baseline


# -- alerts --------------------------------------------------------------------------------------


def _alert_settings(*profiles: str) -> dict[str, Any]:
    setup = {p: (*bench_alerts.INTERVALS[p], bench_alerts.profile_rules(p)) for p in profiles}
    return bench_alerts.run_settings(7, setup)


def _trials(delays: list[float | None], rule: str) -> list[tuple[float | None, str]]:
    return [(d, rule if d is not None else "-") for d in delays]


def test_alert_row_gives_both_profiles_medians_from_one_file(tmp_path: Path) -> None:
    results = {
        "default": {
            "outage": _trials([240, 270, 300, 270, 270, 269.99, 330], "provider_error_rate"),
            "ttft3x": _trials([600, 630, 660, 630, 630, 630, 690], "ttft_degraded"),
        },
        "fast": {
            "outage": _trials([60, 70, 70, 80, 70, 70, 60], "provider_down"),
            "ttft3x": _trials([130, 140, 140, 150, 140, 140, 130], "ttft_slow"),
        },
    }
    data = _saved(
        tmp_path,
        "alerts",
        _alert_settings("default", "fast"),
        bench_alerts.figures_from(results),
    )
    outage = data["figures"]["profiles"]["default"]["outage"]
    assert [t["delay_s"] for t in outage["trials"]][:3] == [240, 270, 300]
    assert (outage["median_s"], outage["min_s"], outage["max_s"]) == (270, 240, 330)
    (row,) = bench_alerts.readme_rows(data)
    assert row.what == "alert detection delay, default rules"
    assert row.result == "outage 270 s, 3x TTFT degradation 630 s"
    assert row.baseline == "fast profile (the rules of tests/alerts): 70 s and 140 s"
    assert row.verdict == (
        "no target; set by the firing rule's half-life / `for`: default 300 / 120 s and "
        "300 / 300 s, probes every 60 s; fast 60 / 30 s and 60 / 60 s, probes every 10 s"
    )


def test_alert_row_says_when_trials_did_not_fire(tmp_path: Path) -> None:
    results = {
        "fast": {
            "outage": _trials([60, None, 70, 80, None, 70, 60], "provider_down"),
            "ttft3x": _trials([None] * 7, "ttft_slow"),
        }
    }
    data = _saved(tmp_path, "alerts", _alert_settings("fast"), bench_alerts.figures_from(results))
    (row,) = bench_alerts.readme_rows(data)
    assert row.what == "alert detection delay, fast profile"
    assert row.result == "outage 70 s (5/7 fired), 3x TTFT degradation never fired within an hour"
    assert row.baseline == "-"
    assert row.verdict.endswith("fast 60 / 30 s, probes every 10 s")


def test_importing_the_benchmarks_loads_no_signalbox_module() -> None:
    # bench/report.py imports them for readme_rows: cheap, without the service's dependencies
    code = (
        "import sys, bench.bench_alerts, bench.bench_probe_accuracy; "
        "sys.exit(any(m.split('.')[0] in ('signalbox', 'numpy', 'httpx') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
