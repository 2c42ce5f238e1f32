"""Rollups fill minute and hour buckets from raw observations, idempotently, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import Engine, func, insert, select

from signalbox.catalog import parse_catalog
from signalbox.rollup import (
    MINUTE,
    aggregate_frame,
    expire_raw,
    floor_ts,
    run_rollups,
)
from signalbox.schema import Observation, Observation1h, Observation1m
from signalbox.sync import sync_catalog
from tests.dashboard.seed import CATALOG_TOML

NOW = datetime(2026, 11, 25, 12, 30, 20, tzinfo=UTC)


def _endpoint(engine: Engine) -> int:
    return sync_catalog(engine, parse_catalog(CATALOG_TOML)).endpoint_ids[
        ("alpha", "llama-3.1-70b")
    ]


def _obs(endpoint_id: int, ts: datetime, ttft_ms: float | None, ok: bool = True, **kw) -> dict:
    row = {
        "uid": uuid.uuid4(),
        "endpoint_id": endpoint_id,
        "ts": ts,
        "source": kw.pop("source", "probe"),
        "ok": ok,
        "ttft_ms": ttft_ms,
        "tps": kw.pop("tps", 50.0),
        "output_tokens": kw.pop("output_tokens", 100),
        "input_tokens": 10,
        "cost_usd": kw.pop("cost_usd", 0.001),
        "tokens_estimated": False,
    }
    row.update(kw)
    return row


def _insert(engine: Engine, rows: list[dict]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Observation.__table__), rows)


def _rows(engine: Engine, table: type) -> list:
    with engine.connect() as conn:
        return conn.execute(select(table).order_by(table.bucket, table.source)).all()


def test_floor_ts_rounds_down_to_bucket_width() -> None:
    assert floor_ts(NOW, MINUTE) == datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
    assert floor_ts(NOW, timedelta(hours=1)) == datetime(2026, 11, 25, 12, tzinfo=UTC)


def test_aggregate_frame_computes_counts_quantiles_and_sums_per_bucket() -> None:
    # given four observations in one minute, one of them failed
    ts = [NOW - timedelta(seconds=s) for s in (1, 2, 3, 4)]
    raw = pl.DataFrame(
        {
            "endpoint_id": [1, 1, 1, 1],
            "ts": ts,
            "source": ["probe"] * 4,
            "ok": [True, True, True, False],
            "ttft_ms": [100.0, 200.0, 300.0, None],
            "tps": [10.0, 20.0, 30.0, None],
            "e2e_ms": [None] * 4,
            "itl_ms": [None] * 4,
            "input_tokens": [1, 1, 1, 1],
            "output_tokens": [5, 5, 5, None],
            "cost_usd": [0.5, 0.5, 0.5, None],
        },
        schema_overrides={
            "ts": pl.Datetime("us", "UTC"),
            "e2e_ms": pl.Float64,
            "itl_ms": pl.Float64,
        },
    )
    # when aggregated by minute
    out = aggregate_frame(raw, MINUTE).row(0, named=True)
    # then counts, linear percentiles over non-null values, and sums are right
    assert (out["n"], out["ok_n"]) == (4, 3)
    assert out["ttft_p50_ms"] == pytest.approx(200.0)
    assert out["ttft_p90_ms"] == pytest.approx(280.0)
    assert out["tps_p50"] == pytest.approx(20.0)
    assert out["e2e_p50_ms"] is None
    assert (out["output_tokens"], out["cost_usd"]) == (15, pytest.approx(1.5))


def test_run_rollups_fills_minute_and_hour_buckets_per_source(engine: Engine) -> None:
    # given observations in two minutes and two sources
    eid = _endpoint(engine)
    t0 = floor_ts(NOW, MINUTE) - timedelta(minutes=3)
    rows = [_obs(eid, t0 + timedelta(seconds=s), float(s)) for s in (0, 10, 20, 30, 40)]
    rows += [_obs(eid, t0 + timedelta(minutes=1, seconds=5), 500.0, source="traffic")]
    rows += [_obs(eid, t0 + timedelta(minutes=1, seconds=6), None, ok=False, source="traffic")]
    _insert(engine, rows)
    # when the rollups run
    run_rollups(engine, NOW)
    # then the minute table holds one row per (minute, source) with exact percentiles
    minute = _rows(engine, Observation1m)
    assert [(r.bucket, r.source, r.n, r.ok_n) for r in minute] == [
        (t0, "probe", 5, 5),
        (t0 + MINUTE, "traffic", 2, 1),
    ]
    assert minute[0].ttft_p50_ms == pytest.approx(20.0)
    assert minute[0].ttft_p90_ms == pytest.approx(36.0)
    assert minute[0].cost_usd == pytest.approx(0.005)
    assert minute[1].output_tokens == 200
    # and the hour table sums them into the hour
    hour = _rows(engine, Observation1h)
    assert [(r.source, r.n) for r in hour] == [("probe", 5), ("traffic", 2)]
    assert all(r.bucket == floor_ts(t0, timedelta(hours=1)) for r in hour)


def test_run_rollups_twice_changes_nothing(engine: Engine) -> None:
    eid = _endpoint(engine)
    _insert(engine, [_obs(eid, NOW - timedelta(seconds=s), 100.0 + s) for s in range(0, 600, 20)])
    run_rollups(engine, NOW)
    first = (_rows(engine, Observation1m), _rows(engine, Observation1h))
    run_rollups(engine, NOW)
    assert (_rows(engine, Observation1m), _rows(engine, Observation1h)) == first


def test_late_observation_updates_its_recent_bucket_on_next_run(engine: Engine) -> None:
    # given a rolled-up minute
    eid = _endpoint(engine)
    t = floor_ts(NOW, MINUTE) - timedelta(minutes=2)
    _insert(engine, [_obs(eid, t + timedelta(seconds=1), 100.0)])
    run_rollups(engine, NOW)
    # when a late observation for that minute arrives (writer flushing after an outage)
    _insert(engine, [_obs(eid, t + timedelta(seconds=2), 300.0)])
    run_rollups(engine, NOW + timedelta(minutes=1))
    # then the bucket is recomputed with both
    (row,) = _rows(engine, Observation1m)
    assert (row.n, row.ttft_p50_ms) == (2, pytest.approx(200.0))


def test_an_observation_hours_late_lands_in_its_old_buckets(engine: Engine) -> None:
    # given rollups that have run over hours of data
    eid = _endpoint(engine)
    old = floor_ts(NOW, MINUTE) - timedelta(hours=5)
    _insert(engine, [_obs(eid, old + timedelta(seconds=1), 100.0)])
    run_rollups(engine, NOW - timedelta(hours=4))
    _insert(engine, [_obs(eid, NOW - timedelta(seconds=30), 100.0)])
    report = run_rollups(engine, NOW)
    assert report.late_buckets == {"observation_1m": 0, "observation_1h": 0}
    # when a router replays rows from five hours ago (its spill file, after a store outage),
    # far behind both lookbacks
    _insert(engine, [_obs(eid, old + timedelta(seconds=s), 300.0) for s in (2, 70)])
    report = run_rollups(engine, NOW + MINUTE)
    # then their minutes and their hour are recomputed (at this run and the next: a writer's
    # transaction open during a run may commit smaller ids after it)
    assert report.late_buckets == {"observation_1m": 2, "observation_1h": 1}
    minutes = [(r.bucket, r.n) for r in _rows(engine, Observation1m)]
    assert minutes[:2] == [(old, 2), (old + MINUTE, 1)]
    hour = _rows(engine, Observation1h)[0]
    assert (hour.n, hour.ttft_p50_ms) == (3, pytest.approx(300.0))
    assert run_rollups(engine, NOW + 2 * MINUTE).late_buckets["observation_1m"] == 2
    assert run_rollups(engine, NOW + 3 * MINUTE).late_buckets["observation_1m"] == 0
    assert [(r.bucket, r.n) for r in _rows(engine, Observation1m)][:2] == minutes[:2]


def test_run_rollups_on_empty_store_writes_nothing(engine: Engine) -> None:
    report = run_rollups(engine, NOW)
    assert report.upserted == {"observation_1m": 0, "observation_1h": 0}
    assert report.late_buckets == {"observation_1m": 0, "observation_1h": 0}
    assert _rows(engine, Observation1m) == []


def test_rollups_backfill_whole_history_on_first_run(engine: Engine) -> None:
    # given raw rows spread over three days and no rollups yet
    eid = _endpoint(engine)
    _insert(engine, [_obs(eid, NOW - timedelta(hours=h), 100.0) for h in range(0, 72, 6)])
    # when the rollups run for the first time
    run_rollups(engine, NOW)
    # then every hour with data has its bucket
    assert len(_rows(engine, Observation1h)) == 12
    assert len(_rows(engine, Observation1m)) == 12


def test_expire_raw_deletes_only_older_rows_and_keeps_rollups(engine: Engine) -> None:
    eid = _endpoint(engine)
    _insert(engine, [_obs(eid, NOW - timedelta(days=d), 100.0) for d in (0, 1, 8, 9)])
    run_rollups(engine, NOW)
    deleted = expire_raw(engine, NOW - timedelta(days=7))
    with engine.connect() as conn:
        left = conn.execute(select(func.count()).select_from(Observation)).scalar()
    assert (deleted, left) == (2, 2)
    assert len(_rows(engine, Observation1h)) == 4
