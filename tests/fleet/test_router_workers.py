"""``signalbox router --workers N``: N processes share the port, each labels its metrics and
answers /metrics for all, a worker that dies is replaced, and SIGTERM stops them all."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from signalbox.catalog import parse_catalog
from signalbox.db import make_engine
from signalbox.migrate import upgrade
from signalbox.sync import sync_catalog
from tests.fleet.procs import ROOT, poll, service_env, start_service
from tests.fleet.test_routers import CATALOG_TOML, free_port, order, store


def children(pid: int) -> set[int]:
    """Live worker processes of ``pid`` (from /proc, no extra dependency; multiprocessing's
    resource tracker is a child too, and is left out)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            with contextlib.suppress(OSError):
                if b"spawn_main" in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
    return found


def workers_seen(url: str, scrapes: int = 40) -> set[str]:
    """``worker`` labels on /metrics over fresh connections (the kernel spreads them)."""
    seen = set()
    for _ in range(scrapes):
        with httpx.Client(timeout=5) as client:
            text = client.get(f"{url}/metrics").text
        seen.update(re.findall(r'worker="(\d+)"', text))
    return seen


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_workers_share_the_port_are_replaced_when_they_die_and_stop_together(
    tmp_path: Path,
) -> None:
    # given a migrated SQLite store with fresh observations
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(CATALOG_TOML)
    engine = make_engine(url)
    try:
        report = sync_catalog(engine, parse_catalog(CATALOG_TOML))
    finally:
        engine.dispose()
    ids = {provider: eid for (provider, _model), eid in report.endpoint_ids.items()}
    store(url, ids, {"p1": 100.0, "p2": 300.0, "p3": 600.0}, 20)

    # when a router starts with two workers
    port = free_port()
    router_url = f"http://127.0.0.1:{port}"
    env = service_env(url, catalog, tmp_path / "data", SIGNALBOX_API_KEYS="")
    args = ["router", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    service = start_service("router", args, env, tmp_path)
    try:
        with httpx.Client(timeout=5) as client:
            poll(lambda: order(client, router_url) == ["p1", "p2", "p3"], 60, "routes")
        pids = poll(
            lambda: children(service.proc.pid) if len(children(service.proc.pid)) == 2 else None,
            30,
            "two workers",
        )

        # then both answer on the one port, each under its own label, and any one scrape
        # holds both workers' counters
        assert poll(lambda: workers_seen(router_url) == {"0", "1"}, 30, "both workers answer")
        assert "(2 workers)" in service.log()
        assert poll(lambda: workers_seen(router_url, scrapes=1) == {"0", "1"}, 10, "one scrape")

        # when a worker is killed, the parent replaces it and routing goes on
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        poll(
            lambda: len(children(service.proc.pid) - {victim}) == 2,
            30,
            "a new worker in place of the killed one",
        )
        with httpx.Client(timeout=5) as client:
            poll(lambda: order(client, router_url) == ["p1", "p2", "p3"], 30, "routes again")
        assert "exited with -9; restarting" in service.log()
        live = children(service.proc.pid)
    finally:
        # when the parent gets SIGTERM, it and every worker exit
        code = service.stop()
    assert code == 0
    assert len(live) == 2
    poll(lambda: not any(Path(f"/proc/{pid}").exists() for pid in live), 10, "workers gone")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{router_url}/healthz", timeout=2)


def test_zero_workers_is_one_line_and_exit_2(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(CATALOG_TOML)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "signalbox.cli",
            "--catalog",
            str(catalog),
            "router",
            "--workers",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "signalbox: --workers must be at least 1"
