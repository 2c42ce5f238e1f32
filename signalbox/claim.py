"""Claiming named, expiring leases in one atomic statement (work splitting on any database).

Several processes sharing one store split recurring work by claiming a row of the ``lease`` table
before each run: the claim succeeds when the row is absent, expired, or already held by the same
holder, and then holds it until ``expires_at``. One ``INSERT … ON CONFLICT (name) DO UPDATE …
WHERE`` does it, so two claimants can never both win (PostgreSQL and SQLite alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, select

from signalbox.db import upsert_insert
from signalbox.schema import Lease


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who holds a lease and until when."""

    holder: str
    expires_at: datetime


def claim_lease(
    conn: Connection, name: str, holder: str, now: datetime, expires_at: datetime
) -> bool:
    """Take or renew lease ``name`` for ``holder`` until ``expires_at``; True when this call holds it.

    It is taken when no row exists, when the row expired (``expires_at <= now``) or when ``holder``
    holds it already; a live lease of another holder is left alone and False returned.
    """
    table = Lease.__table__
    stmt = upsert_insert(conn, table).values(name=name, holder=holder, expires_at=expires_at)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"holder": holder, "expires_at": expires_at},
        where=(table.c.expires_at <= now) | (table.c.holder == holder),
    ).returning(table.c.name)
    # rowcount is unreliable for upserts across drivers: a returned row means inserted or updated.
    return conn.execute(stmt).first() is not None


def lease_holder(conn: Connection, name: str) -> LeaseHolder | None:
    """The current holder of lease ``name`` (expired or not), or None when there is no row."""
    table = Lease.__table__
    row = conn.execute(
        select(table.c.holder, table.c.expires_at).where(table.c.name == name)
    ).first()
    return None if row is None else LeaseHolder(row[0], row[1])


def live_lease_counts(conn: Connection, prefix: str, now: datetime) -> dict[str, int]:
    """How many unexpired leases named ``prefix…`` each holder has."""
    table = Lease.__table__
    rows = conn.execute(
        select(table.c.holder, func.count())
        .where(table.c.name.startswith(prefix, autoescape=True), table.c.expires_at > now)
        .group_by(table.c.holder)
    )
    return {holder: count for holder, count in rows}


def release_lease(conn: Connection, name: str, holder: str) -> bool:
    """Delete lease ``name`` if ``holder`` holds it; True when it did."""
    table = Lease.__table__
    result = conn.execute(delete(table).where(table.c.name == name, table.c.holder == holder))
    return bool(result.rowcount)


def expire_leases(conn: Connection, lapsed_before: datetime) -> int:
    """Delete leases that expired before ``lapsed_before``; returns how many went.

    A lease nobody renews any more (a removed endpoint's probe claims, a dead worker's) would
    otherwise stay forever. Deleting a lapsed row is safe at any time: a claim inserts the row
    again when it is absent, and a lapsed row can be taken by anyone anyway.
    """
    table = Lease.__table__
    result = conn.execute(delete(table).where(table.c.expires_at < lapsed_before))
    return result.rowcount or 0
