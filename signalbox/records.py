"""Typed records that cross package boundaries: one observation, its source and error class, and
the :class:`Sample` of it that statistics consume."""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Source(StrEnum):
    """Where an observation came from."""

    PROBE = "probe"
    TRAFFIC = "traffic"


class ErrorClass(StrEnum):
    """Every way a request to a provider can fail (docs/architecture.md §2). Nothing else invents
    error strings."""

    CONNECT = "connect"
    TIMEOUT_TTFT = "timeout_ttft"
    TIMEOUT_TOTAL = "timeout_total"
    HTTP_4XX = "http_4xx"
    RATE_LIMITED = "rate_limited"
    HTTP_5XX = "http_5xx"
    STREAM_ERROR = "stream_error"
    STREAM_BROKEN = "stream_broken"
    TRUNCATED = "truncated"
    EMPTY = "empty"


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): unique key for idempotent writes, index-friendly."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def utcnow() -> datetime:
    """The current UTC wall time, timezone-aware."""
    return datetime.now(UTC)


@dataclass(slots=True)
class Observation:
    """One probe or one proxied request, with the metrics of docs/architecture.md §2.

    ``uid`` makes writes idempotent: the writer may retry a batch whose commit outcome it could not
    see, and the store keeps one row per uid.
    """

    endpoint_id: int
    ts: datetime
    source: Source
    ok: bool
    error_class: ErrorClass | None = None
    http_status: int | None = None
    region: str | None = None
    probe_shape: str | None = None
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
    uid: uuid.UUID = field(default_factory=uuid7)

    def to_row(self) -> dict[str, Any]:
        """A plain dict with the column names of the ``observation`` table."""
        row = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        row["source"] = str(self.source)
        row["error_class"] = str(self.error_class) if self.error_class else None
        return row

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (for the writer's spill file and for HTTP)."""
        row = self.to_row()
        row["ts"] = self.ts.isoformat()
        row["uid"] = str(self.uid)
        return row

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Observation:
        """Inverse of :meth:`to_json`."""
        data = dict(data)
        data["ts"] = datetime.fromisoformat(data["ts"])
        data["uid"] = uuid.UUID(data["uid"])
        data["source"] = Source(data["source"])
        data["error_class"] = ErrorClass(data["error_class"]) if data.get("error_class") else None
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Sample:
    """What statistics consume from one observation (``ts`` in epoch seconds): the router, the
    alerts and replay all fold these, built by :meth:`of` or :meth:`from_row` and nothing else."""

    ts: float
    ok: bool
    source: str = Source.PROBE
    error_class: str | None = None
    ttft_ms: float | None = None
    tps: float | None = None
    e2e_ms: float | None = None
    itl_ms: float | None = None

    @classmethod
    def of(cls, obs: Observation) -> Sample:
        """The sample of an observation taken in this process."""
        return cls(
            obs.ts.timestamp(),
            obs.ok,
            obs.source,
            obs.error_class,
            obs.ttft_ms,
            obs.tps,
            obs.e2e_ms,
            obs.itl_ms,
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Sample:
        """The sample of a stored row holding :data:`SAMPLE_COLUMNS` (``ts`` a UTC datetime)."""
        return cls(
            row["ts"].timestamp(),
            bool(row["ok"]),
            row["source"],
            row["error_class"],
            row["ttft_ms"],
            row["tps"],
            row["e2e_ms"],
            row["itl_ms"],
        )


# The ``observation`` columns a reader selects to build Samples: written here once.
SAMPLE_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Sample))
