"""Webhook bodies: Alertmanager's version-4 shape and Slack's incoming-webhook shape."""

from __future__ import annotations

from datetime import UTC, datetime

from signalbox.alerts.payloads import (
    ZERO_TIME,
    AlertMessage,
    alertmanager_payload,
    fingerprint,
    render,
    slack_payload,
)

FIRED = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)


def message(status: str = "firing", provider: str = "alpha") -> AlertMessage:
    return AlertMessage(
        alert_id=1,
        rule="provider_down",
        kind="error_rate",
        severity="critical",
        provider=provider,
        model="llama-3.1-70b",
        status=status,
        starts_at=FIRED,
        ends_at=None if status == "firing" else datetime(2027, 1, 1, 12, 5, tzinfo=UTC),
        value=0.62,
        threshold=0.3,
        reason="error rate 62.0% > 30.0%",
    )


def test_alertmanager_payload_has_the_version_4_fields() -> None:
    body = alertmanager_payload("oncall", "firing", [message()])
    assert body["version"] == "4"
    assert body["status"] == "firing" and body["receiver"] == "oncall"
    assert body["groupLabels"] == {"alertname": "provider_down"}
    assert body["groupKey"].endswith('{alertname="provider_down"}')
    assert set(body) >= {"truncatedAlerts", "commonLabels", "commonAnnotations", "externalURL"}
    (alert,) = body["alerts"]
    assert alert["labels"]["alertname"] == "provider_down"
    assert alert["labels"]["endpoint"] == "alpha/llama-3.1-70b"
    assert alert["startsAt"] == "2027-01-01T12:00:00.000Z"
    assert alert["endsAt"] == ZERO_TIME
    assert alert["annotations"]["description"] == "error rate 62.0% > 30.0%"
    assert alert["fingerprint"] == fingerprint("provider_down", "alpha", "llama-3.1-70b")


def test_resolved_alert_carries_its_end_time() -> None:
    (alert,) = alertmanager_payload("oncall", "resolved", [message("resolved")])["alerts"]
    assert alert["status"] == "resolved"
    assert alert["endsAt"] == "2027-01-01T12:05:00.000Z"


def test_common_labels_are_those_all_alerts_share() -> None:
    body = alertmanager_payload("oncall", "firing", [message(), message(provider="bravo")])
    assert body["commonLabels"]["alertname"] == "provider_down"
    assert "provider" not in body["commonLabels"]


def test_fingerprint_is_stable_and_distinguishes_endpoints() -> None:
    a = fingerprint("provider_down", "alpha", "m")
    assert a == fingerprint("provider_down", "alpha", "m")
    assert a != fingerprint("provider_down", "bravo", "m")
    assert len(a) == 16 and int(a, 16) >= 0


def test_slack_payload_has_text_and_blocks() -> None:
    body = slack_payload("firing", [message()])
    assert body["text"].startswith(":red_circle: [FIRING] provider_down (critical)")
    assert "alpha/llama-3.1-70b" in body["blocks"][1]["text"]["text"]
    resolved = render("slack", "chat", "resolved", [message("resolved")])
    assert "[RESOLVED]" in resolved["text"]
