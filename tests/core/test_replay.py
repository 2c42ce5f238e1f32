"""Replay scores a policy on stored history against hindsight and each single provider."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import Engine

from signalbox.catalog import parse_catalog
from signalbox.records import Observation, Source
from signalbox.replay import OBS_SCHEMA, ReplayEndpoint, replay
from signalbox.routing.objectives import Objective
from signalbox.routing.scoring import PriceInfo
from signalbox.sync import sync_catalog
from signalbox.writer import insert_observations
from tests.core.factories import CATALOG_TOML

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
        half_life_s=120,
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
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "signalbox.cli",
            "replay",
            "--model",
            "llama-3.1-70b",
            "--since",
            "1h",
            "--sort",
            "throughput",
            "--database-url",
            db_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "hindsight" in proc.stdout and "only alpha" in proc.stdout and "vs beta" in proc.stdout


def test_replay_cli_refuses_bad_duration_and_unknown_model(sqlite_url: str) -> None:
    for args, expected in ((["--since", "yesterday"], "bad duration"), ([], "unknown model")):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "signalbox.cli",
                "replay",
                "--model",
                "nope",
                *args,
                "--database-url",
                sqlite_url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
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
