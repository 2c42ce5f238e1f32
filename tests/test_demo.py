"""`signalbox demo` starts every service, routes real traffic, and Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_demo_runs_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    ports = {name: _free_port() for name in ("router", "dashboard", "simulator")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALBOX_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "signalbox.cli",
            "demo",
            "--data-dir",
            str(tmp_path),
            "--router-port",
            str(ports["router"]),
            "--dashboard-port",
            str(ports["dashboard"]),
            "--simulator-port",
            str(ports["simulator"]),
            "--probe-interval",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        banner = "".join(lines)
        assert f"http://127.0.0.1:{ports['dashboard']}/" in banner, banner
        assert "curl" in banner

        router = f"http://127.0.0.1:{ports['router']}"
        deadline = time.monotonic() + 60
        body = {}
        while time.monotonic() < deadline:
            resp = httpx.get(f"{router}/v1/route", params={"model": "llama-3.1-70b"}, timeout=5)
            body = resp.json()
            if resp.status_code == 200 and all(r["samples"] > 0 for r in body["ranking"]):
                break
            time.sleep(0.5)
        assert body.get("provider"), body
        assert len(body["ranking"]) == 4
        page = httpx.get(f"http://127.0.0.1:{ports['dashboard']}/", timeout=10)
        assert page.status_code == 200
        # The demo's route carries part of the traffic, so the Routes page has decisions to show.
        deadline = time.monotonic() + 60
        traffic = ""
        while time.monotonic() < deadline:
            traffic = httpx.get(f"{router}/metrics", timeout=5).text
            if 'signalbox_route_requests_total{route="assist"' in traffic:
                break
            time.sleep(0.5)
        assert 'signalbox_route_requests_total{route="assist"' in traffic

        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    for port in ports.values():
        assert not _port_open(port), f"a service still listens on {port} after Ctrl-C"
    assert (tmp_path / "demo" / "signalbox.db").exists()
