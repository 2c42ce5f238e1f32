"""Leader election: of several scheduler processes on one store, exactly one leads.

The leader runs the singleton jobs (alert evaluation, rollups, retention). Every candidate calls
:meth:`Leader.check` once per interval; it acquires leadership when free, confirms it when held,
and returns whether this process leads now. ``release`` hands it over at shutdown.

- PostgreSQL: a session-level ``pg_try_advisory_lock`` held on a dedicated connection. The lock
  lives as long as that session: if the process dies, the server ends the session and frees the
  lock, and another candidate takes it at its next check (within one interval).
- SQLite (one machine, several processes): a row in the ``lease`` table with an expiry, renewed at
  each check; a dead holder's lease lapses after ``lease_s``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, delete, text, update

from signalbox.db import upsert_insert
from signalbox.schema import Lease

log = logging.getLogger(__name__)

DEFAULT_NAME = "signalbox-leader"


class Leader(Protocol):
    """One candidate in a leader election."""

    name: str
    holder: str

    @property
    def is_leader(self) -> bool:
        """Whether the last check found this process leading."""
        ...

    async def check(self) -> bool:
        """Acquire or confirm leadership; True when this process leads now."""
        ...

    async def release(self) -> None:
        """Give leadership up (if held) and free resources."""
        ...


def default_holder() -> str:
    """A name for this process: host, pid and a random suffix (unique across restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def lock_key(name: str) -> int:
    """The signed 64-bit advisory lock key of an election name."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class _Threaded:
    """Runs blocking database calls on one private thread (a connection stays on its thread),
    and keeps and logs what the last check found."""

    name: str
    holder: str

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leader")
        self.closed = False
        self._leading = False

    @property
    def is_leader(self) -> bool:
        """Whether the last check found this process leading."""
        return self._leading

    def _settle(self, leading: bool) -> bool:
        """Record a check's outcome (logging a change of hands) and return it."""
        if leading != self._leading:
            log.info(
                "%s %s leadership of %s", self.holder, "took" if leading else "lost", self.name
            )
        self._leading = leading
        return leading

    async def _call(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _shutdown(self) -> None:
        self.closed = True
        self._executor.shutdown(wait=False)


class AdvisoryLockLeader(_Threaded):
    """PostgreSQL: leadership is a session-level advisory lock on a dedicated connection."""

    def __init__(self, engine: Engine, name: str = DEFAULT_NAME, *, holder: str | None = None):
        super().__init__()
        self._engine = engine
        self.name = name
        self.holder = holder or default_holder()
        self.key = lock_key(name)
        self._conn: Connection | None = None

    async def check(self) -> bool:
        """Try the lock (when not held) or confirm the session holding it is alive."""
        if self.closed:
            return False
        return self._settle(await self._call(self._check))

    def _check(self) -> bool:
        try:
            if self._leading and self._conn is not None:
                # The lock lasts as long as the session: a live session still holds it.
                self._conn.execute(text("SELECT 1"))
                return True
            if self._conn is None:
                self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = self._conn.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
            ).scalar()
            return bool(got)
        except Exception as exc:
            log.warning("leader check for %s failed: %s", self.name, type(exc).__name__)
            self._drop_connection()
            return False

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()  # never return a session that may hold the lock to the pool
                self._conn.close()
            except Exception:  # the connection is already broken; nothing more to free
                log.debug("closing a broken leader connection failed", exc_info=True)
            self._conn = None

    async def release(self) -> None:
        """Unlock and close the dedicated connection (a second call does nothing)."""
        if self.closed:
            return
        await self._call(self._release)
        if self._leading:
            log.info("%s released leadership of %s", self.holder, self.name)
        self._leading = False
        self._shutdown()

    def _release(self) -> None:
        if self._conn is None:
            return
        try:
            if self._leading:
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        except Exception as exc:  # the session ending frees the lock anyway
            log.warning("advisory unlock of %s failed: %s", self.name, type(exc).__name__)
        self._drop_connection()


class LeaseLeader(_Threaded):
    """Any database: leadership is an expiring row in the ``lease`` table, renewed at each check."""

    def __init__(
        self,
        engine: Engine,
        name: str = DEFAULT_NAME,
        *,
        holder: str | None = None,
        lease_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._engine = engine
        self.name = name
        self.holder = holder or default_holder()
        self.lease_s = lease_s
        self._clock = clock

    async def check(self) -> bool:
        """Renew the lease if held, take it if free or lapsed; True when this process leads."""
        if self.closed:
            return False
        try:
            leading = await self._call(self._check)
        except Exception as exc:
            log.warning("lease check for %s failed: %s", self.name, type(exc).__name__)
            leading = False
        return self._settle(leading)

    def _check(self) -> bool:
        now = datetime.fromtimestamp(self._clock(), UTC)
        expires = now + timedelta(seconds=self.lease_s)
        table = Lease.__table__
        with self._engine.begin() as conn:
            # Each statement is atomic on its own: renew/take-over, else insert if absent.
            taken = conn.execute(
                update(table)
                .where(
                    table.c.name == self.name,
                    (table.c.holder == self.holder) | (table.c.expires_at < now),
                )
                .values(holder=self.holder, expires_at=expires)
            ).rowcount
            if taken:
                return True
            inserted = conn.execute(  # rowcount is not reliable for inserts: ask for the row
                upsert_insert(conn, table)
                .values(name=self.name, holder=self.holder, expires_at=expires)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(table.c.name)
            ).first()
            return inserted is not None

    async def release(self) -> None:
        """Delete the lease if this process holds it, so another takes over at its next check."""
        if self.closed:
            return
        try:
            await self._call(self._release)
        except Exception as exc:  # the lease lapses on its own
            log.warning("lease release of %s failed: %s", self.name, type(exc).__name__)
        if self._leading:
            log.info("%s released leadership of %s", self.holder, self.name)
        self._leading = False
        self._shutdown()

    def _release(self) -> None:
        table = Lease.__table__
        with self._engine.begin() as conn:
            conn.execute(
                delete(table).where(table.c.name == self.name, table.c.holder == self.holder)
            )


def make_leader(
    engine: Engine,
    name: str = DEFAULT_NAME,
    *,
    holder: str | None = None,
    lease_s: float = 60.0,
    clock: Callable[[], float] = time.time,
) -> Leader:
    """An advisory-lock leader on PostgreSQL, a lease leader elsewhere (SQLite).

    ``lease_s`` (SQLite only) should be about two check intervals: a dead holder is replaced
    within ``lease_s`` plus one interval; a live one renews well before expiry.
    """
    if engine.dialect.name == "postgresql":
        return AdvisoryLockLeader(engine, name, holder=holder)
    return LeaseLeader(engine, name, holder=holder, lease_s=lease_s, clock=clock)
