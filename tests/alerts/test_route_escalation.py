"""The ``route_escalation_rate`` kind: a route's decayed escalation rate from the route_decision
table fires after ``for_s`` above threshold, notifies once, and resolves, on both databases."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from signalbox.alerts.evaluator import AlertEvaluator
from signalbox.alerts.notify import RetryPolicy
from signalbox.alerts.routes import bucket_weight, route_counts, route_input
from signalbox.alerts.rules import ALERT_KINDS, ROUTE, Condition, RuleInput, evaluate
from signalbox.catalog import AlertRule, Catalog
from signalbox.cli.alerts import query_alerts, render
from signalbox.schema import Alert, RouteDecision
from tests.alerts.fleet import (
    OUTAGE_RULE,
    T0,
    FakeClock,
    Receiver,
    fleet_catalog,
    sync,
    webhook_toml,
)

STEP_S = 10.0
FAST = RetryPolicy(max_attempts=6, base_s=0.01, max_s=0.05, budget_s=5.0)
RULE_TOML = """
[[alert]]
name = "support_escalating"
kind = "route_escalation_rate"
threshold = 0.3
for_s = 60
min_samples = 10
half_life_s = 120
"""
RULE = AlertRule(
    name="esc", kind="route_escalation_rate", threshold=0.3, min_samples=10, half_life_s=120
)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as c:
        yield c


def decide(engine: Engine, route: str, ts: float, *, escalated: bool) -> None:
    """One routed request as the router records it: a trigger when it escalated."""
    row = RouteDecision(
        uid=uuid.uuid4(),
        ts=datetime.fromtimestamp(ts, UTC),
        route=route,
        objective="balanced",
        path=["small", "large"] if escalated else ["small"],
        trigger="invalid_json" if escalated else None,
        attempts=[],
        final_model="large" if escalated else "small",
        outcome="escalated" if escalated else "ok",
        latency_ms=100.0,
    )
    with Session(engine) as session:
        session.add(row)
        session.commit()


class Traffic:
    """Routes receiving ``per_step`` decisions every step, each escalating with its share."""

    def __init__(self, engine: Engine, **shares: float) -> None:
        self.engine = engine
        self.shares = shares
        self.rng = random.Random(3)

    def step(self, ts: float, per_step: int = 4) -> None:
        for route, share in self.shares.items():
            for i in range(per_step):
                decide(self.engine, route, ts - i, escalated=self.rng.random() < share)


async def run_for(
    seconds: float, traffic: Traffic, clock: FakeClock, evaluator: AlertEvaluator
) -> None:
    for _ in range(round(seconds / STEP_S)):
        clock.advance(STEP_S)
        traffic.step(clock())
        await evaluator.evaluate_once()


def make_evaluator(
    engine: Engine, catalog: Catalog, clock: FakeClock, client: httpx.AsyncClient
) -> AlertEvaluator:
    return AlertEvaluator(engine, catalog, clock=clock, http_client=client, env={}, retry=FAST)


def alerts(engine: Engine) -> list[Alert]:
    with Session(engine) as session:
        return list(session.exec(select(Alert).order_by(Alert.id)).all())


# -- pure -----------------------------------------------------------------------------------------


def test_the_kind_watches_routes() -> None:
    assert ALERT_KINDS["route_escalation_rate"].scope == ROUTE


def _input(samples: float, rate: float | None) -> RuleInput:
    return RuleInput(T0, samples, 0.0, None, None, None, None, escalation_rate=rate, route="r")


def test_too_few_decisions_say_nothing() -> None:
    assert evaluate(RULE, _input(9.0, 0.9)).condition is Condition.UNKNOWN


def test_a_rate_above_threshold_breaches_and_a_firing_one_needs_the_margin_to_clear() -> None:
    breach = evaluate(RULE, _input(50.0, 0.35))
    assert breach.condition is Condition.BREACH and breach.value == pytest.approx(0.35)
    assert "route r: escalation rate 35.0%" in breach.reason
    assert evaluate(RULE, _input(50.0, 0.25)).condition is Condition.OK
    assert evaluate(RULE, _input(50.0, 0.28), firing=True).condition is Condition.BREACH


def test_bucket_weights_are_the_mean_decay_over_each_bucket() -> None:
    # a quarter of a half-life per bucket: the four of a half-life weigh as its mean, four times
    whole = sum(bucket_weight(k) for k in range(4)) / 4
    assert whole == pytest.approx(0.5 / math.log(2))
    assert bucket_weight(4) == pytest.approx(bucket_weight(0) / 2)


def test_older_decisions_weigh_less(engine: Engine) -> None:
    old = [T0 - 250 + i for i in range(40)]  # escalated about two half-lives (240 s) ago
    new = [T0 - 10 - i * 0.1 for i in range(40)]  # fine just now
    for ts in old:
        decide(engine, "support", ts, escalated=True)
    for ts in new:
        decide(engine, "support", ts, escalated=False)
    decide(engine, "other", T0 - 5, escalated=True)
    decide(engine, "support", T0 - 5000, escalated=True)  # past the lookback: not read
    counts = route_counts(engine, 120.0, T0)
    assert set(counts) == {"support", "other"}
    assert sum(n for n, _ in counts["support"]) == 80
    inp = route_input("support", counts["support"], T0)
    w_old, w_new = (sum(2 ** (-(T0 - ts) / 120) for ts in tss) for tss in (old, new))
    assert inp.escalation_rate == pytest.approx(w_old / (w_old + w_new), abs=0.015)
    assert inp.samples == pytest.approx(w_old + w_new, rel=0.05)


# -- end to end over the store and a webhook receiver ---------------------------------------------


async def test_escalation_rate_fires_once_and_resolves_once_per_route(
    engine: Engine, receiver: Receiver, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    catalog = fleet_catalog(RULE_TOML, webhook_toml("oncall", receiver.url))
    sync(engine, catalog)
    evaluator = make_evaluator(engine, catalog, clock, client)
    traffic = Traffic(engine, support=0.1, triage=0.05)
    await run_for(600, traffic, clock, evaluator)
    assert alerts(engine) == []

    traffic.shares["support"] = 0.7  # the expensive path quietly becomes the default
    start = clock()
    while not any(a.state == "firing" for a in alerts(engine)) and clock() < start + 900:
        await run_for(STEP_S, traffic, clock, evaluator)
    (row,) = alerts(engine)
    assert row.state == "firing" and row.route == "support" and row.endpoint_id is None
    assert row.firing_at is not None
    assert (row.firing_at - row.started_at).total_seconds() >= 60  # for_s held
    await run_for(300, traffic, clock, evaluator)  # still escalating: no repeat

    (firing,) = receiver.by_status("firing", "support_escalating")
    (alert,) = firing["alerts"]
    assert alert["labels"] == {
        "alertname": "support_escalating",
        "route": "support",
        "kind": "route_escalation_rate",
        "severity": "warning",
    }
    assert float(alert["annotations"]["value"]) > 0.3
    assert alert["annotations"]["summary"] == "support_escalating firing on route support"

    traffic.shares["support"] = 0.1
    await run_for(900, traffic, clock, evaluator)
    (resolved,) = receiver.by_status("resolved", "support_escalating")
    assert resolved["alerts"][0]["fingerprint"] == alert["fingerprint"]
    assert len(receiver.messages) == 2
    (row,) = alerts(engine)
    assert row.state == "resolved" and row.notified_firing and row.notified_resolved


async def test_route_alerts_live_beside_endpoint_alerts_and_leave_with_their_rule(
    engine: Engine, receiver: Receiver, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    hook = webhook_toml("oncall", receiver.url, fmt="slack")
    catalog = fleet_catalog(RULE_TOML.replace("for_s = 60", "for_s = 0"), hook)
    sync(engine, catalog)
    evaluator = make_evaluator(engine, catalog, clock, client)
    traffic = Traffic(engine, support=0.9, triage=0.9)
    await run_for(120, traffic, clock, evaluator)
    assert sorted((a.route, a.state) for a in alerts(engine)) == [
        ("support", "firing"),
        ("triage", "firing"),
    ]
    (message,) = receiver.by_status("firing")
    assert "route support" in message["text"] and "route triage" in message["text"]

    evaluator.reload(fleet_catalog(OUTAGE_RULE, hook))  # the rule leaves: its alerts resolve
    await run_for(STEP_S, traffic, clock, evaluator)
    assert {a.state for a in alerts(engine)} == {"resolved"}


def test_the_store_refuses_a_second_open_alert_for_one_rule_and_route(engine: Engine) -> None:
    now = datetime.fromtimestamp(T0, UTC)
    with Session(engine) as session:
        for route in ("a", "b"):
            session.add(Alert(rule="r", route=route, state="firing", started_at=now))
        session.commit()
        session.add(Alert(rule="r", route="a", state="pending", started_at=now))
        with pytest.raises(IntegrityError):
            session.commit()


def test_the_alerts_command_lists_a_route_alert(engine: Engine) -> None:
    now = datetime.fromtimestamp(T0, UTC)
    with Session(engine) as session:
        session.add(Alert(rule="esc", route="support", state="firing", started_at=now))
        session.commit()
    (item,) = query_alerts(engine, None)
    assert item["endpoint"] == "route support"
    assert "route support" in render(query_alerts(engine, None), now, "24h")
