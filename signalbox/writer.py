"""The batched writers shared by probe and router: nothing is lost to a database outage.

One mechanism, :class:`BatchWriter`, for every record kind that must survive an outage
(observations, and the router's route decisions); a :class:`RecordKind` says how a kind is
spilled to a line, read back and inserted. Records are queued in memory and written in batches (by size or time, whichever comes first)
from a worker thread, so callers never wait on the database. When the database is unreachable the
queue grows up to ``max_buffer``; past it new observations are appended to a local spill file, and
when the database returns the queue, then the file, are written in arrival order. Every row carries
a unique ``uid`` and inserts skip existing uids, so retrying a batch whose commit outcome was lost
cannot duplicate it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Generic, Protocol, TypeVar

import orjson
from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

from signalbox.records import Observation
from signalbox.route_record import RouteDecisionRecord
from signalbox.schema import Observation as ObservationRow
from signalbox.schema import RouteDecision as RouteDecisionRow

log = logging.getLogger(__name__)


class Storable(Protocol):
    """A record the writer can store and spill: a row, and a JSON line."""

    def to_row(self) -> dict[str, Any]: ...

    def to_json(self) -> dict[str, Any]: ...


T = TypeVar("T", bound=Storable)


def insert_idempotent(table: Table, engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Insert rows in one transaction, skipping uids already stored."""
    if not rows:
        return
    if engine.dialect.name == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=["uid"])
    elif engine.dialect.name == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["uid"])
    else:  # pragma: no cover - make_engine refuses other databases
        raise RuntimeError(f"unsupported dialect {engine.dialect.name}")
    with engine.begin() as conn:
        conn.execute(stmt, rows)


def insert_observations(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Insert observation rows in one transaction, skipping uids already stored."""
    insert_idempotent(ObservationRow.__table__, engine, rows)


def insert_route_decisions(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Insert route-decision rows in one transaction, skipping uids already stored."""
    insert_idempotent(RouteDecisionRow.__table__, engine, rows)


@dataclass(frozen=True, slots=True)
class RecordKind(Generic[T]):
    """How one kind of record is named in logs, read back from its spill line and inserted."""

    name: str
    from_json: Callable[[dict[str, Any]], T]
    insert: Callable[[Engine, list[dict[str, Any]]], None]


OBSERVATIONS: RecordKind[Observation] = RecordKind(
    "observations", Observation.from_json, insert_observations
)
ROUTE_DECISIONS: RecordKind[RouteDecisionRecord] = RecordKind(
    "route decisions", RouteDecisionRecord.from_json, insert_route_decisions
)


class BatchWriter(Generic[T]):
    """Batches records of one kind into the store; buffers, spills and replays across outages."""

    def __init__(
        self,
        engine: Engine,
        kind: RecordKind[T],
        *,
        batch_size: int = 500,
        flush_interval_s: float = 0.5,
        max_buffer: int = 50_000,
        spill_path: Path | None = None,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._engine = engine
        self._kind = kind
        self._batch_size = batch_size
        self._interval_s = flush_interval_s
        self._max_buffer = max_buffer
        self._spill_path = spill_path
        self._max_backoff_s = max_backoff_s
        self._buffer: deque[T] = deque()
        self._spill_out: IO[bytes] | None = None  # append handle while spilling
        self._spill_in: IO[bytes] | None = None  # read handle while draining
        self._spill_pending = 0
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-writer")
        self.submitted = 0
        self.written = 0
        self.spilled = 0
        self.failures = 0
        self.dropped = 0
        self.last_error: str | None = None

    @property
    def engine(self) -> Engine:
        """The store written to."""
        return self._engine

    @property
    def pending(self) -> int:
        """Records accepted but not yet stored (memory and spill file)."""
        return len(self._buffer) + self._spill_pending

    @property
    def healthy(self) -> bool:
        """False while the last write attempt failed."""
        return self.last_error is None

    async def start(self) -> None:
        """Start the background flusher; replay a spill file left by an earlier process."""
        if self._spill_path is not None and self._spill_path.exists():
            count = sum(1 for line in self._spill_path.open("rb") if line.strip())
            if count:
                log.warning(
                    "replaying %d spilled %s from %s", count, self._kind.name, self._spill_path
                )
                with self._spill_path.open("rb+") as fh:  # end a torn last line before appending
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        fh.write(b"\n")
                self._spill_pending = count
                self.submitted += count  # so that flush() waits for the replay too
                self._spill_out = self._spill_path.open("ab")
                self._spill_in = self._spill_path.open("rb")
            else:
                self._spill_path.unlink()
        self._task = asyncio.create_task(self._run(), name=f"writer: {self._kind.name}")

    def submit(self, obs: T) -> None:
        """Queue one record. Never blocks on the database and never raises."""
        self.submitted += 1
        if self._spill_out is None and len(self._buffer) >= self._max_buffer:
            self._begin_spill()
        if self._spill_out is not None:
            try:
                self._spill_out.write(orjson.dumps(obs.to_json()) + b"\n")
                self._spill_pending += 1
                self.spilled += 1
                return
            except OSError as exc:  # disk full: keep it in memory rather than drop it
                log.error("cannot spill %s to disk: %s", self._kind.name, exc.strerror)
        self._buffer.append(obs)
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    def _begin_spill(self) -> None:
        if self._spill_path is None:
            return  # no file configured: memory is the only buffer
        self._spill_path.parent.mkdir(parents=True, exist_ok=True)
        log.warning(
            "%s buffer full (%d); spilling to %s until the database catches up",
            self._kind.name,
            len(self._buffer),
            self._spill_path,
        )
        self._spill_out = self._spill_path.open("ab")
        self._spill_in = self._spill_path.open("rb")
        self._spill_in.seek(0, os.SEEK_END)  # only what is written from now on

    async def flush(self, timeout_s: float | None = None) -> None:
        """Wait until everything submitted before this call is stored."""
        target = self.submitted
        self._wake.set()
        async with self._progress:
            await asyncio.wait_for(
                self._progress.wait_for(lambda: self.written + self.dropped >= target), timeout_s
            )

    async def close(self, timeout_s: float = 10.0) -> None:
        """Flush what can be flushed within ``timeout_s``, then stop. What is left stays spilled."""
        try:
            await self.flush(timeout_s)
        except TimeoutError:
            log.error(
                "database still unreachable at shutdown; %d %s kept", self.pending, self._kind.name
            )
        self._closing = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._spill_buffer_to_disk()
        for handle in (self._spill_out, self._spill_in):
            if handle is not None:
                handle.close()
        self._executor.shutdown(wait=True)

    def _spill_buffer_to_disk(self) -> None:
        """At shutdown with the database down, move the memory queue in front of the file."""
        if self._spill_path is None or not self._buffer:
            if self._buffer:
                log.error(
                    "no spill file configured: %d %s lost", len(self._buffer), self._kind.name
                )
            return
        if self._spill_out is not None:
            self._spill_out.flush()
        tail = self._spill_path.read_bytes() if self._spill_path.exists() else b""
        if self._spill_in is not None:
            tail = tail[self._spill_in.tell() :]
        head = b"".join(orjson.dumps(o.to_json()) + b"\n" for o in self._buffer)
        tmp = self._spill_path.with_suffix(".tmp")
        tmp.write_bytes(head + tail)
        tmp.replace(self._spill_path)
        self._buffer.clear()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 0.1
        while not self._closing:
            if len(self._buffer) < self._batch_size and not self._spill_pending:
                try:
                    await asyncio.wait_for(self._wake.wait(), self._interval_s)
                except TimeoutError:
                    pass
            self._wake.clear()
            batch, from_file = self._next_batch()
            if not batch:
                continue
            rows = [obs.to_row() for obs in batch]
            try:
                await loop.run_in_executor(self._executor, self._kind.insert, self._engine, rows)
            except Exception as exc:
                self.failures += 1
                if self.last_error is None:
                    log.error(
                        "database write failed (%s); buffering %s", _short(exc), self._kind.name
                    )
                self.last_error = _short(exc)
                if from_file and self._spill_in is not None:
                    self._spill_in.seek(self._batch_start)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            if self.last_error is not None:
                log.info("database writes recovered; %d %s pending", self.pending, self._kind.name)
            self.last_error = None
            backoff = 0.1
            if from_file:
                self._spill_pending -= len(batch)
                self._finish_spill_if_drained()
            else:
                for _ in batch:
                    self._buffer.popleft()
            self.written += len(batch)
            async with self._progress:
                self._progress.notify_all()

    def _next_batch(self) -> tuple[list[T], bool]:
        if self._buffer:
            return list(_take(self._buffer, self._batch_size)), False
        if self._spill_in is None or self._spill_out is None:
            return [], False
        self._spill_out.flush()
        self._batch_start = self._spill_in.tell()
        batch: list[T] = []
        while len(batch) < self._batch_size:
            line = self._spill_in.readline()
            if not line:
                break
            if not line.strip():
                continue
            try:
                batch.append(self._kind.from_json(orjson.loads(line)))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                # Only a line torn by a crash mid-write can be unreadable; say so, never stall.
                log.error("skipping unreadable line in spill file %s", self._spill_path)
                self._spill_pending -= 1
                self.dropped += 1
        if not batch:
            self._finish_spill_if_drained()
        return batch, True

    def _finish_spill_if_drained(self) -> None:
        assert self._spill_in is not None and self._spill_out is not None
        self._spill_out.flush()
        if self._spill_in.tell() < os.fstat(self._spill_out.fileno()).st_size:
            return
        self._spill_in.close()
        self._spill_out.close()
        self._spill_in = self._spill_out = None
        self._spill_pending = 0
        assert self._spill_path is not None
        self._spill_path.unlink(missing_ok=True)
        log.info("spill file drained")


class ObservationWriter(BatchWriter[Observation]):
    """The observation writer of the probe and the router."""

    def __init__(self, engine: Engine, **options: Any) -> None:
        super().__init__(engine, OBSERVATIONS, **options)


class RouteDecisionWriter(BatchWriter[RouteDecisionRecord]):
    """The router's writer of route decisions (one per routed request)."""

    def __init__(self, engine: Engine, **options: Any) -> None:
        super().__init__(engine, ROUTE_DECISIONS, **options)


def _take(items: deque[T], n: int) -> list[T]:
    return [items[i] for i in range(min(n, len(items)))]


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
