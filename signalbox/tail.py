"""The one reader that follows the ``observation`` table: warm from a time window, then poll by id.

Ids are handed out before commit, so a row can become visible after a higher id was read (on
PostgreSQL, a slower transaction commits later), and an id may never appear at all (an insert that
rolled back). The tail remembers every id it stepped over as a *gap*, with the time it was first
missed, and asks for the open gaps along with the new ids on every poll; a gap still empty after
``settle_s`` was a rollback and is forgotten. Every follower (the router's ``StoreFollower``, the
alerts' ``StatsFeed``) reads through this, so both handle late rows the same, tested, way.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, or_, select

from signalbox.records import SAMPLE_COLUMNS, Sample
from signalbox.schema import Observation

_T = Observation.__table__
_COLS = (_T.c.id, _T.c.uid, _T.c.endpoint_id, *(_T.c[name] for name in SAMPLE_COLUMNS))
BATCH = 5000
SETTLE_S = 30.0  # a gap open this long was a rolled-back insert, not a slow commit
MAX_GAPS = 10_000  # past this many open gaps, further ones are not tracked (a rollback storm)
GAPS_PER_POLL = 1000


@dataclass(frozen=True, slots=True)
class TailRow:
    """One stored observation as followers use it."""

    id: int
    uid: uuid.UUID
    endpoint_id: int
    sample: Sample


def _row(r: object) -> TailRow:
    mapping = r._mapping  # type: ignore[attr-defined]
    return TailRow(mapping["id"], mapping["uid"], mapping["endpoint_id"], Sample.from_row(mapping))


class ObservationTail:
    """Position in the ``observation`` table of one follower. ``now`` arguments are the caller's
    clock (seconds), used only to age gaps."""

    def __init__(
        self,
        engine: Engine,
        *,
        settle_s: float = SETTLE_S,
        batch: int = BATCH,
        max_gaps: int = MAX_GAPS,
    ) -> None:
        self.engine = engine
        self.settle_s = settle_s
        self.batch = batch
        self.max_gaps = max_gaps
        self.reset()

    def reset(self) -> None:
        """Forget the position (the next :meth:`warm` starts clean)."""
        self.last_id = 0  # every id up to here was read or is an open gap
        self.gaps: dict[int, float] = {}  # id -> when it was first missed
        self.behind = False  # the last poll returned a full batch: more are waiting

    def warm(self, since_ts: float, now: float) -> Iterator[TailRow]:
        """Every row whose time is at or after ``since_ts`` (epoch seconds), in id order; polling
        then starts after the newest id in the table, with the ids skipped among the rows read
        as open gaps (a transaction that had not committed yet)."""
        self.reset()
        since = datetime.fromtimestamp(since_ts, UTC)
        top = 0
        with self.engine.connect() as conn:
            rows = conn.execution_options(yield_per=self.batch).execute(
                select(*_COLS).where(_T.c.ts >= since).order_by(_T.c.id)
            )
            for r in rows:
                row = _row(r)
                if top:
                    self._missed(top, row.id, now)
                top = row.id
                yield row
            newest = conn.execute(select(func.max(_T.c.id))).scalar()
        self.last_id = max(top, newest or 0)

    def poll(self, now: float) -> list[TailRow]:
        """Rows that became visible since the last read: new ids (at most ``batch``) and filled
        gaps, in id order."""
        gaps = self.gaps
        for gap, missed_at in list(gaps.items()):
            if now - missed_at >= self.settle_s:
                del gaps[gap]
        cond = _T.c.id > self.last_id
        if gaps:
            cond = or_(cond, _T.c.id.in_(list(gaps)[:GAPS_PER_POLL]))
        with self.engine.connect() as conn:
            found = conn.execute(select(*_COLS).where(cond).order_by(_T.c.id).limit(self.batch))
            rows = [_row(r) for r in found]
        for row in rows:
            if row.id > self.last_id:
                self._missed(self.last_id, row.id, now)
                self.last_id = row.id
            else:
                gaps.pop(row.id, None)
        self.behind = len(rows) >= self.batch
        return rows

    def _missed(self, below: int, above: int, now: float) -> None:
        """Open a gap for every id strictly between two ids read one after the other."""
        gaps = self.gaps
        for missing in range(below + 1, above):
            if len(gaps) >= self.max_gaps:
                return
            gaps.setdefault(missing, now)
