"""Delivery: retried with backoff until the receiver takes it, one row per attempt, no secrets."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from signalbox.alerts.notify import Notifier, RetryPolicy
from signalbox.catalog import Webhook
from signalbox.schema import Alert, AlertDelivery
from tests.alerts.fleet import FakeClock, Receiver, fleet_catalog, sync

FAST = RetryPolicy(max_attempts=6, base_s=0.01, max_s=0.05, budget_s=5.0)


def firing_alert(engine: Engine, clock: FakeClock) -> int:
    ids = sync(engine, fleet_catalog())
    now = datetime.fromtimestamp(clock(), UTC)
    with Session(engine) as session:
        row = Alert(
            rule="provider_down",
            endpoint_id=ids["alpha"],
            state="firing",
            severity="critical",
            started_at=now,
            firing_at=now,
            value=0.7,
            threshold=0.3,
            reason="error rate 70.0% > 30.0%",
        )
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def deliveries(engine: Engine) -> list[AlertDelivery]:
    with Session(engine) as session:
        return list(session.exec(select(AlertDelivery).order_by(AlertDelivery.id)).all())


def notifier(
    engine: Engine,
    hooks: list[Webhook],
    client: httpx.AsyncClient,
    clock: FakeClock,
    env: dict[str, str] | None = None,
    retry: RetryPolicy = FAST,
) -> Notifier:
    return Notifier(engine, hooks, client=client, env=env or {}, clock=clock, retry=retry)


async def test_receiver_failing_three_times_gets_the_message_once_it_recovers(
    engine: Engine, receiver: Receiver, clock: FakeClock
) -> None:
    alert_id = firing_alert(engine, clock)
    receiver.fail_next = 3
    hook = Webhook(name="oncall", url=receiver.url)
    async with httpx.AsyncClient() as client:
        report = await notifier(engine, [hook], client, clock).deliver_pending()
    assert len(receiver.messages) == 1
    assert receiver.messages[0]["alerts"][0]["status"] == "firing"
    rows = deliveries(engine)
    assert [(r.attempt, r.ok, r.http_status) for r in rows] == [
        (1, False, 503),
        (2, False, 503),
        (3, False, 503),
        (4, True, 200),
    ]
    assert report.notified == [alert_id]
    with Session(engine) as session:
        assert session.get(Alert, alert_id).notified_firing is True  # type: ignore[union-attr]


async def test_delivered_notification_is_not_sent_again(
    engine: Engine, receiver: Receiver, clock: FakeClock
) -> None:
    firing_alert(engine, clock)
    hook = Webhook(name="oncall", url=receiver.url)
    async with httpx.AsyncClient() as client:
        n = notifier(engine, [hook], client, clock)
        await n.deliver_pending()
        await n.deliver_pending()
    assert len(receiver.messages) == 1
    assert len(deliveries(engine)) == 1


async def test_retry_beyond_the_pass_budget_waits_for_a_later_pass(
    engine: Engine, receiver: Receiver, clock: FakeClock
) -> None:
    firing_alert(engine, clock)
    receiver.fail_next = 1
    slow = RetryPolicy(max_attempts=5, base_s=30.0, max_s=300.0, budget_s=0.0)
    hook = Webhook(name="oncall", url=receiver.url)
    async with httpx.AsyncClient() as client:
        n = notifier(engine, [hook], client, clock, retry=slow)
        await n.deliver_pending()
        clock.advance(10)
        await n.deliver_pending()  # backoff not elapsed: no attempt
        assert len(deliveries(engine)) == 1
        clock.advance(25)
        await n.deliver_pending()
    assert [r.ok for r in deliveries(engine)] == [False, True]
    assert len(receiver.messages) == 1


async def test_webhook_url_from_environment_is_never_logged(
    engine: Engine, receiver: Receiver, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    firing_alert(engine, clock)
    receiver.fail_next = 1
    secret_url = receiver.url + "?token=s3cret"
    hook = Webhook(name="chat", url_env="ALERT_HOOK_URL", format="slack")
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient() as client:
        await notifier(
            engine, [hook], client, clock, env={"ALERT_HOOK_URL": secret_url}
        ).deliver_pending()
    assert receiver.messages[0]["text"].startswith(":red_circle: [FIRING] provider_down")
    assert "s3cret" not in caplog.text and receiver.url not in caplog.text
    assert "webhook chat" in caplog.text
    assert all("s3cret" not in (r.error or "") for r in deliveries(engine))


async def test_unreachable_receiver_records_the_error_without_the_url(
    engine: Engine, clock: FakeClock
) -> None:
    firing_alert(engine, clock)
    hook = Webhook(name="gone", url="http://127.0.0.1:9/hook")
    retry = RetryPolicy(max_attempts=2, base_s=0.01, budget_s=1.0)
    async with httpx.AsyncClient() as client:
        report = await notifier(engine, [hook], client, clock, retry=retry).deliver_pending()
    rows = deliveries(engine)
    assert [r.ok for r in rows] == [False, False]
    assert rows[0].error and rows[0].error.startswith("ConnectError")
    assert "127.0.0.1:9" not in rows[0].error
    assert report.gave_up == 1


async def test_missing_url_env_counts_as_a_failed_attempt(engine: Engine, clock: FakeClock) -> None:
    firing_alert(engine, clock)
    hook = Webhook(name="chat", url_env="UNSET_HOOK")
    retry = RetryPolicy(max_attempts=1)
    async with httpx.AsyncClient() as client:
        await notifier(engine, [hook], client, clock, retry=retry).deliver_pending()
    (row,) = deliveries(engine)
    assert row.error == "no URL: environment variable UNSET_HOOK is not set"
