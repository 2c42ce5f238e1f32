"""Traffic coverage: an endpoint that served successful traffic within the last interval is
measured already, and its scheduled probe is skipped (on SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from signalbox.catalog import parse_catalog
from signalbox.db import make_engine
from signalbox.probe.coverage import TrafficCoverage
from signalbox.records import Observation, Source
from signalbox.schema import Observation as ObservationRow
from signalbox.simulator.catalog import api_key_environment, catalog_toml
from signalbox.simulator.testing import SimulatorThread
from signalbox.sync import sync_catalog
from tests.alerts.fleet import T0, fleet_catalog, sync
from tests.probe.test_service_signals import ROOT, RUN_PROBE, poll


def insert(engine: Engine, eid: int, ts: float, source: str, ok: bool = True) -> None:
    """One observation row of ``eid`` at epoch ``ts``."""
    row = Observation(eid, datetime.fromtimestamp(ts, UTC), source, ok, ttft_ms=100.0).to_row()
    with engine.begin() as conn:
        conn.execute(ObservationRow.__table__.insert(), [row])


def test_only_recent_successful_traffic_covers_an_endpoint(engine: Engine) -> None:
    ids = sync(engine, fleet_catalog())
    alpha, bravo = ids["alpha"], ids["bravo"]
    # given alpha served a request 5 s ago; bravo only failed traffic and a probe just now
    insert(engine, alpha, T0 - 5, Source.TRAFFIC)
    insert(engine, bravo, T0 - 1, Source.TRAFFIC, ok=False)
    insert(engine, bravo, T0 - 1, Source.PROBE)
    coverage = TrafficCoverage(engine)
    coverage.refresh(60.0, now=datetime.fromtimestamp(T0, UTC))
    # then alpha is covered for the rest of the interval, bravo is not
    assert coverage.covered(alpha, T0, 60.0)
    assert coverage.covered(alpha, T0 + 54, 60.0)
    assert not coverage.covered(alpha, T0 + 56, 60.0)  # lapses without new traffic
    assert not coverage.covered(bravo, T0, 60.0)
    # and traffic older than the window does not count
    coverage.refresh(4.0, now=datetime.fromtimestamp(T0, UTC))
    assert not coverage.covered(alpha, T0, 4.0)


def test_an_unreadable_store_keeps_what_was_known_and_lets_it_lapse(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    ids = sync(engine, fleet_catalog())
    now = time.time()
    insert(engine, ids["alpha"], now - 1, Source.TRAFFIC)
    coverage = TrafficCoverage(engine)
    coverage.refresh(10.0)
    assert coverage.covered(ids["alpha"], now, 10.0)
    # when the store goes away, the next refresh fails quietly
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE observation")
    coverage.refresh(10.0)
    # then the last known traffic still counts until it is a window old, and no longer
    assert coverage.covered(ids["alpha"], now, 10.0)
    assert not coverage.covered(ids["alpha"], now + 10, 10.0)
    engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_the_probe_process_leaves_busy_endpoints_to_their_traffic(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    with SimulatorThread("fast") as sim:
        catalog = tmp_path / "catalog.toml"
        catalog.write_text(
            # Coverage is refreshed every half interval and counts traffic up to one interval
            # old, so the slack against a stalled feeder or refresh is half an interval less the
            # feeder's 0.2 s cadence: 1.8 s here (at 1.5 s it was 0.55 s, and a loaded CI
            # machine once let one probe of alpha through).
            catalog_toml(sim.scenario, sim.base_url, probe_interval_s=4.0, probe_jitter_s=0.1)
        )
        engine = make_engine(fresh_pg_url)
        ids = sync_catalog(engine, parse_catalog(catalog.read_text())).endpoint_ids
        busy = ids[("alpha", "llama-3.1-70b")]
        stop = threading.Event()

        def traffic() -> None:  # a router proxying to alpha, five requests a second
            while not stop.is_set():
                insert(engine, busy, time.time(), Source.TRAFFIC)
                stop.wait(0.2)

        feeder = threading.Thread(target=traffic, daemon=True)
        feeder.start()
        env = {
            **os.environ,
            **api_key_environment(sim.scenario),
            "SIGNALBOX_DATABASE_URL": fresh_pg_url,
            "SIGNALBOX_CATALOG": str(catalog),
            "SIGNALBOX_DATA_DIR": str(tmp_path),
        }
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN_PROBE, "--no-router-poll"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # when the prober has probed every other endpoint several times
            poll(
                lambda: min(probes(engine, ids, exclude=busy).values(), default=0) >= 3,
                timeout_s=60,
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            stop.set()
            feeder.join()
        # then alpha, measured by its traffic all along, was not probed once
        assert probes(engine, ids, exclude=None)[busy] == 0
        engine.dispose()


def probes(engine: Engine, ids: dict, exclude: int | None) -> dict[int, int]:
    """Probe observations per endpoint id (all of the catalog's, but ``exclude``)."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT endpoint_id, count(*) FROM observation WHERE source = 'probe'"
            " GROUP BY endpoint_id"
        ).all()
    counts = {eid: 0 for eid in ids.values() if eid != exclude}
    counts.update({eid: n for eid, n in rows if eid != exclude})
    return counts
