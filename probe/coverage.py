"""Traffic coverage: endpoints that served live traffic just now need no scheduled probe.

A proxied request is a measurement too (the router records it as a ``traffic`` observation): an
endpoint that answered one successfully within the last probe interval is measured already, so its
scheduled probe is skipped. That saves the probe's cost, and it keeps probes from loading a
provider the router is filling to its capacity, which the router cannot see from its own count of
requests in flight (routing benchmark, ``saturate``: a probe every 2 s on a provider of capacity 4
cost Signalbox 5 to 10 points against the oracle). Stale, broken or unused endpoints have no fresh
successful traffic and are probed as before; so is every endpoint when the store cannot be read.

Coverage comes from the store, so every router's traffic counts, with no router address to
configure. :meth:`TrafficCoverage.refresh` runs one query (off the probe loop, on a thread);
:meth:`TrafficCoverage.covered` is a dictionary read that the probe loop can afford.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from signalbox.records import Source
from signalbox.schema import Observation

log = logging.getLogger(__name__)

_T = Observation.__table__


class TrafficCoverage:
    """When each endpoint last served successful traffic, as of the last refresh."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._last_ok: dict[int, float] = {}  # endpoint id -> epoch seconds
        self._failing = False

    def refresh(self, window_s: float, now: datetime | None = None) -> None:
        """Read the newest successful traffic observation of each endpoint in the last
        ``window_s``. A failed read keeps what was known: those times only age, so coverage
        lapses by itself within one window and probing resumes."""
        now = now or datetime.now(UTC)
        since = now - timedelta(seconds=window_s)
        stmt = (
            select(_T.c.endpoint_id, func.max(_T.c.ts))
            .where(_T.c.ts >= since, _T.c.source == Source.TRAFFIC, _T.c.ok.is_(True))
            .group_by(_T.c.endpoint_id)
        )
        try:
            with self._engine.connect() as conn:
                rows = conn.execute(stmt).all()
        except Exception as exc:  # the store is down: probe everything soon, say so once
            if not self._failing:
                log.warning("cannot read traffic coverage (%s); probing as scheduled", exc)
            self._failing = True
            return
        self._failing = False
        self._last_ok = {int(eid): _epoch(ts) for eid, ts in rows if ts is not None}

    def covered(self, endpoint_id: int, now_s: float, window_s: float) -> bool:
        """Whether ``endpoint_id`` served successful traffic in the ``window_s`` before ``now_s``."""
        lapses = self.lapses_at(endpoint_id, window_s)
        return lapses is not None and now_s < lapses

    def lapses_at(self, endpoint_id: int, window_s: float) -> float | None:
        """When ``endpoint_id``'s newest known successful traffic becomes ``window_s`` old (epoch
        seconds), or None when it has none."""
        last = self._last_ok.get(endpoint_id)
        return None if last is None else last + window_s


def _epoch(ts: datetime) -> float:
    # SQLite hands back naive datetimes; every timestamp in the store is UTC
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()
