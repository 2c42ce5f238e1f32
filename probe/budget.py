"""The daily USD budget for probes, persisted per UTC day in table ``probe_spend``.

Spending is counted on the probe loop (in memory, lock-protected); the main loop adds what was
spent since its last save to the day's row now and then, off the timing path, and takes back the
row's total. The row is shared: every probe worker adds to it, and each pauses when the total,
theirs and the others', reaches the budget (overshoot: at most what the workers spend between two
saves). When the day's budget is spent, probing pauses (logged once and shown as a metric) and
resumes at the next UTC midnight, when the count starts again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session

from signalbox.db import upsert_insert
from signalbox.records import utcnow
from signalbox.schema import ProbeSpend

log = logging.getLogger(__name__)


def utc_today() -> date:
    """Today's date in UTC."""
    return utcnow().date()


class Budget:
    """How much the probes spent today, against an optional daily limit."""

    def __init__(
        self,
        daily_usd: float | None,
        *,
        spent_usd: float = 0.0,
        today: Callable[[], date] = utc_today,
    ) -> None:
        self.daily_usd = daily_usd
        self._today = today
        self._day = today()
        self._spent = spent_usd  # the stored total at the last save, plus what is unsaved
        self._unsaved = 0.0
        self._lock = threading.Lock()
        self._paused_logged: date | None = None
        self.skipped = 0

    @property
    def day(self) -> date:
        """The UTC day being counted."""
        return self._day

    @property
    def spent_usd(self) -> float:
        """Spent so far on the current day."""
        with self._lock:
            self._roll()
            return self._spent

    @property
    def paused(self) -> bool:
        """Whether probing is paused because today's budget is spent."""
        with self._lock:
            self._roll()
            return self.daily_usd is not None and self._spent >= self.daily_usd

    def _roll(self) -> None:
        today = self._today()
        if today != self._day:
            if self._paused_logged is not None:
                log.info("new UTC day %s: probe budget reset, probing resumes", today)
            self._day, self._spent, self._unsaved, self._paused_logged = today, 0.0, 0.0, None

    def allow(self) -> bool:
        """True when a probe may run now; logs once per day when the budget stops probing."""
        if not self.paused:
            return True
        with self._lock:
            self.skipped += 1
            if self._paused_logged != self._day:
                self._paused_logged = self._day
                log.warning(
                    "probe budget spent: $%.4f of $%.4f for %s (UTC); probing paused until the"
                    " next UTC day",
                    self._spent,
                    self.daily_usd,
                    self._day,
                )
        return False

    def add(self, cost_usd: float | None) -> None:
        """Count one probe's cost."""
        if not cost_usd:
            return
        with self._lock:
            self._roll()
            self._spent += cost_usd
            self._unsaved += cost_usd

    def take_unsaved(self) -> tuple[date, float]:
        """The day and what was spent on it since the last take, for :func:`add_spend`."""
        with self._lock:
            self._roll()
            unsaved, self._unsaved = self._unsaved, 0.0
            return self._day, unsaved

    def stored(self, day: date, total_usd: float) -> None:
        """The day's stored total after a save (every worker's spending): count from there."""
        with self._lock:
            self._roll()
            if day == self._day:
                self._spent = total_usd + self._unsaved

    def unstored(self, day: date, cost_usd: float) -> None:
        """A save failed: what it took is unsaved again (so the next save carries it)."""
        with self._lock:
            self._roll()
            if day == self._day:
                self._unsaved += cost_usd

    def set_limit(self, daily_usd: float | None) -> None:
        """Change the daily limit (catalog reload)."""
        with self._lock:
            self.daily_usd = daily_usd


def load_spend(engine: Engine, day: date) -> float:
    """The stored spend of ``day`` (0 when none)."""
    with Session(engine) as session:
        row = session.get(ProbeSpend, day.isoformat())
        return row.cost_usd if row is not None else 0.0


def add_spend(engine: Engine, day: date, cost_usd: float) -> float:
    """Add ``cost_usd`` to the stored spend of ``day`` in one atomic statement (several workers
    add to the same row); returns the day's new total."""
    table = ProbeSpend.__table__
    stmt = upsert_insert(engine, table).values(day=day.isoformat(), cost_usd=cost_usd)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day"], set_={"cost_usd": table.c.cost_usd + stmt.excluded.cost_usd}
    ).returning(table.c.cost_usd)
    with engine.begin() as conn:
        return float(conn.execute(stmt).scalar_one())
