"""The routing benchmark's pure parts: generated scenarios, attempt-based outage figures, the
hindsight baseline, the share distribution, and the README table built from result files."""

from __future__ import annotations

import json
import sys

import pytest

from bench import report
from bench.routing.generate import generate
from bench.routing.metrics import distribution, outage_attempts, summarise
from bench.routing.policies import hindsight_static
from bench.routing.stream import Result, Target
from signalbox.simulator.scenario import parse_scenario


def test_generated_scenarios_are_valid_seeded_and_varied() -> None:
    scenarios = [parse_scenario(generate(seed)) for seed in range(20)]
    assert generate(3) == generate(3) and generate(3) != generate(4)
    kinds = {e.kind for s in scenarios for e in s.events}
    assert kinds == {"outage", "degrade", "error_burst"}
    assert any(e.ramp_s > 0 for s in scenarios for e in s.events)  # ramps
    assert any(e.kind == "degrade" and e.ramp_s == 0 for s in scenarios for e in s.events)  # steps
    assert any(p.cycle for s in scenarios for p in s.providers)  # daily cycles
    capacities = {p.capacity for s in scenarios for p in s.providers}
    assert min(capacities) <= 8 and max(capacities) >= 64  # capacity limits
    assert all(p.background.mean > 0 for s in scenarios for p in s.providers)
    for s in scenarios:
        assert all(0 <= e.start_s < e.end_s <= 450 for e in s.events)
        assert all(m.noise.tps_cv > 0 for p in s.providers for m in p.models)  # noise stays on


def _r(sent: float, tried: list[str], ok: bool = True, ttft: float | None = 300.0) -> Result:
    return Result(sent, tried[-1], ok, ttft_ms=ttft if ok else None, tps=100.0 if ok else None,
                  output_tokens=50 if ok else 0, tried=tried)  # fmt: skip


def test_outage_figures_come_from_attempts_not_from_the_winner() -> None:
    results = [
        _r(9.0, ["a"]),  # before the outage
        _r(10.5, ["a", "b"], ttft=900.0),  # tried the dead one, recovered on b
        _r(11.0, ["a"], ok=False),  # tried only the dead one: failed
        _r(12.0, ["a", "b"], ttft=700.0),
        _r(13.0, ["b"], ttft=300.0),
        _r(14.0, ["b"], ttft=320.0),
    ]
    out = outage_attempts(results, "a", 10.0, 20.0)
    assert out["attempting_s"] == pytest.approx(2.0)  # the last attempt at a, 2 s in
    assert out["attempted_dead"] == 3 and out["failed"] == 1 and out["requests"] == 5
    assert out["added_ttft_ms"] == pytest.approx(800.0 - 310.0)
    # winner-only bookkeeping would see nothing on a after 11 s, and 0 added TTFT
    none = outage_attempts([_r(10.5, ["b"]), _r(12.0, ["b"])], "a", 10.0, 20.0)
    assert none["attempting_s"] == 0.0 and none["attempted_dead"] == 0


def test_delivered_throughput_caps_bunched_streams_and_counts_failures_as_zero() -> None:
    steady = [_r(float(i), ["a"]) for i in range(9)]
    bunched = Result(9.0, "a", True, ttft_ms=300.0, tps=400_000.0, output_tokens=50, tried=["a"])
    row = summarise([*steady, bunched], tps_cap=300.0)
    assert row["tps_delivered"] == pytest.approx((9 * 100.0 + 300.0) / 10) and row["capped"] == 1
    failed = Result(10.0, "a", False, error="http_503", tried=["a"])
    assert summarise([*steady, failed], tps_cap=300.0)["tps_delivered"] == pytest.approx(90.0)


def test_distribution_reports_median_worst_tenth_and_minimum() -> None:
    d = distribution([float(v) for v in range(1, 21)])
    assert d == {"n": 20, "median": 10.5, "worst10": 2.0, "min": 1.0}


def test_hindsight_static_scores_each_provider_under_the_whole_streams_load() -> None:
    scenario = parse_scenario(
        """
seed = 1
[[provider]]
name = "tiny"
capacity = 2
overload_slope = 2.0
background = { mean = 0.0 }
[[provider.model]]
model = "m"
tps = 150.0
[[provider]]
name = "steady"
background = { mean = 0.0 }
[[provider.model]]
model = "m"
tps = 100.0
"""
    )
    targets = [Target(n, "openai", "", "m", None, 0.0, 0.0) for n in ("tiny", "steady")]
    best, scores = hindsight_static(scenario, targets, "m", 0.0, 100.0, rps=6.0, tokens=100.0)
    assert best.provider == "steady" and scores["tiny"] < scores["steady"]
    light, _ = hindsight_static(scenario, targets, "m", 0.0, 100.0, rps=0.5, tokens=100.0)
    assert light.provider == "tiny"  # fastest when it is not swamped


def _result_file(
    tmp_path, shares: dict[str, list[float]], stamp: str = "20261204T090000Z", capped: int = 0
) -> None:
    scenarios = {}
    for i in range(len(shares["signalbox"])):
        scenarios[f"gen-{i:03d}"] = [
            {
                p: {
                    "share_of_oracle": v[i],
                    "error_rate": 0.0,
                    "attempting_s": 0.5,
                    "requests": 100,
                    "capped": capped,
                }
                for p, v in shares.items()
            }
        ]
    from bench.bench_routing import summary

    data = {
        "benchmark": "routing", "command": "python bench/bench_routing.py --generated 3",
        "commit": "abc123", "dirty": False, "started_at": "2026-12-04T09:00:00+00:00",
        "machine_at_start": {"cpus": 2, "loadavg": [1.0, 1.0, 1.0]},
        "machine_at_end": {"cpus": 2, "loadavg": [2.0, 1.0, 1.0]}, "runtime_s": 600.0,
        "settings": {"rps": 6.0},
        "figures": {"scenarios": scenarios, "summary": summary(scenarios)},
    }  # fmt: skip
    (tmp_path / f"routing-{stamp}.json").write_text(json.dumps(data))


def test_report_builds_the_readme_block_from_result_files(tmp_path, monkeypatch) -> None:
    _result_file(
        tmp_path,
        {
            "signalbox": [0.99, 0.80, 0.97],
            "hindsight-static": [0.90, 0.85, 0.90],
            "oracle": [1.0, 1.0, 1.0],
        },
    )
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.BEGIN}\nstale figures\n{report.END}\nafter\n")
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    monkeypatch.setattr(report, "README", readme)
    monkeypatch.setattr(report, "ROOT", tmp_path)
    monkeypatch.setattr("sys.argv", ["report.py", "--check"])
    assert report.main() == 1  # stale
    monkeypatch.setattr("sys.argv", ["report.py"])
    assert report.main() == 0
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("after\n") and "stale figures" not in text
    assert "| Signalbox (default settings) | 97.0% | 80.0% | 80.0% | 66.7% |" in text
    assert "median 97.0% (target 95%: met); worst 10 % 80.0% (target 85%: missed)" in text
    assert "static provider's: median +7.0 points, worst -5.0" in text
    assert "routing-20261204T090000Z.json" in text and "abc123" in text
    assert "not a strict upper" in text
    monkeypatch.setattr("sys.argv", ["report.py", "--check"])
    assert report.main() == 0


def test_a_scenario_run_several_times_counts_once_by_its_medians() -> None:
    from bench.bench_routing import summary

    def run(sbx: float, hind: float) -> dict:
        return {
            "signalbox": {"share_of_oracle": sbx},
            "hindsight-static": {"share_of_oracle": hind},
            "oracle": {"share_of_oracle": 1.0},
        }

    # gen-000: Signalbox behind in one run of three (a noisy run), ahead on the paired median;
    # gen-001: behind in two runs of three, though its best run is far ahead
    scenarios = {
        "gen-000": [run(0.97, 0.95), run(0.90, 0.96), run(0.98, 0.96)],
        "gen-001": [run(0.99, 0.90), run(0.93, 0.95), run(0.94, 0.95)],
    }
    d = summary(scenarios)["signalbox"]
    assert d["n"] == 2  # scenarios, not scenario runs
    assert d["median"] == pytest.approx((0.97 + 0.94) / 2)  # each scenario's median run
    assert d["ahead_of_hindsight_static"] == 0.5
    assert d["margin_over_hindsight_static"]["median"] == pytest.approx((0.02 - 0.01) / 2)
    assert d["margin_over_hindsight_static"]["worst"] == pytest.approx(-0.01)
    assert d["run_spread"] == pytest.approx((0.08 + 0.06) / 2)
    assert "run_spread" in summary(scenarios)["hindsight-static"]
    # and one run per scenario keeps every figure as it was, with no spread to report
    single = summary({name: runs[:1] for name, runs in scenarios.items()})["signalbox"]
    assert single["ahead_of_hindsight_static"] == 1.0 and "run_spread" not in single
    line = report.repetitions(scenarios, summary(scenarios))
    assert "ran 3 times" in line and "Signalbox (default settings) 7.0" in line
    assert "ran once" in report.repetitions({"gen-000": scenarios["gen-000"][:1]}, {})


def test_the_scaled_row_is_every_default_duration_over_the_time_scale() -> None:
    from bench.routing.services import SIGNALBOX_SETTINGS, routing_toml, row_settings
    from signalbox.catalog import RoutingSettings, parse_catalog
    from signalbox.simulator.catalog import catalog_toml

    scenario = parse_scenario(generate(3, 420.0), "gen-003.toml")
    default = SIGNALBOX_SETTINGS["signalbox"]
    scaled = row_settings("signalbox-scaled", 10.0)
    text = catalog_toml(
        scenario,
        "http://127.0.0.1:1",
        probe_interval_s=scaled["probe_interval_s"],
        probe_jitter_s=scaled["probe_jitter_s"],
    )
    catalog = parse_catalog(text + routing_toml(scaled["routing"]))  # the router's own loader
    shipped, got = RoutingSettings(), catalog.routing
    assert catalog.probe.interval_s == default["probe_interval_s"] / 10
    assert catalog.probe.jitter_s == default["probe_jitter_s"] / 10
    assert got.half_life_s == shipped.half_life_s / 10
    assert got.stale_after_s == shipped.stale_after_s / 10
    for name in ("cooldown_s", "max_cooldown_s", "trial_timeout_s"):
        assert getattr(got.breaker, name) == getattr(shipped.breaker, name) / 10
    # what is not a duration stays as shipped
    assert (got.share_buffer, got.explore_share, got.min_samples) == (
        shipped.share_buffer,
        shipped.explore_share,
        shipped.min_samples,
    )
    assert got.breaker.failure_threshold == shipped.breaker.failure_threshold
    assert row_settings("signalbox", 10.0) == default


def test_the_readme_benchmark_block_is_what_the_committed_results_say(monkeypatch) -> None:
    monkeypatch.setattr("sys.argv", ["report.py", "--check"])
    assert report.main() == 0, "run python bench/report.py after adding results"


def test_the_table_of_benchmarks_takes_each_row_from_its_benchmarks_newest_file(
    tmp_path, monkeypatch
) -> None:
    import sys
    import types

    from bench.record import Row, Run

    module = types.ModuleType("fake_bench")
    module.readme_rows = lambda data: [  # type: ignore[attr-defined]
        Row("writer", f"{data['figures']['rate']:,} obs/s", "1 obs/s", "a | b"),
        Row("writer, again", "2", "-", "-"),
    ]
    monkeypatch.setitem(sys.modules, "fake_bench", module)
    monkeypatch.setattr(report, "SUMMARY", (("writer", "fake_bench"),))
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    assert report.summary_table() == []  # no file: no table
    for stamp, rate in (("20261201T000000Z", 10), ("20261202T000000Z", 20_000)):
        Run("writer", "python bench/bench_writer.py --runs 2", {}).save(
            {"rate": rate}, path=tmp_path / f"writer-{stamp}.json"
        )
    (tmp_path / "writer-20261203T000000Z.json").write_text('{"bench": "writer"}')  # old format
    table = report.summary_table()
    assert len(table) == 4
    assert table[2].startswith(
        "| writer | `python bench/bench_writer.py --runs 2` | 20,000 obs/s | 1 obs/s | a \\| b | "
        "`writer-20261202T000000Z.json` (commit `"
    )
    assert table[3] == "| writer, again | (same command) | 2 | - | - | (same run) |"


def test_a_routing_run_whose_client_was_starved_is_named_but_not_shown(
    tmp_path, monkeypatch
) -> None:
    shares = {"signalbox": [0.97, 0.95], "hindsight-static": [0.9, 0.9], "oracle": [1.0, 1.0]}
    _result_file(tmp_path, shares, "20261204T090000Z", capped=1)  # 1 % capped: sound
    worse = {"signalbox": [0.60, 0.50], "hindsight-static": [0.9, 0.9], "oracle": [1.0, 1.0]}
    _result_file(tmp_path, worse, "20261204T100000Z", capped=12)  # 12 %: bunched chunks
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    monkeypatch.setattr(report, "ROOT", tmp_path)
    text = report.generate()
    assert "| Signalbox (default settings) | 96.0% |" in text  # the sound run's table
    assert "60.0%" not in text
    assert "Not shown: `routing-20261204T100000Z.json`" in text and "12.0% of its" in text


def test_each_signalbox_rows_prober_asks_its_own_router_for_sooner_probes(
    tmp_path, monkeypatch
) -> None:
    from bench.routing.services import SignalboxRow
    from signalbox.settings import Settings

    default = Settings().router_url
    scenario = parse_scenario(generate(3, 420.0), "gen-003.toml")
    row = SignalboxRow("signalbox", scenario, "http://127.0.0.1:1", tmp_path, {}, 10.0)
    try:
        # the prober's settings, read from the row's environment: its own router, not the
        # default port (where nothing answered, so no sooner probe was ever asked for)
        for key, value in row.env.items():
            monkeypatch.setenv(key, value)
        assert Settings().router_url == row.url != default
    finally:
        row.migrate.kill()
        row.migrate.wait()


def test_an_ab_pairs_each_candidate_row_with_its_base_row_within_each_run() -> None:
    from bench.bench_routing import label, paired_ab, sign_test

    def run(base: float, cand: float) -> dict:
        return {
            "signalbox": {"share_of_oracle": base},
            "signalbox@candidate": {"share_of_oracle": cand},
            "oracle": {"share_of_oracle": 1.0},
        }

    # gen-000: the candidate ahead in both runs, though its worse run is below the base's better
    # one (pairing within a run, not comparing the runs' medians); gen-001: behind; gen-002: tie
    scenarios = {
        "gen-000": [run(0.95, 0.97), run(0.80, 0.84)],
        "gen-001": [run(0.90, 0.88), run(0.91, 0.89)],
        "gen-002": [run(0.90, 0.90)],
    }
    ab = paired_ab(scenarios)
    assert set(ab) == {"signalbox@candidate"}
    d = ab["signalbox@candidate"]
    assert d["base"] == "signalbox" and d["n"] == 3
    assert d["per_scenario"] == pytest.approx([0.03, -0.02, 0.0])
    assert d["median"] == pytest.approx(0.0)
    assert (d["better"], d["worse"]) == (1, 1)
    assert d["sign_p"] == 1.0
    # without a candidate row there is nothing to pair
    assert paired_ab({"gen-000": [{"signalbox": {"share_of_oracle": 0.9}}]}) == {}
    # the sign test: 5 of 5 better is p = 2 / 32; 9 of 10 is 2 * 11 / 1024
    assert sign_test(5, 0) == pytest.approx(0.0625)
    assert sign_test(1, 9) == pytest.approx(22 / 1024)
    assert label("signalbox-scaled@candidate").endswith(", candidate")
    assert label("signalbox-scaled@candidate").startswith(label("signalbox-scaled"))


def test_a_candidate_row_runs_signalbox_with_the_candidates_python(tmp_path, monkeypatch) -> None:
    from bench.bench_routing import installed_tree
    from bench.routing.services import ROOT, SignalboxRow, row_settings

    # an "interpreter" that only says what it was asked to run, and where
    python = tmp_path / "python"
    python.write_text('#!/bin/sh\necho ran in "$PWD": "$@"\n')
    python.chmod(0o755)
    scenario = parse_scenario(generate(3, 420.0), "gen-003.toml")
    row = SignalboxRow(
        "signalbox@candidate", scenario, "http://127.0.0.1:1", tmp_path, {}, 10.0, str(python)
    )
    assert row.migrate.wait(60) == 0
    log = (row.home / "db.log").read_text()
    # in the row's own folder: in this checkout, `-m` would import this checkout's packages
    assert f"ran in {row.home}: -m signalbox.cli db upgrade" in log, log
    # same settings as the row it is compared with: an A/B changes the code only
    assert row_settings("signalbox-scaled@candidate", 10.0) == row_settings(
        "signalbox-scaled", 10.0
    )
    # the candidate's checkout is read off its installation (for the result's commit), not off
    # whatever checkout the benchmark runs in
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "signalbox" / "router").mkdir(parents=True)
    (elsewhere / "signalbox" / "__init__.py").write_text("")
    (elsewhere / "signalbox" / "router" / "__init__.py").write_text("")
    monkeypatch.chdir(elsewhere)
    assert installed_tree(sys.executable) == ROOT
    assert installed_tree(str(python)) is None
