"""The prober as a process: SIGHUP reloads the catalog, SIGTERM stops it and flushes every row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from signalbox.db import make_engine
from signalbox.simulator.catalog import api_key_environment, catalog_toml
from signalbox.simulator.testing import SimulatorThread

ROOT = Path(__file__).resolve().parents[2]
RUN_PROBE = (
    "import argparse, logging, sys; from signalbox.cli import probe as cli; from signalbox.settings import Settings;"
    " logging.basicConfig(level='INFO', format='%(name)s: %(message)s');"
    " p = argparse.ArgumentParser(); cli.add_arguments(p);"
    " sys.exit(cli.run(p.parse_args(sys.argv[1:]), Settings()))"
)


def poll(predicate: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.05)


def rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM observation")).scalar_one()
    except Exception:
        return 0
    finally:
        engine.dispose()


@pytest.mark.slow
def test_sighup_reloads_the_catalog_and_sigterm_flushes_observations_and_exits_0(
    tmp_path: Path,
) -> None:
    with SimulatorThread("fast") as sim:
        catalog = tmp_path / "catalog.toml"
        catalog.write_text(
            catalog_toml(sim.scenario, sim.base_url, probe_interval_s=0.5, probe_jitter_s=0.1)
        )
        url = f"sqlite:///{tmp_path / 'probe.db'}"
        env = {
            **os.environ,
            **api_key_environment(sim.scenario),
            "SIGNALBOX_DATABASE_URL": url,
            "SIGNALBOX_CATALOG": str(catalog),
            "SIGNALBOX_DATA_DIR": str(tmp_path),
        }
        log = tmp_path / "probe.log"
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-c", RUN_PROBE, "--no-router-poll", "--metrics-port", "0"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
            try:
                poll(lambda: rows(url) >= 8)
                poll(lambda: "prober metrics at " in log.read_text())
                metrics_url = log.read_text().split("prober metrics at ")[1].split()[0]
                metrics = httpx.get(metrics_url, timeout=5).text
                assert (
                    "signalbox_probe_ok " in metrics
                    and "signalbox_probe_budget_paused 0" in metrics
                )
                # a bad catalog is refused and the old one kept
                catalog.write_text("[[provider]]\nname = 1\n")
                proc.send_signal(signal.SIGHUP)
                poll(lambda: "catalog reload refused" in log.read_text())
                one = sim.scenario.model_copy(update={"providers": sim.scenario.providers[:1]})
                catalog.write_text(catalog_toml(one, sim.base_url, probe_interval_s=0.5))
                proc.send_signal(signal.SIGHUP)
                poll(lambda: "catalog reloaded: 2 endpoint x shape probes" in log.read_text())
                proc.send_signal(signal.SIGTERM)
                code = proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
    output = log.read_text()
    assert code == 0, output
    written = int(output.split("observations written: ")[1].split()[0])
    assert written == rows(url) > 8
    assert not (tmp_path / "probe-spill.jsonl").exists()
