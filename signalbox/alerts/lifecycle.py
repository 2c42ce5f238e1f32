"""The alert lifecycle: pending → firing → resolved, one open alert per (rule, endpoint), or per
(rule, route) for the kinds that watch a route (``endpoint_id`` null, ``route`` set).

:func:`advance` is pure: the open alert (if any) and a fresh evaluation give one :class:`Step`.
:func:`apply_steps` writes the steps to the ``alert`` table, which is the only state: a restarted
evaluator (or a new leader) reads the open alerts back and neither forgets one nor fires it twice.
A pending alert whose condition clears is dropped (as Prometheus does); a firing one is resolved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from signalbox.alerts.rules import Condition, Evaluation
from signalbox.catalog import AlertRule
from signalbox.schema import Alert

PENDING = "pending"
FIRING = "firing"
RESOLVED = "resolved"
OPEN_STATES = (PENDING, FIRING)


class Action(StrEnum):
    """What to do to the alert table for one (rule, endpoint)."""

    NONE = "none"
    OPEN_PENDING = "open_pending"
    OPEN_FIRING = "open_firing"  # a rule with for_s = 0 fires at once
    FIRE = "fire"
    UPDATE = "update"  # still pending or firing: refresh value and reason
    CANCEL = "cancel"  # pending, condition cleared: drop it
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """An alert row in a pending or firing state."""

    id: int
    rule: str
    endpoint_id: int | None
    state: str
    started_at: datetime
    route: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One change to apply for one (rule, endpoint)."""

    action: Action
    rule: str
    endpoint_id: int | None
    alert_id: int | None = None
    severity: str = "warning"
    value: float | None = None
    threshold: float | None = None
    reason: str = ""
    route: str | None = None


def advance(
    current: OpenAlert | None,
    evaluation: Evaluation,
    rule: AlertRule,
    endpoint_id: int | None,
    now: datetime,
    route: str | None = None,
) -> Step:
    """The next step for (rule, endpoint) — or (rule, route) — given its open alert and the
    latest evaluation.

    ``UNKNOWN`` (too little data) changes nothing: it neither starts, promotes nor resolves.
    """

    def step(action: Action) -> Step:
        return Step(
            action,
            rule.name,
            endpoint_id,
            None if current is None else current.id,
            rule.severity,
            evaluation.value,
            rule.threshold,
            evaluation.reason,
            route,
        )

    cond = evaluation.condition
    if current is None:
        if cond is not Condition.BREACH:
            return step(Action.NONE)
        return step(Action.OPEN_FIRING if rule.for_s <= 0 else Action.OPEN_PENDING)
    if cond is Condition.UNKNOWN:
        return step(Action.NONE)
    if current.state == PENDING:
        if cond is Condition.OK:
            return step(Action.CANCEL)
        held_s = (now - current.started_at).total_seconds()
        return step(Action.FIRE if held_s >= rule.for_s else Action.UPDATE)
    if cond is Condition.OK:
        return step(Action.RESOLVE)
    return step(Action.UPDATE)


def retire(current: OpenAlert, reason: str) -> Step:
    """Close an open alert whose rule left the catalog or whose endpoint was disabled."""
    action = Action.RESOLVE if current.state == FIRING else Action.CANCEL
    return Step(
        action, current.rule, current.endpoint_id, current.id, reason=reason, route=current.route
    )


def load_open_alerts(session: Session) -> dict[tuple[str, int], OpenAlert]:
    """Every pending or firing endpoint alert keyed by (rule, endpoint id); the oldest wins a
    duplicate."""
    out: dict[tuple[str, int], OpenAlert] = {}
    for alert in _open(session, routes=False):
        assert alert.endpoint_id is not None
        out.setdefault((alert.rule, alert.endpoint_id), alert)
    return out


def load_open_route_alerts(session: Session) -> dict[tuple[str, str], OpenAlert]:
    """Every pending or firing route alert keyed by (rule, route); the oldest wins a duplicate."""
    out: dict[tuple[str, str], OpenAlert] = {}
    for alert in _open(session, routes=True):
        assert alert.route is not None
        out.setdefault((alert.rule, alert.route), alert)
    return out


def _open(session: Session, *, routes: bool) -> list[OpenAlert]:
    about = col(Alert.route).is_not(None) if routes else col(Alert.route).is_(None)
    rows = session.exec(
        select(Alert).where(col(Alert.state).in_(OPEN_STATES), about).order_by(col(Alert.id))
    ).all()
    return [
        OpenAlert(row.id, row.rule, row.endpoint_id, row.state, row.started_at, row.route)  # type: ignore[arg-type]
        for row in rows
    ]


def apply_steps(session: Session, steps: Iterable[Step], now: datetime) -> dict[Action, int]:
    """Write the steps (the caller commits); returns how many of each action were applied.

    Updates are conditional on the state they expect, so a step computed from a stale read
    changes nothing rather than moving an alert twice.
    """
    counts: dict[Action, int] = {}
    for s in steps:
        if s.action is Action.NONE:
            continue
        applied = _apply(session, s, now)
        if applied:
            counts[s.action] = counts.get(s.action, 0) + 1
    return counts


def _apply(session: Session, s: Step, now: datetime) -> bool:
    if s.action in (Action.OPEN_PENDING, Action.OPEN_FIRING):
        firing = s.action is Action.OPEN_FIRING
        session.add(
            Alert(
                rule=s.rule,
                endpoint_id=s.endpoint_id,
                route=s.route,
                state=FIRING if firing else PENDING,
                severity=s.severity,
                started_at=now,
                firing_at=now if firing else None,
                value=s.value,
                threshold=s.threshold,
                reason=s.reason,
            )
        )
        session.flush()
        return True
    table = Alert.__table__
    where = table.c.id == s.alert_id
    if s.action is Action.CANCEL:
        result = session.execute(delete(table).where(where, table.c.state == PENDING))
        return result.rowcount > 0
    values: dict[str, object] = {"value": s.value, "reason": s.reason}
    if s.action is Action.FIRE:
        values |= {"state": FIRING, "firing_at": now}
        where = where & (table.c.state == PENDING)
    elif s.action is Action.RESOLVE:
        values |= {"state": RESOLVED, "resolved_at": now}
        where = where & (table.c.state == FIRING)
        if s.value is None:
            del values["value"]
    else:  # UPDATE
        where = where & table.c.state.in_(OPEN_STATES)
    result = session.execute(update(table).where(where).values(**values))
    return result.rowcount > 0
