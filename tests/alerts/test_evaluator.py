"""The alert job end to end over loopback: store → rules → lifecycle → webhook receiver.

Observations are written as a prober would (one per endpoint every ``STEP_S``) with a fake clock,
and the evaluator runs after each step: the evaluation interval is ``STEP_S``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from signalbox.alerts.evaluator import AlertEvaluator
from signalbox.alerts.notify import RetryPolicy
from signalbox.catalog import Catalog
from signalbox.schema import Alert, AlertDelivery
from tests.alerts.fleet import (
    OUTAGE_RULE,
    TTFT_RULE,
    FakeClock,
    Fleet,
    Receiver,
    fleet_catalog,
    sync,
    webhook_toml,
)

STEP_S = 10.0
FAST = RetryPolicy(max_attempts=6, base_s=0.01, max_s=0.05, budget_s=5.0)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as c:
        yield c


def make_evaluator(
    engine: Engine, catalog: Catalog, clock: FakeClock, client: httpx.AsyncClient
) -> AlertEvaluator:
    return AlertEvaluator(
        engine,
        catalog,
        clock=clock,
        http_client=client,
        env={},
        retry=FAST,
    )


async def run_for(
    seconds: float, fleet: Fleet, clock: FakeClock, *evaluators: AlertEvaluator
) -> None:
    for _ in range(round(seconds / STEP_S)):
        clock.advance(STEP_S)
        fleet.observe(clock())
        for evaluator in evaluators:
            await evaluator.evaluate_once()


def alerts(engine: Engine) -> list[Alert]:
    with Session(engine) as session:
        return list(session.exec(select(Alert).order_by(Alert.id)).all())


async def test_outage_fires_once_within_for_plus_one_interval_and_resolves_once(
    engine: Engine, receiver: Receiver, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    catalog = fleet_catalog(OUTAGE_RULE, webhook_toml("oncall", receiver.url))
    fleet = Fleet(engine, sync(engine, catalog))
    evaluator = make_evaluator(engine, catalog, clock, client)
    await run_for(600, fleet, clock, evaluator)
    assert alerts(engine) == []

    fleet.behaviour["alpha"].ok = False
    outage_at = clock()
    pending_at = firing_at = None
    while firing_at is None and clock() < outage_at + 600:
        await run_for(STEP_S, fleet, clock, evaluator)
        states = {a.state for a in alerts(engine)}
        if "pending" in states and pending_at is None:
            pending_at = clock()
        if "firing" in states:
            firing_at = clock()
    assert pending_at is not None and firing_at is not None
    assert firing_at - pending_at <= 30 + STEP_S  # for_s plus one evaluation interval
    await run_for(180, fleet, clock, evaluator)  # still down: no repeat

    firing = receiver.by_status("firing", "provider_down")
    assert len(firing) == 1
    (alert,) = firing[0]["alerts"]
    assert alert["labels"]["endpoint"] == "alpha/llama-3.1-70b"
    assert alert["labels"]["severity"] == "critical"

    fleet.behaviour["alpha"].ok = True
    await run_for(600, fleet, clock, evaluator)
    assert len(receiver.by_status("resolved", "provider_down")) == 1
    assert len(receiver.messages) == 2
    (row,) = alerts(engine)
    assert row.state == "resolved" and row.notified_firing and row.notified_resolved


async def test_restart_neither_forgets_nor_resends_a_firing_alert(
    engine: Engine, receiver: Receiver, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    catalog = fleet_catalog(OUTAGE_RULE, webhook_toml("oncall", receiver.url))
    fleet = Fleet(engine, sync(engine, catalog))
    first = make_evaluator(engine, catalog, clock, client)
    await run_for(300, fleet, clock, first)
    fleet.behaviour["alpha"].ok = False
    await run_for(180, fleet, clock, first)
    assert len(receiver.by_status("firing")) == 1

    restarted = make_evaluator(engine, catalog, clock, client)  # empty memory, same store
    await run_for(120, fleet, clock, restarted)
    assert len(receiver.by_status("firing")) == 1
    assert [a.state for a in alerts(engine)] == ["firing"]

    fleet.behaviour["alpha"].ok = True
    await run_for(600, fleet, clock, restarted)
    assert len(receiver.by_status("resolved")) == 1
    assert len(receiver.messages) == 2


async def test_cold_start_with_default_rules_raises_no_alert(
    engine: Engine, receiver: Receiver, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    catalog = fleet_catalog(webhook_toml("oncall", receiver.url))  # no rules: the defaults
    fleet = Fleet(engine, sync(engine, catalog))
    fleet.behaviour["alpha"].ttft_ms = 5000.0  # slow from the start: that is its baseline
    evaluator = make_evaluator(engine, catalog, clock, client)
    await evaluator.evaluate_once()  # before any data
    await run_for(600, fleet, clock, evaluator)
    assert alerts(engine) == []
    assert receiver.messages == []


async def test_degradation_ramp_fires_the_ttft_baseline_rule_not_the_error_rule(
    engine: Engine, receiver: Receiver, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    catalog = fleet_catalog(OUTAGE_RULE, TTFT_RULE, webhook_toml("oncall", receiver.url))
    fleet = Fleet(engine, sync(engine, catalog))
    evaluator = make_evaluator(engine, catalog, clock, client)
    await run_for(1800, fleet, clock, evaluator)
    for factor in (1.25, 1.5, 2.0, 2.5, 3.0, 3.5):  # slower and slower, never failing
        fleet.behaviour["alpha"].ttft_ms = 200.0 * factor
        await run_for(120, fleet, clock, evaluator)
    (message,) = receiver.by_status("firing")
    assert message["groupLabels"] == {"alertname": "ttft_slow"}
    (alert,) = message["alerts"]
    assert alert["labels"]["endpoint"] == "alpha/llama-3.1-70b"
    assert float(alert["annotations"]["value"]) > 2.0

    fleet.behaviour["alpha"].ttft_ms = 200.0
    await run_for(900, fleet, clock, evaluator)
    assert len(receiver.by_status("resolved", "ttft_slow")) == 1
    assert len(receiver.messages) == 2


async def test_receiver_down_at_firing_time_still_gets_the_message(
    engine: Engine, receiver: Receiver, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    catalog = fleet_catalog(OUTAGE_RULE, webhook_toml("oncall", receiver.url))
    fleet = Fleet(engine, sync(engine, catalog))
    evaluator = make_evaluator(engine, catalog, clock, client)
    await run_for(300, fleet, clock, evaluator)
    receiver.fail_next = 3
    fleet.behaviour["alpha"].ok = False
    await run_for(180, fleet, clock, evaluator)
    assert len(receiver.by_status("firing")) == 1
    with Session(engine) as session:
        rows = session.exec(select(AlertDelivery).order_by(AlertDelivery.id)).all()
    assert [(r.attempt, r.ok) for r in rows] == [(1, False), (2, False), (3, False), (4, True)]


async def test_firing_alert_of_a_rule_removed_from_the_catalog_is_resolved(
    engine: Engine, receiver: Receiver, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    hook = webhook_toml("oncall", receiver.url)
    catalog = fleet_catalog(OUTAGE_RULE, hook)
    fleet = Fleet(engine, sync(engine, catalog))
    evaluator = make_evaluator(engine, catalog, clock, client)
    await run_for(300, fleet, clock, evaluator)
    fleet.behaviour["alpha"].ok = False
    await run_for(180, fleet, clock, evaluator)
    assert len(receiver.by_status("firing")) == 1

    evaluator.reload(fleet_catalog(TTFT_RULE, hook))
    await run_for(STEP_S, fleet, clock, evaluator)
    (resolved,) = receiver.by_status("resolved", "provider_down")
    assert "left the catalog" in resolved["alerts"][0]["annotations"]["description"]


async def test_alerts_of_one_rule_firing_together_arrive_in_one_message(
    engine: Engine, receiver: Receiver, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    no_data = '[[alert]]\nname = "silent"\nkind = "no_data"\nthreshold = 2\nfor_s = 0\n'
    catalog = fleet_catalog(no_data, webhook_toml("oncall", receiver.url))
    fleet = Fleet(engine, sync(engine, catalog))
    evaluator = make_evaluator(engine, catalog, clock, client)
    await run_for(120, fleet, clock, evaluator)
    for _ in range(15):  # the prober stops: nothing arrives for any endpoint
        clock.advance(STEP_S)
        await evaluator.evaluate_once()
    (message,) = receiver.messages
    assert message["status"] == "firing"
    endpoints = sorted(a["labels"]["endpoint"] for a in message["alerts"])
    assert endpoints == ["alpha/llama-3.1-70b", "bravo/llama-3.1-70b"]
