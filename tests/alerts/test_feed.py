"""The evaluator's statistics feed: warm from a window, then new rows by id, none twice, none lost."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from signalbox.alerts.feed import StatsFeed
from signalbox.catalog import AlertRule
from signalbox.records import Observation, Source
from signalbox.schema import Observation as ObservationRow
from tests.alerts.fleet import T0, fleet_catalog, sync

RULE = AlertRule(
    name="slow", kind="ttft_baseline", threshold=2, half_life_s=60, baseline_half_life_s=3600
)


def row(
    eid: int, ts: float, ttft_ms: float = 100.0, ok: bool = True, id_: int | None = None
) -> dict:
    data = Observation(
        eid, datetime.fromtimestamp(ts, UTC), Source.PROBE, ok, ttft_ms=ttft_ms
    ).to_row()
    if id_ is not None:
        data["id"] = id_
    return data


def insert(engine: Engine, *rows: dict) -> None:
    with engine.begin() as conn:
        conn.execute(ObservationRow.__table__.insert(), list(rows))


def feed(engine: Engine) -> StatsFeed:
    return StatsFeed(engine, rules=[RULE], warmup_s=1800, settle_s=30)


def test_row_committed_late_with_a_lower_id_is_still_read_once(sqlite_url: str) -> None:
    from signalbox.db import make_engine

    engine = make_engine(sqlite_url)
    eid = sync(engine, fleet_catalog())["alpha"]
    f = feed(engine)
    f.warm(T0, [eid])
    insert(engine, row(eid, T0 + 1, id_=100))
    assert f.poll(T0 + 2) == 1
    insert(engine, row(eid, T0 + 1, id_=50))  # an id handed out earlier, committed later
    assert f.poll(T0 + 5) == 1
    assert f.poll(T0 + 10) == 0
    assert f.rows_read == 2
    engine.dispose()


def test_warm_reads_only_the_window_and_finds_older_last_success(engine: Engine) -> None:
    eid = sync(engine, fleet_catalog())["alpha"]
    insert(engine, row(eid, T0 - 7200), row(eid, T0 - 60, ok=False))
    f = feed(engine)
    assert f.warm(T0, [eid]) == 1
    inp = f.rule_input(eid, RULE, T0)
    assert inp.last_ok_ts == T0 - 7200
    assert inp.samples < 1.1


def test_baseline_takes_only_observations_older_than_the_lag(engine: Engine) -> None:
    eid = sync(engine, fleet_catalog())["alpha"]
    insert(engine, *[row(eid, T0 - 1200 + 10 * i, ttft_ms=100.0) for i in range(108)])
    f = feed(engine)
    f.warm(T0 - 120, [eid])
    insert(engine, *[row(eid, T0 - 120 + 10 * i, ttft_ms=400.0) for i in range(12)])
    f.poll(T0)
    inp = f.rule_input(eid, RULE, T0)
    assert inp.ttft_p50_ms is not None and inp.ttft_p50_ms > 300  # current: the slow minutes
    assert inp.baseline_ttft_p50_ms is not None and inp.baseline_ttft_p50_ms < 120
