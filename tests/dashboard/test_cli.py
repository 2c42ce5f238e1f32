"""``signalbox dashboard`` serves the console on the configured store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_dashboard_command_serves_the_console(sqlite_url: str) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "SIGNALBOX_DATABASE_URL": sqlite_url,
        "SIGNALBOX_DASHBOARD_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "signalbox.cli", "dashboard", "--host", "127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "dashboard did not answer within 30 s"
                time.sleep(0.1)
        assert response.status_code == 200
        assert "Signalbox" in response.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_dashboard_help_lists_host_and_port() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "signalbox.cli", "dashboard", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--host" in out and "--port" in out
