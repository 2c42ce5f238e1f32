"""Webhook message bodies, pure: Alertmanager's webhook JSON (version 4) and Slack's incoming webhook.

An alert's identity is its labels, and its fingerprint a hash of them, as in Alertmanager: here
the labels are the rule and the endpoint (or the route, for a rule on a route), so the fingerprint
is the (rule, endpoint) or (rule, route) key. One
message carries every alert of one rule that needs the same notification (``groupKey``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of an alert still firing


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """What a notification says about one alert."""

    alert_id: int
    rule: str
    kind: str
    severity: str
    provider: str
    model: str
    status: str  # "firing" or "resolved"
    starts_at: datetime
    ends_at: datetime | None
    value: float | None
    threshold: float | None
    reason: str
    route: str | None = None  # a rule on a route: no provider or model

    @property
    def endpoint(self) -> str:
        """``provider/model``, or ``route NAME``: what the alert is about."""
        if self.route is not None:
            return f"route {self.route}"
        return f"{self.provider}/{self.model}"

    def labels(self) -> dict[str, str]:
        """The alert's identity, Alertmanager style."""
        if self.route is not None:
            return {
                "alertname": self.rule,
                "route": self.route,
                "kind": self.kind,
                "severity": self.severity,
            }
        return {
            "alertname": self.rule,
            "endpoint": self.endpoint,
            "provider": self.provider,
            "model": self.model,
            "kind": self.kind,
            "severity": self.severity,
        }

    def fingerprint(self) -> str:
        """16 hex digits identifying (rule, endpoint) or (rule, route); stable across restarts
        and processes."""
        if self.route is not None:
            return _digest(["alertname", self.rule, "route", self.route])
        return fingerprint(self.rule, self.provider, self.model)


def fingerprint(rule: str, provider: str, model: str) -> str:
    """The fingerprint of the alert of ``rule`` on endpoint ``provider/model``."""
    return _digest(["alertname", rule, "model", model, "provider", provider])


def _digest(labels: list[str]) -> str:
    """Label names and values (in name order), joined and hashed, as Alertmanager does."""
    return hashlib.sha256("\x00".join(labels).encode()).hexdigest()[:16]


def _rfc3339(ts: datetime | None) -> str:
    if ts is None:
        return ZERO_TIME
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _value_text(msg: AlertMessage) -> str:
    if msg.value is None:
        return "n/a"
    return f"{msg.value:.4g}"


def group_key(receiver: str, rule: str) -> str:
    """Alertmanager's ``groupKey`` form: route and group labels."""
    return f'{{}}/{{receiver="{receiver}"}}:{{alertname="{rule}"}}'


def alertmanager_payload(
    receiver: str, status: str, alerts: Sequence[AlertMessage], external_url: str = ""
) -> dict[str, Any]:
    """An Alertmanager webhook body (``version`` "4") for alerts of one rule."""
    items = []
    for msg in alerts:
        items.append(
            {
                "status": msg.status,
                "labels": msg.labels(),
                "annotations": {
                    "summary": f"{msg.rule} {msg.status} on {msg.endpoint}",
                    "description": msg.reason,
                    "value": _value_text(msg),
                    "threshold": "" if msg.threshold is None else f"{msg.threshold:g}",
                },
                "startsAt": _rfc3339(msg.starts_at),
                "endsAt": _rfc3339(msg.ends_at) if msg.status == "resolved" else ZERO_TIME,
                "generatorURL": external_url,
                "fingerprint": msg.fingerprint(),
            }
        )
    labels = [m.labels() for m in alerts]
    common = {k: v for k, v in labels[0].items() if all(lab.get(k) == v for lab in labels)}
    rule = alerts[0].rule
    return {
        "version": "4",
        "groupKey": group_key(receiver, rule),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": rule},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": external_url,
        "alerts": items,
    }


def slack_payload(status: str, alerts: Sequence[AlertMessage]) -> dict[str, Any]:
    """A Slack incoming-webhook body: ``text`` (the notification line) and ``blocks``."""
    rule, severity = alerts[0].rule, alerts[0].severity
    icon = ":red_circle:" if status == "firing" else ":large_green_circle:"
    endpoints = ", ".join(m.endpoint for m in alerts)
    text = f"{icon} [{status.upper()}] {rule} ({severity}) on {endpoints}"
    lines = []
    for msg in alerts:
        when = msg.ends_at if status == "resolved" else msg.starts_at
        label = "resolved" if status == "resolved" else "since"
        lines.append(f"• *{msg.endpoint}*: {msg.reason} ({label} {_rfc3339(when)})")
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"fingerprints: {' '.join(m.fingerprint() for m in alerts)}",
                }
            ],
        },
    ]
    return {"text": text, "blocks": blocks}


def render(
    fmt: str, receiver: str, status: str, alerts: Sequence[AlertMessage], external_url: str = ""
) -> dict[str, Any]:
    """The body for a webhook of format ``fmt`` ("alertmanager" or "slack")."""
    if fmt == "slack":
        return slack_payload(status, alerts)
    if fmt == "alertmanager":
        return alertmanager_payload(receiver, status, alerts, external_url)
    raise ValueError(f"unknown webhook format {fmt!r}")
