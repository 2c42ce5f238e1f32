"""``signalbox probe --once`` end to end: simulator, SQLite, the printed table and the exit code."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from sqlalchemy import text

from signalbox.cli import probe as cli
from signalbox.db import make_engine
from signalbox.settings import Settings
from signalbox.simulator.catalog import api_key_environment, catalog_toml
from signalbox.simulator.testing import SimulatorThread


def args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def count_rows(url: str, where: str = "1=1") -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(f"SELECT count(*) FROM observation WHERE {where}")
            ).scalar_one()
    finally:
        engine.dispose()


def test_probe_once_prints_a_table_writes_observations_and_exits_0(
    tmp_path: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with SimulatorThread("fast") as sim:
        catalog = tmp_path / "catalog.toml"
        catalog.write_text(catalog_toml(sim.scenario, sim.base_url))
        for name, value in api_key_environment(sim.scenario).items():
            monkeypatch.setenv(name, value)
        settings = Settings(database_url=sqlite_url, catalog=catalog, data_dir=tmp_path)
        code = cli.run(args("--once"), settings)
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0].split() == [
        "endpoint",
        "shape",
        "result",
        "ttft_ms",
        "tps",
        "tokens",
        "cost_usd",
    ]
    assert "alpha/llama-3.1-70b" in out and "charlie/qwen-2.5-72b" in out
    assert "8/8 probes ok" in out
    assert count_rows(sqlite_url, "source = 'probe' AND ok") == 8


def test_probe_once_exits_1_when_every_probe_fails(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        f'[[provider]]\nname = "down"\nbase_url = "http://127.0.0.1:{port}/v1"\n'
        '[[model]]\nname = "m"\n[[model.endpoint]]\nprovider = "down"\nupstream_model = "m"\n'
        "price_input_per_mtok = 1.0\nprice_output_per_mtok = 1.0\n"
    )
    settings = Settings(database_url=sqlite_url, catalog=catalog, data_dir=tmp_path)
    code = cli.run(args("--once"), settings)
    out = capsys.readouterr().out
    assert code == 1
    assert "connect" in out and "0/1 probes ok" in out
    assert count_rows(sqlite_url, "error_class = 'connect'") == 1
