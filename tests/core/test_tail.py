"""The store tail: warm from a window, then every row once by id, including rows committed after a
higher id (a late commit) and ids that never appear (a rollback), on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert

from signalbox.catalog import parse_catalog
from signalbox.db import make_engine
from signalbox.records import ErrorClass, Observation, Sample, Source
from signalbox.schema import Observation as ObservationRow
from signalbox.sync import sync_catalog
from signalbox.tail import ObservationTail
from tests.core.factories import CATALOG_TOML

T0 = 1_800_000_000.0
INSERT = insert(ObservationRow.__table__)


def endpoint_id(engine: Engine) -> int:
    return sync_catalog(engine, parse_catalog(CATALOG_TOML)).endpoint_ids[
        ("alpha", "llama-3.1-70b")
    ]


def row(eid: int, ts: float, ok: bool = True, id_: int | None = None, **metrics: float) -> dict:
    obs = Observation(
        eid,
        datetime.fromtimestamp(ts, UTC),
        Source.PROBE if ok else Source.TRAFFIC,
        ok,
        error_class=None if ok else ErrorClass.HTTP_5XX,
        **metrics,
    )
    data = obs.to_row()
    if id_ is not None:
        data["id"] = id_
    return data


def ids(rows: object) -> list[int]:
    return [r.id for r in rows]  # type: ignore[attr-defined]


def test_warm_reads_the_window_then_each_new_row_once_as_samples(engine: Engine) -> None:
    eid = endpoint_id(engine)
    with engine.begin() as conn:
        conn.execute(INSERT, [row(eid, T0 - 7200), row(eid, T0 - 60, ttft_ms=120.0, tps=40.0)])
    tail = ObservationTail(engine)
    warmed = list(tail.warm(T0 - 1800, T0))
    assert [r.sample for r in warmed] == [Sample(T0 - 60, True, "probe", None, 120.0, 40.0)]
    assert warmed[0].endpoint_id == eid
    assert tail.poll(T0) == []
    stored = row(eid, T0 + 1, ok=False, e2e_ms=900.0, itl_ms=12.0)
    with engine.begin() as conn:
        conn.execute(INSERT, [stored])
    (new,) = tail.poll(T0 + 1)
    assert new.uid == stored["uid"] and new.id > warmed[0].id
    assert new.sample == Sample(T0 + 1, False, "traffic", "http_5xx", None, None, 900.0, 12.0)
    assert tail.poll(T0 + 2) == []


def test_a_lower_id_committed_after_a_higher_one_is_read_once(engine: Engine) -> None:
    eid = endpoint_id(engine)
    tail = ObservationTail(engine, settle_s=30)
    assert list(tail.warm(T0 - 60, T0)) == []
    with engine.begin() as conn:
        conn.execute(INSERT, [row(eid, T0, id_=100)])
    assert ids(tail.poll(T0 + 1)) == [100]
    with engine.begin() as conn:  # an id handed out earlier, committed later
        conn.execute(INSERT, [row(eid, T0, id_=50)])
    assert ids(tail.poll(T0 + 5)) == [50]
    assert tail.poll(T0 + 6) == []
    assert 50 not in tail.gaps and 49 in tail.gaps


def test_a_gap_that_never_fills_is_forgotten_after_settle_s(engine: Engine) -> None:
    eid = endpoint_id(engine)
    tail = ObservationTail(engine, settle_s=30)
    list(tail.warm(T0 - 60, T0))
    with engine.begin() as conn:
        conn.execute(INSERT, [row(eid, T0, id_=10), row(eid, T0, id_=12)])
    assert ids(tail.poll(T0)) == [10, 12]
    assert 11 in tail.gaps
    assert tail.poll(T0 + 29) == [] and 11 in tail.gaps
    assert tail.poll(T0 + 30) == [] and tail.gaps == {}
    with engine.begin() as conn:  # too late: a rolled-back id is not waited for forever
        conn.execute(INSERT, [row(eid, T0, id_=11)])
    assert tail.poll(T0 + 31) == []


def test_a_full_batch_says_more_are_waiting(engine: Engine) -> None:
    eid = endpoint_id(engine)
    tail = ObservationTail(engine, batch=2)
    list(tail.warm(T0 - 60, T0))
    with engine.begin() as conn:
        conn.execute(INSERT, [row(eid, T0 + i) for i in range(5)])
    read = []
    while True:
        read += tail.poll(T0)
        if not tail.behind:
            break
    assert [r.sample.ts for r in read] == [T0 + i for i in range(5)]


@pytest.fixture
def pg_engine(fresh_pg_url: str) -> Iterator[Engine]:
    eng = make_engine(fresh_pg_url)
    yield eng
    eng.dispose()


def test_postgres_late_commit_is_read_once_and_a_rollback_forgotten(pg_engine: Engine) -> None:
    eid = endpoint_id(pg_engine)
    with pg_engine.begin() as conn:
        conn.execute(INSERT, [row(eid, T0 - 10)])
    tail = ObservationTail(pg_engine, settle_s=30)
    assert len(list(tail.warm(T0 - 60, T0))) == 1
    # given a transaction that holds the next id and has not committed
    slow = pg_engine.connect()
    slow_tx = slow.begin()
    slow.execute(INSERT, [row(eid, T0 + 1)])
    # and one that rolls back the id after it
    doomed = pg_engine.connect()
    doomed_tx = doomed.begin()
    doomed.execute(INSERT, [row(eid, T0 + 2)])
    doomed_tx.rollback()
    doomed.close()
    # when a later insert commits first
    with pg_engine.begin() as conn:
        conn.execute(INSERT, [row(eid, T0 + 3)])
    first = tail.poll(T0 + 3)
    assert [r.sample.ts for r in first] == [T0 + 3]
    assert len(tail.gaps) == 2
    # then the slow commit is read once when it lands
    slow_tx.commit()
    slow.close()
    assert [r.sample.ts for r in tail.poll(T0 + 4)] == [T0 + 1]
    assert tail.poll(T0 + 5) == []
    # and the rolled-back id is given up after settle_s
    assert len(tail.gaps) == 1
    assert tail.poll(T0 + 3 + 30) == [] and tail.gaps == {}


def test_postgres_warm_keeps_an_uncommitted_id_among_the_window_as_a_gap(
    pg_engine: Engine,
) -> None:
    eid = endpoint_id(pg_engine)
    with pg_engine.begin() as conn:
        conn.execute(INSERT, [row(eid, T0 - 10)])
    slow = pg_engine.connect()
    slow_tx = slow.begin()
    slow.execute(INSERT, [row(eid, T0 - 5)])
    with pg_engine.begin() as conn:
        conn.execute(INSERT, [row(eid, T0 - 1)])
    tail = ObservationTail(pg_engine)
    assert [r.sample.ts for r in tail.warm(T0 - 60, T0)] == [T0 - 10, T0 - 1]
    slow_tx.commit()
    slow.close()
    assert [r.sample.ts for r in tail.poll(T0)] == [T0 - 5]
