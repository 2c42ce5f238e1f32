"""The store's tables (docs/architecture.md §3), as SQLModel classes. Alembic's revisions build them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlmodel import Field, SQLModel

# SQLite only autoincrements INTEGER PRIMARY KEY; BIGINT elsewhere.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on every database: SQLite keeps naive text, so restore the zone on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Signalbox stores UTC-aware timestamps only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Provider(SQLModel, table=True):
    """A hosting provider, synced from the catalog. Keys are never stored, only the env var name."""

    __tablename__ = "provider"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), unique=True, nullable=False))
    base_url: str
    api: str = Field(sa_column=Column(String(20), nullable=False))
    region: str | None = None
    enabled: bool = True


class Endpoint(SQLModel, table=True):
    """One (provider, canonical model) pair; disabled, never deleted, when it leaves the catalog."""

    __tablename__ = "endpoint"
    __table_args__ = (UniqueConstraint("provider_id", "model", name="uq_endpoint_provider_model"),)
    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    model: str = Field(sa_column=Column(String(200), nullable=False, index=True))
    upstream_model: str
    price_input_per_mtok: float | None = None
    price_output_per_mtok: float | None = None
    price_source: str | None = Field(default=None, sa_column=Column(String(20)))
    enabled: bool = True


class Observation(SQLModel, table=True):
    """One probe or proxied request and its metrics (docs/architecture.md §2)."""

    __tablename__ = "observation"
    __table_args__ = (
        Index("ix_observation_endpoint_ts", "endpoint_id", "ts"),
        UniqueConstraint("uid", name="uq_observation_uid"),
    )
    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True))
    uid: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    endpoint_id: int = Field(foreign_key="endpoint.id")
    ts: datetime = Field(sa_column=_ts())
    source: str = Field(sa_column=Column(String(10), nullable=False))
    region: str | None = None
    probe_shape: str | None = None
    ok: bool
    error_class: str | None = Field(default=None, sa_column=Column(String(20)))
    http_status: int | None = None
    ttft_ms: float | None = None
    ttfa_ms: float | None = None
    connect_ms: float | None = None
    tps: float | None = None
    itl_ms: float | None = None
    itl_p90_ms: float | None = None
    e2e_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    tokens_estimated: bool = False
    cost_usd: float | None = None
    loop_lag_ms: float | None = None


class _RollupBase(SQLModel):
    """Per endpoint, source and time bucket: counts, quantiles and sums for each metric."""

    endpoint_id: int = Field(primary_key=True)
    bucket: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    source: str = Field(sa_type=String(10), primary_key=True)
    n: int = 0
    ok_n: int = 0
    ttft_p50_ms: float | None = None
    ttft_p90_ms: float | None = None
    ttft_p99_ms: float | None = None
    tps_p50: float | None = None
    tps_p90: float | None = None
    e2e_p50_ms: float | None = None
    itl_p50_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class Observation1m(_RollupBase, table=True):
    """Minute rollup of ``observation``."""

    __tablename__ = "observation_1m"


class Observation1h(_RollupBase, table=True):
    """Hour rollup of ``observation``."""

    __tablename__ = "observation_1h"


class Alert(SQLModel, table=True):
    """One alert's lifecycle, keyed by (rule, endpoint) while open, or by (rule, route) for a
    rule on a route (``endpoint_id`` null): pending → firing → resolved."""

    __tablename__ = "alert"
    __table_args__ = (
        Index("ix_alert_rule_endpoint_state", "rule", "endpoint_id", "state"),
        Index(
            "uq_alert_open_rule_endpoint",
            "rule",
            "endpoint_id",
            unique=True,
            postgresql_where=text("state IN ('pending', 'firing')"),
            sqlite_where=text("state IN ('pending', 'firing')"),
        ),
        Index(
            "uq_alert_open_rule_route",
            "rule",
            "route",
            unique=True,
            postgresql_where=text("state IN ('pending', 'firing')"),
            sqlite_where=text("state IN ('pending', 'firing')"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(sa_column=Column(String(100), nullable=False))
    endpoint_id: int | None = Field(default=None, foreign_key="endpoint.id", nullable=True)
    route: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    state: str = Field(sa_column=Column(String(10), nullable=False, index=True))
    severity: str = "warning"
    started_at: datetime = Field(sa_column=_ts())
    firing_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    resolved_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    value: float | None = None
    threshold: float | None = None
    reason: str | None = None
    last_notified_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    notified_firing: bool = False
    notified_resolved: bool = False


class AlertDelivery(SQLModel, table=True):
    """One attempt to deliver one alert notification to one webhook."""

    __tablename__ = "alert_delivery"
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    webhook: str
    status: str  # "firing" or "resolved": which notification
    attempt: int
    ts: datetime = Field(sa_column=_ts())
    ok: bool
    http_status: int | None = None
    error: str | None = None


class Decision(SQLModel, table=True):
    """A sampled routing decision and the ranking it was made from."""

    __tablename__ = "decision"
    __table_args__ = (Index("ix_decision_model_ts", "model", "ts"),)
    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True))
    ts: datetime = Field(sa_column=_ts())
    model: str
    objective: str
    endpoint_id: int | None = Field(default=None, foreign_key="endpoint.id")
    reason: str
    ranking: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = "route"  # "route" (GET /v1/route) or "proxy"


class RouteDecision(SQLModel, table=True):
    """One routed request (a catalog route or a per-request ``models`` list): the models tried in
    order, the trigger that escalated and why, every attempt, and the outcome (issue #18).

    Written in batches by the router off the request path; ``uid`` makes replays idempotent. The
    console's Routes page reads these columns.
    """

    __tablename__ = "route_decision"
    __table_args__ = (
        Index("ix_route_decision_route_ts", "route", "ts"),
        UniqueConstraint("uid", name="uq_route_decision_uid"),
    )
    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True))
    uid: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    ts: datetime = Field(sa_column=_ts())  # request start, UTC
    route: str = Field(sa_column=Column(String(200), nullable=False))  # or "(request)"
    objective: str = Field(sa_column=Column(String(20), nullable=False))
    path: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    trigger: str | None = Field(default=None, sa_column=Column(String(30)))
    trigger_detail: str | None = None
    attempts: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    final_model: str | None = Field(default=None, sa_column=Column(String(200)))
    final_provider: str | None = Field(default=None, sa_column=Column(String(100)))
    outcome: str = Field(sa_column=Column(String(10), nullable=False))  # ok | escalated | failed
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None  # null when no attempt's price is known
    latency_ms: float
    ttft_ms: float | None = None  # to the app's first byte; null when nothing was served
    stream: bool = False
    buffered: bool = False
    prompt_tokens_estimated: bool = False


class Lease(SQLModel, table=True):
    """A named, expiring lease (leader election and work splitting on any database)."""

    __tablename__ = "lease"
    name: str = Field(primary_key=True)
    holder: str
    expires_at: datetime = Field(sa_column=_ts())


class ProbeSpend(SQLModel, table=True):
    """Probe spending per UTC day, so a restart does not reset the daily budget."""

    __tablename__ = "probe_spend"
    day: str = Field(primary_key=True)  # YYYY-MM-DD, UTC
    cost_usd: float = 0.0


class RollupMark(SQLModel, table=True):
    """How far rollups have read the observation table by id, to find rows that arrived late.

    Rollups recompute the buckets of a recent window by time; a row written long after its
    ``ts`` (a router replaying its spill file after a store outage) falls behind that window.
    Its id, assigned on insert, is past the mark, which finds it.
    """

    __tablename__ = "rollup_mark"
    name: str = Field(primary_key=True)
    last_id: int = Field(sa_column=Column(BigInteger, nullable=False))
