"""One routed request as a record (issue #18): what the ``route_decision`` table stores, the
batched writer spills as a JSON line and the console's Routes page reads."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from signalbox.records import uuid7


@dataclass(frozen=True, slots=True)
class RouteDecisionRecord:
    """The route, the models called in order, the trigger that escalated first (``trigger``; every
    escalation's why in ``trigger_detail``), each attempt (model, provider, outcome, tokens, cost,
    ttft), the outcome (``ok`` | ``escalated`` | ``failed``) and the totals over every attempt."""

    ts: datetime
    route: str
    objective: str
    path: list[str]
    trigger: str | None
    trigger_detail: str | None
    attempts: list[dict[str, Any]]
    final_model: str | None
    final_provider: str | None
    outcome: str
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    latency_ms: float
    ttft_ms: float | None
    stream: bool
    buffered: bool
    prompt_tokens_estimated: bool
    uid: uuid.UUID = field(default_factory=uuid7)

    def to_row(self) -> dict[str, Any]:
        """The ``route_decision`` row."""
        row = asdict(self)
        row["trigger_detail"] = (self.trigger_detail or "")[:2000] or None
        return row

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for the writer's spill file)."""
        row = asdict(self)
        row["ts"] = self.ts.isoformat()
        row["uid"] = str(self.uid)
        return row

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RouteDecisionRecord:
        """Back from :meth:`to_json`."""
        data = dict(data)
        data["ts"] = datetime.fromisoformat(data["ts"])
        data["uid"] = uuid.UUID(data["uid"])
        return cls(**data)
