"""``signalbox simulate``: serves, prints its URL, stops cleanly; bad scenarios exit 2.

Driven through ``python -m simulator``, which wires the same ``add_arguments``/``run`` as the
``signalbox`` console script does, so these tests do not depend on every other service's CLI.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from signalbox.catalog import parse_catalog
from signalbox.simulator.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_scenario_exits_2_with_one_line(capsys) -> None:
    assert main(["--scenario", "atlantis"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "atlantis" in err


def test_invalid_scenario_file_exits_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[provider]]\nname = 'p'\ndialect = 'smoke-signals'\n")
    assert main(["--scenario", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "dialect" in err


def test_print_catalog_gives_a_valid_catalog(capsys) -> None:
    assert main(["--scenario", "demo", "--port", "8999", "--print-catalog"]) == 0
    catalog = parse_catalog(capsys.readouterr().out)
    assert catalog.provider("lowcost").base_url == "http://127.0.0.1:8999/lowcost/v1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_simulate_serves_until_sigterm_from_the_start_offset_given() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "--scenario",
            "fast",
            "--port",
            str(port),
            "--start-offset",
            "-50",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert f"http://127.0.0.1:{port}" in line
        deadline = time.monotonic() + 10
        while True:
            try:
                truth = httpx.get(f"http://127.0.0.1:{port}/truth", timeout=2)
                assert truth.status_code == 200
                # a lead-in: scenario time is still before 0 (the fast scenario runs at x1)
                assert -50 <= truth.json()["t"] < 0
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "simulator never answered"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_start_offset_that_is_not_a_number_exits_2(capsys) -> None:
    assert main(["--scenario", "fast", "--start-offset", "nan"]) == 2
    assert "start-offset" in capsys.readouterr().err


def test_non_positive_time_scale_exits_2(capsys) -> None:
    assert main(["--scenario", "fast", "--time-scale", "0"]) == 2
    assert "time-scale" in capsys.readouterr().err
