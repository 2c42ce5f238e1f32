"""Rollups and retention: minute and hour summaries of raw observations, and raw-row expiry.

``run_rollups(engine, now)`` recomputes every bucket from the last one it wrote (or from
``now - lookback``, whichever is earlier) up to ``now`` and upserts it, so running it twice changes
nothing and late observations (a writer flushing after an outage) land in their bucket on the next
run within ``lookback``. Rows that arrive later than that (a router replaying its spill file after
a long store outage) are found by id: each run reads the rows inserted since the run before last
(``rollup_mark``), and any that fall before the window get their own buckets recomputed.
Quantiles are linear-interpolated percentiles over the bucket's non-null
values, on either database: PostgreSQL computes them in SQL (``percentile_cont``), SQLite through
polars. ``expire_raw`` deletes raw rows older than the retention once they are rolled up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from signalbox.db import upsert_insert
from signalbox.schema import Observation, Observation1h, Observation1m, RollupMark

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

# Rollup column -> (raw column, quantile); ``None`` quantile means a sum.
QUANTILES: dict[str, tuple[str, float]] = {
    "ttft_p50_ms": ("ttft_ms", 0.5),
    "ttft_p90_ms": ("ttft_ms", 0.9),
    "ttft_p99_ms": ("ttft_ms", 0.99),
    "tps_p50": ("tps", 0.5),
    "tps_p90": ("tps", 0.9),
    "e2e_p50_ms": ("e2e_ms", 0.5),
    "itl_p50_ms": ("itl_ms", 0.5),
}
SUMS = ("input_tokens", "output_tokens", "cost_usd")
ROLLUP_COLUMNS = ("n", "ok_n", *QUANTILES, *SUMS)
# A run reads the ids inserted since the run before last, not since the last: on PostgreSQL an id
# is taken at insert but visible at commit, so a smaller id of a writer whose transaction was
# still open at the last run can appear after that run passed it.
MARK_LAST = "late:last"
MARK_BEFORE_LAST = "late:before-last"


@dataclass(frozen=True, slots=True)
class Rollup:
    """One rollup table and its bucket width."""

    table: type[Observation1m] | type[Observation1h]
    width: timedelta

    @property
    def name(self) -> str:
        """The table name (``observation_1m`` or ``observation_1h``)."""
        return str(self.table.__tablename__)


MINUTELY = Rollup(Observation1m, MINUTE)
HOURLY = Rollup(Observation1h, HOUR)


@dataclass(frozen=True, slots=True)
class RollupReport:
    """What one :func:`run_rollups` call did: buckets upserted per table and the ranges covered."""

    upserted: dict[str, int]
    since: dict[str, datetime | None]
    late_buckets: dict[str, int]


def floor_ts(ts: datetime, width: timedelta) -> datetime:
    """``ts`` rounded down to a multiple of ``width`` since the epoch (UTC)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    step = int(width.total_seconds())
    seconds = int((ts.astimezone(UTC) - epoch).total_seconds())
    return epoch + timedelta(seconds=seconds - seconds % step)


def aggregate_frame(raw: pl.DataFrame, width: timedelta) -> pl.DataFrame:
    """Raw observation rows → one row per (endpoint_id, bucket, source) with the rollup columns.

    ``raw`` needs ``endpoint_id``, ``ts`` (UTC datetime), ``source``, ``ok`` and the metric columns.
    Pure, so it is tested without a database.
    """
    every = f"{int(width.total_seconds())}s"
    aggs = [
        pl.len().alias("n"),
        pl.col("ok").cast(pl.Int64).sum().alias("ok_n"),
        *[
            pl.col(col).drop_nulls().quantile(q, interpolation="linear").alias(name)
            for name, (col, q) in QUANTILES.items()
        ],
        pl.col("input_tokens").fill_null(0).sum().cast(pl.Int64).alias("input_tokens"),
        pl.col("output_tokens").fill_null(0).sum().cast(pl.Int64).alias("output_tokens"),
        pl.col("cost_usd").fill_null(0.0).sum().cast(pl.Float64).alias("cost_usd"),
    ]
    return (
        raw.with_columns(pl.col("ts").dt.truncate(every).alias("bucket"))
        .group_by("endpoint_id", "bucket", "source")
        .agg(aggs)
        .sort("endpoint_id", "bucket", "source")
    )


def _last_bucket(engine: Engine, rollup: Rollup) -> datetime | None:
    with engine.connect() as conn:
        return conn.execute(select(func.max(rollup.table.bucket))).scalar()


def _first_raw_ts(engine: Engine) -> datetime | None:
    with engine.connect() as conn:
        return conn.execute(select(func.min(Observation.ts))).scalar()


def _start(engine: Engine, rollup: Rollup, now: datetime, lookback: timedelta) -> datetime | None:
    """Where to recompute from: the last written bucket or ``now - lookback``, whichever is older;
    the first raw row when the table is empty."""
    last = _last_bucket(engine, rollup)
    if last is None:
        first = _first_raw_ts(engine)
        return None if first is None else floor_ts(first, rollup.width)
    return floor_ts(min(last, now - lookback), rollup.width)


_PG_UPSERT = """
INSERT INTO {table} (endpoint_id, bucket, source, {columns})
SELECT endpoint_id, to_timestamp(floor(extract(epoch FROM ts) / :step) * :step) AS bucket, source,
       count(*), count(*) FILTER (WHERE ok), {quantiles},
       coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), coalesce(sum(cost_usd), 0)
FROM observation
WHERE ts >= :start AND ts < :end
GROUP BY 1, 2, 3
ON CONFLICT (endpoint_id, bucket, source) DO UPDATE SET {updates}
"""


def _upsert_postgres(engine: Engine, rollup: Rollup, start: datetime, end: datetime) -> int:
    quantiles = ", ".join(
        f"percentile_cont({q}) WITHIN GROUP (ORDER BY {col})" for col, q in QUANTILES.values()
    )
    sql = _PG_UPSERT.format(
        table=rollup.name,
        columns=", ".join(ROLLUP_COLUMNS),
        quantiles=quantiles,
        updates=", ".join(f"{c} = excluded.{c}" for c in ROLLUP_COLUMNS),
    )
    params = {"step": int(rollup.width.total_seconds()), "start": start, "end": end}
    with engine.begin() as conn:
        return conn.execute(text(sql), params).rowcount or 0


_RAW_SCHEMA = {
    "endpoint_id": pl.Int64,
    "ts": pl.Datetime("us", "UTC"),
    "source": pl.String,
    "ok": pl.Boolean,
    "ttft_ms": pl.Float64,
    "tps": pl.Float64,
    "e2e_ms": pl.Float64,
    "itl_ms": pl.Float64,
    "input_tokens": pl.Int64,
    "output_tokens": pl.Int64,
    "cost_usd": pl.Float64,
}


def _upsert_polars(engine: Engine, rollup: Rollup, start: datetime, end: datetime) -> int:
    cols = [getattr(Observation, name) for name in _RAW_SCHEMA]
    stmt = select(*cols).where(Observation.ts >= start, Observation.ts < end)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    if not rows:
        return 0
    frame = aggregate_frame(pl.DataFrame(rows, schema=_RAW_SCHEMA, orient="row"), rollup.width)
    records = frame.to_dicts()
    table = rollup.table.__table__
    stmt = sqlite_insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["endpoint_id", "bucket", "source"],
        set_={c: getattr(stmt.excluded, c) for c in ROLLUP_COLUMNS},
    )
    with engine.begin() as conn:
        for i in range(0, len(records), 1000):
            conn.execute(stmt, records[i : i + 1000])
    return len(records)


def rollup_range(engine: Engine, rollup: Rollup, start: datetime, end: datetime) -> int:
    """Recompute and upsert every bucket of ``rollup`` with raw rows in ``[start, end)``, a day at
    a time (day boundaries are bucket boundaries), so a first run over long history stays bounded
    in memory and transaction size."""
    upsert = _upsert_postgres if engine.dialect.name == "postgresql" else _upsert_polars
    total = 0
    chunk_start = start
    while chunk_start < end:
        chunk_end = min(end, floor_ts(chunk_start, DAY) + DAY)
        total += upsert(engine, rollup, chunk_start, chunk_end)
        chunk_start = chunk_end
    return total


def run_rollups(
    engine: Engine,
    now: datetime,
    *,
    lookback_1m: timedelta = timedelta(minutes=10),
    lookback_1h: timedelta = timedelta(hours=2),
) -> RollupReport:
    """Fill ``observation_1m`` and ``observation_1h`` up to ``now`` (idempotent: an upsert), and
    recompute older buckets that rows inserted since the run before last fell into."""
    upserted: dict[str, int] = {}
    since: dict[str, datetime | None] = {}
    late_buckets: dict[str, int] = {}
    end = now + MINUTE  # include the current, partial bucket; the next run completes it
    last, before_last, top = _read_marks(engine)
    for rollup, lookback in ((MINUTELY, lookback_1m), (HOURLY, lookback_1h)):
        start = _start(engine, rollup, now, lookback)
        since[rollup.name] = start
        upserted[rollup.name] = 0 if start is None else rollup_range(engine, rollup, start, end)
        late = []
        if start is not None and before_last is not None and top is not None:
            late = _late_buckets(engine, rollup, before_last, top, start)
        late_buckets[rollup.name] = len(late)
        for bucket in late:
            upserted[rollup.name] += rollup_range(engine, rollup, bucket, bucket + rollup.width)
    if top is not None:
        _save_marks(engine, top, top if last is None else last)
    return RollupReport(upserted=upserted, since=since, late_buckets=late_buckets)


def _read_marks(engine: Engine) -> tuple[int | None, int | None, int | None]:
    """(the newest id at the last run, at the run before, now). Read before any rollup, so a row
    inserted during this run is read by the next."""
    with engine.connect() as conn:
        marks = {
            name: last_id
            for name, last_id in conn.execute(select(RollupMark.name, RollupMark.last_id))
        }
        top = conn.execute(select(func.max(Observation.id))).scalar()
    return marks.get(MARK_LAST), marks.get(MARK_BEFORE_LAST), top


def _late_buckets(
    engine: Engine, rollup: Rollup, after_id: int, top: int, before: datetime
) -> list[datetime]:
    """Buckets before ``before`` (the window just recomputed) holding rows with ids in
    ``(after_id, top]``."""
    stmt = select(Observation.ts).where(
        Observation.id > after_id, Observation.id <= top, Observation.ts < before
    )
    with engine.connect() as conn:
        return sorted({floor_ts(ts, rollup.width) for ts in conn.execute(stmt).scalars()})


def _save_marks(engine: Engine, last: int, before_last: int) -> None:
    stmt = upsert_insert(engine, RollupMark.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"], set_={"last_id": stmt.excluded.last_id}
    )
    with engine.begin() as conn:
        conn.execute(
            stmt,
            [
                {"name": MARK_LAST, "last_id": last},
                {"name": MARK_BEFORE_LAST, "last_id": before_last},
            ],
        )


def expire_raw(engine: Engine, older_than: datetime) -> int:
    """Delete raw observations with ``ts < older_than``; returns how many rows went.

    Call it after :func:`run_rollups`, with ``older_than`` well behind the rollups' reach, so no
    bucket loses rows it still needs.
    """
    with engine.begin() as conn:
        result = conn.execute(delete(Observation).where(Observation.ts < older_than))
        return result.rowcount or 0
