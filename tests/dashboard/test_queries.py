"""Queries read the right table for each window, filter by source, and survive an empty store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import polars as pl
from sqlalchemy import Engine, insert

from signalbox.dashboard import queries
from signalbox.schema import Alert, Observation, Observation1m
from tests.dashboard.seed import MODEL, PROFILES, SILENT_PROVIDER, seed_store

NOW = datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)


def test_empty_store_gives_empty_frames(engine: Engine) -> None:
    eps = queries.endpoints(engine)
    assert eps.is_empty()
    assert queries.series(engine, eps, MODEL, "1h", "both", NOW).frame.is_empty()
    assert queries.series(engine, eps, MODEL, "30d", "both", NOW).frame.is_empty()
    assert queries.firing_alerts(engine, eps).is_empty()
    assert queries.decisions(engine, eps, MODEL, NOW - timedelta(days=1)).is_empty()


def test_every_window_has_each_provider_with_data(engine: Engine) -> None:
    seed_store(engine, NOW, hours=3)
    eps = queries.endpoints(engine)
    for window in ("15m", "1h", "24h", "7d", "30d"):
        data = queries.series(engine, eps, MODEL, window, "both", NOW).frame
        assert set(data["provider"].unique()) == set(PROFILES), window
        assert SILENT_PROVIDER not in set(data["provider"])


def test_short_windows_read_raw_rows_and_long_ones_the_rollups(engine: Engine) -> None:
    # given rollups only (raw rows expired) for one endpoint
    seed_store(engine, NOW, hours=0)
    eps = queries.endpoints(engine)
    eid = eps.filter((pl.col("provider") == "alpha") & (pl.col("model") == MODEL))["endpoint_id"][0]
    bucket = NOW.replace(second=0) - timedelta(minutes=5)
    with engine.begin() as conn:
        conn.execute(
            insert(Observation1m.__table__),
            [
                {
                    "endpoint_id": eid,
                    "bucket": bucket,
                    "source": "probe",
                    "n": 7,
                    "ok_n": 7,
                    "tps_p50": 55.0,
                    "input_tokens": 0,
                    "output_tokens": 70,
                    "cost_usd": 0.0,
                }
            ],
        )
    # then the 24h window shows them and the 1h window (raw) does not
    day = queries.series(engine, eps, MODEL, "24h", "both", NOW).frame
    assert day["n"].sum() == 7 and day["tps_p50"][0] == 55.0
    assert queries.series(engine, eps, MODEL, "1h", "both", NOW).frame.is_empty()


def test_source_filter_keeps_only_that_source(engine: Engine) -> None:
    seed_store(engine, NOW, hours=0)
    eps = queries.endpoints(engine)
    eid = int(eps["endpoint_id"][0])
    rows = [
        {
            "uid": uuid.uuid4(),
            "endpoint_id": eid,
            "ts": NOW - timedelta(seconds=i),
            "source": src,
            "ok": True,
            "tps": 10.0,
            "tokens_estimated": False,
        }
        for i, src in enumerate(["probe", "probe", "traffic"])
    ]
    with engine.begin() as conn:
        conn.execute(insert(Observation.__table__), rows)
    model = eps["model"][0]
    count = {
        src: queries.series(engine, eps, model, "15m", src, NOW).frame["n"].sum()
        for src in ("probe", "traffic", "both")
    }
    assert count == {"probe": 2, "traffic": 1, "both": 3}


def test_alerts_and_decisions_carry_provider_names(engine: Engine) -> None:
    seed_store(engine, NOW, hours=2)
    eps = queries.endpoints(engine)
    firing = queries.firing_alerts(engine, eps)
    assert firing["provider"].to_list() == ["charlie"]
    history = queries.alert_history(engine, eps, NOW)
    assert set(history["state"]) == {"firing", "resolved"}
    decided = queries.decisions(
        engine, eps, MODEL, NOW - timedelta(hours=1)
    )  # 5-min steps, ends included
    assert decided.height == 13 and set(decided["provider"]) <= set(PROFILES)


def test_a_route_alert_names_its_route_where_an_endpoint_alert_names_its_provider(
    engine: Engine,
) -> None:
    seed_store(engine, NOW, hours=2)
    row = {
        "rule": "route_escalation",
        "endpoint_id": None,
        "route": "extract",
        "state": "firing",
        "severity": "warning",
        "started_at": NOW - timedelta(minutes=20),
        "firing_at": NOW - timedelta(minutes=5),
        "value": 0.6,
        "threshold": 0.5,
        "reason": "route extract escalates 60% > 50% for 15m",
        "notified_firing": True,
        "notified_resolved": False,
    }
    with engine.begin() as conn:
        conn.execute(insert(Alert.__table__), [row])
    eps = queries.endpoints(engine)
    firing = queries.firing_alerts(engine, eps)
    by_rule = {r["rule"]: r for r in firing.iter_rows(named=True)}
    assert by_rule["route_escalation"]["provider"] == queries.ROUTE_ALERT_PROVIDER
    assert by_rule["route_escalation"]["model"] == "extract"
    assert by_rule["high-error-rate"]["provider"] == "charlie"
    assert by_rule["high-error-rate"]["model"] == MODEL


def test_last_seen_is_the_newest_observation_per_endpoint(engine: Engine) -> None:
    seed = seed_store(engine, NOW, hours=1)
    seen = {r["endpoint_id"]: r["last_ts"] for r in queries.last_seen(engine).iter_rows(named=True)}
    assert seen[seed.endpoint_ids[(SILENT_PROVIDER, MODEL)]] is None
    newest = seen[seed.endpoint_ids[("alpha", MODEL)]]
    assert NOW - timedelta(minutes=1) <= newest <= NOW
