"""The lifecycle: pure transitions, and their effect on the ``alert`` table (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from signalbox.alerts.lifecycle import (
    Action,
    OpenAlert,
    advance,
    apply_steps,
    load_open_alerts,
    retire,
)
from signalbox.alerts.rules import Condition, Evaluation
from signalbox.catalog import AlertRule
from signalbox.schema import Alert
from tests.alerts.fleet import fleet_catalog, sync

NOW = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)
RULE = AlertRule(name="down", kind="error_rate", threshold=0.3, for_s=60)
BREACH = Evaluation(Condition.BREACH, 0.8, "error rate 80%")
OK = Evaluation(Condition.OK, 0.01, "error rate 1%")
UNKNOWN = Evaluation(Condition.UNKNOWN, None, "too few samples")


def open_alert(state: str, age_s: float) -> OpenAlert:
    return OpenAlert(1, "down", 7, state, NOW - timedelta(seconds=age_s))


def test_breach_without_open_alert_opens_pending() -> None:
    assert advance(None, BREACH, RULE, 7, NOW).action is Action.OPEN_PENDING


def test_breach_with_zero_for_fires_at_once() -> None:
    instant = RULE.model_copy(update={"for_s": 0.0})
    assert advance(None, BREACH, instant, 7, NOW).action is Action.OPEN_FIRING


def test_pending_fires_once_breach_has_held_for_the_for_duration() -> None:
    assert advance(open_alert("pending", 59), BREACH, RULE, 7, NOW).action is Action.UPDATE
    assert advance(open_alert("pending", 60), BREACH, RULE, 7, NOW).action is Action.FIRE


def test_pending_is_dropped_when_condition_clears() -> None:
    assert advance(open_alert("pending", 30), OK, RULE, 7, NOW).action is Action.CANCEL


def test_firing_resolves_when_condition_clears() -> None:
    assert advance(open_alert("firing", 300), OK, RULE, 7, NOW).action is Action.RESOLVE


def test_unknown_changes_nothing_in_any_state() -> None:
    for current in (None, open_alert("pending", 600), open_alert("firing", 600)):
        assert advance(current, UNKNOWN, RULE, 7, NOW).action is Action.NONE


def test_retired_firing_alert_resolves_and_pending_is_cancelled() -> None:
    assert retire(open_alert("firing", 10), "gone").action is Action.RESOLVE
    assert retire(open_alert("pending", 10), "gone").action is Action.CANCEL


def test_a_full_lifecycle_is_one_row_that_ends_resolved(engine: Engine) -> None:
    ids = sync(engine, fleet_catalog())
    eid = ids["alpha"]
    t = NOW
    for evaluation, dt in ((BREACH, 0), (BREACH, 30), (BREACH, 60), (BREACH, 90), (OK, 120)):
        t = NOW + timedelta(seconds=dt)
        with Session(engine) as session:
            current = load_open_alerts(session).get(("down", eid))
            apply_steps(session, [advance(current, evaluation, RULE, eid, t)], t)
            session.commit()
    with Session(engine) as session:
        rows = session.exec(select(Alert)).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.state, row.started_at, row.firing_at, row.resolved_at) == (
        "resolved",
        NOW,
        NOW + timedelta(seconds=60),
        NOW + timedelta(seconds=120),
    )
    assert row.threshold == 0.3 and row.notified_firing is False


def test_stale_step_does_not_move_an_alert_twice(engine: Engine) -> None:
    ids = sync(engine, fleet_catalog())
    eid = ids["alpha"]
    with Session(engine) as session:
        apply_steps(
            session, [advance(None, BREACH, RULE.model_copy(update={"for_s": 0.0}), eid, NOW)], NOW
        )
        session.commit()
        current = load_open_alerts(session)[("down", eid)]
        resolve = advance(current, OK, RULE, eid, NOW)
        assert apply_steps(session, [resolve], NOW) == {Action.RESOLVE: 1}
        assert apply_steps(session, [resolve], NOW) == {}
        session.commit()
