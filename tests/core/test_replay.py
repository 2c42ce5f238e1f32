"""Replay scores a policy on stored history against hindsight and each single provider."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from signalbox.catalog import RoutingSettings, parse_catalog
from signalbox.db import make_engine
from signalbox.records import Observation, Source
from signalbox.replay import OBS_SCHEMA, ReplayEndpoint, replay
from signalbox.routing.objectives import Objective
from signalbox.routing.scoring import PriceInfo
from signalbox.sync import sync_catalog
from signalbox.writer import insert_observations
from tests.core.factories import CATALOG_TOML
from tests.dashboard.seed import CATALOG_TOML as SEED_CATALOG
from tests.dashboard.seed import MODEL, PROFILES, SILENT_PROVIDER, seed_store

START = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = 3600


def _crossing_history(ids: tuple[int, int], hours: float = 2.0) -> list[dict]:
    """Endpoint A is fast in the first half, slow in the second; B the other way round."""
    rows = []
    n = int(hours * HOUR / 20)
    for i in range(n):
        ts = START + timedelta(seconds=20 * i)
        first_half = i < n // 2
        for endpoint_id, fast in ((ids[0], first_half), (ids[1], not first_half)):
            rows.append(
                {
                    "endpoint_id": endpoint_id,
                    "ts": ts,
                    "source": "probe",
                    "ok": True,
                    "error_class": None,
                    "ttft_ms": 200.0 if fast else 600.0,
                    "tps": 120.0 if fast else 40.0,
                    "e2e_ms": 2000.0,
                }
            )
    return rows


def _endpoints(ids: tuple[int, int]) -> list[ReplayEndpoint]:
    return [
        ReplayEndpoint(ids[0], "alpha", PriceInfo(0.5, 1.5)),
        ReplayEndpoint(ids[1], "beta", PriceInfo(0.2, 0.6)),
    ]


def test_signalbox_policy_follows_the_faster_provider_and_beats_each_single() -> None:
    frame = pl.DataFrame(_crossing_history((1, 2)), schema=OBS_SCHEMA)
    report = replay(
        frame,
        _endpoints((1, 2)),
        model="m",
        since=START,
        until=START + timedelta(hours=2),
        objective=Objective.THROUGHPUT,
        step_s=60,
        settings=RoutingSettings(half_life_s=120),
    )
    mine, best = report.policy.summary(), report.hindsight.summary()
    singles = [s.summary() for s in report.singles]
    assert report.steps == 120
    assert best["tps"] == pytest.approx(120.0)
    assert all(mine["tps"] > s["tps"] + 30 for s in singles)  # type: ignore[operator]
    assert mine["tps"] > 0.95 * best["tps"]  # type: ignore[operator]
    assert report.policy.choices == {
        "alpha": pytest.approx(60, abs=3),
        "beta": pytest.approx(60, abs=3),
    }


def test_static_best_keeps_the_early_winner() -> None:
    frame = pl.DataFrame(_crossing_history((1, 2)), schema=OBS_SCHEMA)
    report = replay(
        frame,
        _endpoints((1, 2)),
        model="m",
        since=START,
        until=START + timedelta(hours=2),
        objective=Objective.LATENCY,
        policy="static-best",
    )
    assert report.policy.choices == {"alpha": report.steps}


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        replay(pl.DataFrame(schema=OBS_SCHEMA), [], model="m", since=START, until=START, policy="x")


def _replay_cli(
    db_url: str, *args: str, catalog: Path | None = None, model: str = "llama-3.1-70b"
) -> subprocess.CompletedProcess:
    flags = ["--database-url", db_url, *(["--catalog", str(catalog)] if catalog else [])]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "signalbox.cli",
            "replay",
            "--model",
            model,
            *args,
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_replay_cli_prints_gains_from_the_store(engine: Engine, db_url: str) -> None:
    ids = sync_catalog(engine, parse_catalog(CATALOG_TOML)).endpoint_ids
    pair = (ids[("alpha", "llama-3.1-70b")], ids[("beta", "llama-3.1-70b")])
    now = datetime.now(UTC).replace(microsecond=0)
    rows = []
    for row in _crossing_history(pair, hours=1.0):
        shifted = now - timedelta(hours=1) + (row["ts"] - START)
        obs = Observation(
            endpoint_id=row["endpoint_id"],
            ts=shifted,
            source=Source.PROBE,
            ok=True,
            ttft_ms=row["ttft_ms"],
            tps=row["tps"],
        )
        rows.append(obs.to_row())
    insert_observations(engine, rows)
    proc = _replay_cli(db_url, "--since", "1h", "--sort", "throughput")
    assert proc.returncode == 0, proc.stderr
    assert "hindsight" in proc.stdout and "only alpha" in proc.stdout and "vs beta" in proc.stdout


def test_replay_cli_refuses_bad_duration_and_unknown_model(sqlite_url: str) -> None:
    for args, expected in ((["--since", "yesterday"], "bad duration"), ([], "unknown model")):
        proc = _replay_cli(sqlite_url, *args, model="nope")
        assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr


def test_endpoint_never_observed_is_left_out_and_named() -> None:
    frame = pl.DataFrame(_crossing_history((1, 2), hours=0.5), schema=OBS_SCHEMA)
    silent = ReplayEndpoint(3, "gamma", PriceInfo(0.1, 0.1))
    report = replay(
        frame,
        [*_endpoints((1, 2)), silent],
        model="m",
        since=START,
        until=START + timedelta(minutes=30),
        objective=Objective.THROUGHPUT,
    )
    assert report.silent == ["gamma"] and report.steps == 30
    assert [s.name for s in report.singles] == ["only alpha", "only beta"]


def test_replay_cli_works_on_the_first_minutes_of_a_store(sqlite_url: str) -> None:
    # given five minutes of history in which the providers are probed 20 s apart (issue #19:
    # no step held every provider, so nothing was replayed)
    engine = make_engine(sqlite_url)
    ids = seed_store(engine, datetime.now(UTC), hours=0).endpoint_ids
    now = datetime.now(UTC)
    rows = [
        Observation(
            ids[(provider, MODEL)],
            now - timedelta(seconds=60 * minute + 20 * k),
            Source.PROBE,
            True,
            ttft_ms=300.0,
            tps=80.0 + 10 * k,
        ).to_row()
        for minute in range(5)
        for k, provider in enumerate(sorted(PROFILES))
    ]
    insert_observations(engine, rows)
    engine.dispose()
    # when replay runs with steps shorter than the probe interval, ignoring one provider
    proc = _replay_cli(sqlite_url, "--since", "10m", "--step", "20", "--ignore", "alpha")
    # then steps are evaluated from what each provider showed last, and the constraint holds
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert int(first.split(", ")[2].split()[0]) >= 10, first
    chose = next(line for line in proc.stdout.splitlines() if line.startswith("the policy chose"))
    assert "alpha" not in chose and "charlie" in chose
    assert f"left out (no observations in the window): {SILENT_PROVIDER}" in proc.stdout


def test_replay_cli_ranks_with_the_catalogs_routing_settings_or_says_it_cannot(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = make_engine(sqlite_url)
    seed_store(engine, datetime.now(UTC), hours=1)
    engine.dispose()
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        SEED_CATALOG + "\n[routing]\nhalf_life_s = 123\n[routing.breaker]\ncooldown_s = 9\n"
    )
    proc = _replay_cli(sqlite_url, "--since", "1h", catalog=catalog)
    assert proc.returncode == 0, proc.stderr
    assert "ranked as the router ranks: half-life 123 s" in proc.stdout
    assert "default routing settings" not in proc.stderr
    proc = _replay_cli(sqlite_url, "--since", "1h", catalog=tmp_path / "absent.toml")
    assert proc.returncode == 0, proc.stderr
    assert "half-life 900 s" in proc.stdout
    assert "absent.toml not readable" in proc.stderr and "default routing settings" in proc.stderr


def test_replay_cli_refuses_constraints_for_a_policy_that_ignores_them(sqlite_url: str) -> None:
    proc = _replay_cli(sqlite_url, "--policy", "round-robin", "--ignore", "alpha")
    assert proc.returncode == 2 and "--policy signalbox" in proc.stderr


def test_replay_cli_honours_a_zero_constraint(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    seed_store(engine, datetime.now(UTC), hours=0.5)
    engine.dispose()
    proc = _replay_cli(sqlite_url, "--since", "1h", "--max-price", "0")
    assert proc.returncode == 0, proc.stderr
    assert "constraints: max price 0 USD/Mtok" in proc.stdout
    assert "the policy chose: nothing" in proc.stdout


def test_a_steps_outcome_is_its_median_not_pulled_by_one_bunched_measurement() -> None:
    from signalbox.replay import step_outcomes

    # given one step of three requests, one of them measured while the machine lagged: all its
    # tokens arrived in one burst, an impossible 80,000 tok/s
    rows = [
        {"endpoint_id": 1, "ts": START + timedelta(seconds=s), "source": "traffic", "ok": True,
         "error_class": None, "ttft_ms": 250.0, "tps": tps, "e2e_ms": 500.0}
        for s, tps in ((1, 240.0), (2, 250.0), (3, 80_000.0))
    ]  # fmt: skip
    obs = pl.DataFrame(rows, schema=OBS_SCHEMA)
    outcome = step_outcomes(obs, START, 60.0)[(0, 1)]
    assert outcome.tps == 250.0 and outcome.ttft_ms == 250.0
