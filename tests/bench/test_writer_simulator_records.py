"""The writer and simulator benchmarks' result files: figures built from small fake measurements,
written and read back through ``bench.record.Run``, give the README's rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import bench_simulator, bench_writer
from bench.record import Run

ROOT = Path(__file__).resolve().parents[2]


def _saved(tmp_path: Path, kind: str, settings: dict[str, Any], figures: dict[str, Any]) -> dict:
    """The result file as bench/report.py reads it."""
    path = Run(kind, f"python bench/bench_{kind}.py", settings).save(
        figures, path=tmp_path / f"{kind}.json"
    )
    return json.loads(path.read_text())


# -- writer --------------------------------------------------------------------------------------

WRITER_SETTINGS = {"rows": 20000, "runs": 5, "batch": 500, "baseline_rows": 2000}


def test_writer_row_gives_the_median_rates_and_their_ratio(tmp_path: Path) -> None:
    figures = bench_writer.figures_from(
        [27_500.0, 30_100.0, 28_019.4, 26_000.0, 29_000.0], [1_200.0, 1_111.2, 1_050.0]
    )
    data = _saved(tmp_path, "writer", WRITER_SETTINGS, figures)
    assert data["figures"]["runs_obs_per_s"][3] == 26_000.0  # every run kept, not only the median
    (row,) = bench_writer.readme_rows(data)
    assert row.what == "observation writer into PostgreSQL"
    assert row.result == "28,019 obs/s, batches of 500"
    assert row.baseline == "1,111 obs/s, one row per transaction"
    assert row.verdict == "25x"  # 28,019.4 / 1,111.2 = 25.2


def test_writer_ratio_keeps_a_decimal_below_ten_and_batch_comes_from_the_settings(
    tmp_path: Path,
) -> None:
    figures = bench_writer.figures_from([8_900.0], [1_000.0])
    data = _saved(tmp_path, "writer", {**WRITER_SETTINGS, "batch": 100}, figures)
    (row,) = bench_writer.readme_rows(data)
    assert row.result == "8,900 obs/s, batches of 100"
    assert row.verdict == "8.9x"


def test_writer_file_saved_before_any_writer_run_has_no_ratio(tmp_path: Path) -> None:
    # the script saves after each run; a crash before the first leaves only the baseline
    data = _saved(tmp_path, "writer", WRITER_SETTINGS, bench_writer.figures_from([], [1_000.0]))
    (row,) = bench_writer.readme_rows(data)
    assert (row.result, row.baseline, row.verdict) == (
        "no run",
        "1,000 obs/s, one row per transaction",
        "-",
    )


# -- simulator -----------------------------------------------------------------------------------

SIM_SETTINGS = {"streams": 500, "tps": 50.0, "ttft_streams": 200}


def _pacing(p50: float, p99: float, complete: int = 500) -> dict[str, float]:
    return {"p50": p50, "p99": p99, "max": p99 + 1, "chunks": 50_000, "complete": complete}


def _ttft(p50: float, p99: float) -> dict[str, float]:
    return {"p50": p50, "p99": p99, "max": p99 + 1, "n": 1_500, "no_plan": 0}


def _sim_file(
    tmp_path: Path,
    pacing: list[dict[str, float]],
    ttft: list[dict[str, float]],
    settings: dict[str, Any] = SIM_SETTINGS,
) -> dict:
    figures = bench_simulator.figures_from(pacing, ttft, [0.5] * len(pacing))
    return _saved(tmp_path, "simulator", settings, figures)


def test_simulator_rows_give_median_errors_and_what_from_the_settings(tmp_path: Path) -> None:
    data = _sim_file(
        tmp_path,
        [_pacing(0.30, 1.40), _pacing(0.36, 1.58), _pacing(0.50, 1.90)],
        [_ttft(0.39, 1.44), _ttft(0.35, 1.20), _ttft(0.45, 1.70)],
    )
    assert len(data["figures"]["runs"]) == 3 and data["figures"]["runs"][0]["load1"] == 0.5
    pacing, ttft = bench_simulator.readme_rows(data)
    assert pacing.what == "simulator token pacing, 500 streams x 50 tok/s"
    assert pacing.result == "error vs schedule p50 0.36 ms, p99 1.58 ms"
    assert pacing.baseline == "-"
    assert pacing.verdict == "target p99 <= 2 ms: met"
    assert ttft.what == "simulator TTFT, 200 streams"
    assert ttft.result == "error vs scenario p50 0.39 ms, p99 1.44 ms"
    assert ttft.verdict == "target p99 <= 2 ms: met"


def test_simulator_target_is_missed_per_part_when_its_median_p99_exceeds_2_ms(
    tmp_path: Path,
) -> None:
    # pacing's p99 median 2.1 ms (one good run does not rescue it); TTFT's exactly 2 ms
    data = _sim_file(
        tmp_path,
        [_pacing(0.4, 2.5), _pacing(0.4, 2.1), _pacing(0.4, 1.0)],
        [_ttft(0.4, 2.0), _ttft(0.4, 2.0), _ttft(0.4, 3.0)],
        {"streams": 100, "tps": 12.5, "ttft_streams": 20},
    )
    pacing, ttft = bench_simulator.readme_rows(data)
    assert pacing.what == "simulator token pacing, 100 streams x 12.5 tok/s"
    assert pacing.verdict == "target p99 <= 2 ms: missed"
    assert ttft.what == "simulator TTFT, 20 streams"
    assert ttft.verdict == "target p99 <= 2 ms: met"


def test_simulator_verdict_uses_the_target_recorded_in_the_file(tmp_path: Path) -> None:
    data = _sim_file(tmp_path, [_pacing(0.3, 1.5)], [_ttft(0.3, 1.5)])
    data["figures"]["target_p99_ms"] = 1.0  # a run judged against a stricter target
    pacing, ttft = bench_simulator.readme_rows(data)
    assert pacing.verdict == ttft.verdict == "target p99 <= 1 ms: missed"


def test_simulator_incomplete_streams_are_named_in_the_pacing_row(tmp_path: Path) -> None:
    data = _sim_file(
        tmp_path, [_pacing(0.3, 1.5), _pacing(0.3, 1.5, complete=497)], [_ttft(0.3, 1.5)] * 2
    )
    pacing, _ = bench_simulator.readme_rows(data)
    assert pacing.result == (
        "error vs schedule p50 0.30 ms, p99 1.50 ms (3 of 500 streams incomplete in a run)"
    )


def test_simulator_run_without_samples_is_null_in_the_file_and_missed(tmp_path: Path) -> None:
    nan = float("nan")
    empty = {"p50": nan, "p99": nan, "max": nan, "n": 0, "no_plan": 40}
    figures = bench_simulator.figures_from([_pacing(0.3, 1.5)], [empty], [0.5])
    json.dumps(figures, allow_nan=False)  # raises on NaN
    data = _saved(tmp_path, "simulator", SIM_SETTINGS, figures)
    assert data["figures"]["median"]["ttft"]["no_plan"] == 40
    _, ttft = bench_simulator.readme_rows(data)
    assert (ttft.result, ttft.verdict) == ("no samples", "target p99 <= 2 ms: missed")


def test_simulator_scenario_streams_without_noise() -> None:
    # the pacing error is measured against k / tps: jitter, stalls or a per-request tps spread
    # (the simulator's default) would be counted as the server's lateness
    from signalbox.simulator.scenario import parse_scenario

    text = bench_simulator.SCENARIO.format(ttft_ms=150.0, ttft_sigma=0.4, tps=50.0, chunk_max=4)
    (provider,) = parse_scenario(text).providers
    noise = provider.models[0].noise
    assert (noise.tps_cv, noise.jitter_cv, noise.stall_prob) == (0.0, 0.0, 0.0)


def test_importing_the_benchmarks_loads_no_database_or_service_module() -> None:
    # bench/report.py imports them for readme_rows: cheap, without the service's dependencies
    code = (
        "import sys, bench.bench_writer, bench.bench_simulator; "
        "sys.exit(any(m.split('.')[0] in ('signalbox', 'sqlalchemy', 'tests', 'uvloop')"
        " for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
