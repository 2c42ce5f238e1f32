"""Traffic coverage: an endpoint that served successful traffic within the last interval is
measured already, and its scheduled probe is skipped (on SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import Engine

from probe.coverage import TrafficCoverage
from signalbox.db import make_engine
from signalbox.records import Observation, Source
from signalbox.schema import Observation as ObservationRow
from tests.alerts.fleet import T0, fleet_catalog, sync


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
