"""A sample of routing decisions goes to the ``decision`` table, batched off the request path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert

from signalbox.routing.select import Decision
from signalbox.schema import Decision as DecisionRow

log = logging.getLogger(__name__)


def ranking_json(decision: Decision) -> list[dict[str, Any]]:
    """The ranking as the JSON records of ``/v1/route`` (without the price)."""
    out = []
    for r in decision.ranking:
        s = r.candidate.snapshot
        out.append(
            {
                "provider": r.provider,
                "score": round(r.score, 4),
                "ttft_ms": None if s.ttft_p50_ms is None else round(s.ttft_p50_ms, 1),
                "tps": None if s.tps_p50 is None else round(s.tps_p50, 1),
                "error_rate": round(s.error_rate, 4),
                "samples": round(s.samples, 2),
                "age_s": None if s.age_s is None else round(s.age_s, 1),
                "state": r.state,
            }
        )
    return out


class DecisionLog:
    """Samples decisions at ``rate`` (capped at ``max_per_s``) and writes them in batches every
    ``interval_s``."""

    def __init__(
        self,
        engine: Engine | None,
        rate: float,
        endpoint_ids: dict[str, int],
        interval_s: float = 1.0,
        max_pending: int = 10_000,
        rng: Callable[[], float] = random.random,
        max_per_s: int = 50,
    ) -> None:
        self.engine = engine
        self.rate = rate
        self.endpoint_ids = endpoint_ids
        self.interval_s = interval_s
        self.rng = rng
        self.max_per_s = max_per_s
        self._second = 0
        self._in_second = 0
        self.pending: deque[tuple[Decision, str, float]] = deque(maxlen=max_pending)
        self.written = 0
        self._task: asyncio.Task[None] | None = None

    def record(self, decision: Decision, source: str, now: float) -> None:
        """Keep the decision with probability ``rate``, at most ``max_per_s`` a second (O(1): the
        row is built off the request path, at flush)."""
        if self.engine is None or self.rate <= 0 or self.rng() >= self.rate:
            return
        second = int(now)
        if second != self._second:
            self._second, self._in_second = second, 0
        if self._in_second >= self.max_per_s:
            return
        self._in_second += 1
        self.pending.append((decision, source, now))

    def _row(self, decision: Decision, source: str, now: float) -> dict[str, Any]:
        chosen = decision.chosen
        return {
            "ts": datetime.fromtimestamp(now, UTC),
            "model": decision.model,
            "objective": str(decision.objective),
            "endpoint_id": self.endpoint_ids.get(chosen.candidate.key) if chosen else None,
            "reason": decision.reason[:1000],
            "ranking": ranking_json(decision),
            "source": source,
        }

    def flush_sync(self) -> int:
        """Write everything pending in one transaction (rows stay pending on failure)."""
        if not self.pending or self.engine is None:
            return 0
        taken = list(self.pending)
        rows = [self._row(*item) for item in taken]
        with self.engine.begin() as conn:
            conn.execute(insert(DecisionRow.__table__), rows)
        for _ in taken:
            self.pending.popleft()
        self.written += len(rows)
        return len(rows)

    async def start(self) -> None:
        """Begin flushing in the background."""
        self._task = asyncio.create_task(self._loop(), name="decision-log")

    async def close(self) -> None:
        """Flush what is pending (best effort) and stop."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.flush_sync)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await asyncio.to_thread(self.flush_sync)
            except Exception as exc:
                log.warning("cannot write sampled decisions (%s); keeping them", type(exc).__name__)
