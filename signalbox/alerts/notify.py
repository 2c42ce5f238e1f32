"""Webhook delivery: one notification on firing and one on resolving, per alert and webhook.

What is owed is read from the store each pass (an alert ``firing`` not yet ``notified_firing``,
``resolved`` not yet ``notified_resolved``) and every attempt is an ``alert_delivery`` row, so a
restart neither loses nor repeats a notification. A failed attempt is retried with exponential
backoff: at once within the pass while the delay fits ``retry_budget_s``, else in a later pass.
Webhook URLs are secrets: logs and rows name the webhook, never its URL.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import monotonic

import httpx
import orjson
from sqlalchemy import Engine, and_, or_, select, update
from sqlmodel import Session

from signalbox.alerts.lifecycle import FIRING, RESOLVED
from signalbox.alerts.payloads import AlertMessage, render
from signalbox.catalog import AlertRule, Webhook
from signalbox.schema import Alert, AlertDelivery, Endpoint, Provider

log = logging.getLogger(__name__)

_A = Alert.__table__
_D = AlertDelivery.__table__


class _RedactSecrets(logging.Filter):
    """Rewrites log records that would show a webhook URL (httpx logs every request's URL at INFO)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, url: str) -> None:
        self.secrets.add(url)
        try:
            self.secrets.add(str(httpx.URL(url)))  # as httpx prints it
        except (httpx.InvalidURL, ValueError, TypeError):
            pass  # not a URL httpx can send to either: the attempt fails and names the webhook

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            hits = [s for s in self.secrets if s in message]
            if hits:
                for secret in sorted(hits, key=len, reverse=True):
                    message = message.replace(secret, "<webhook url>")
                record.msg, record.args = message, ()
        return True


_REDACT = _RedactSecrets()
logging.getLogger("httpx").addFilter(_REDACT)  # the one logger that prints request URLs


def webhook_url(hook: Webhook, env: Mapping[str, str]) -> str | None:
    """The URL of ``hook``: given inline, or read from the variable its ``url_env`` names.

    The URL is registered for redaction, so the HTTP client's own request log never shows it.
    """
    url = hook.url or (env.get(hook.url_env) if hook.url_env else None) or None
    if url is not None:
        _REDACT.add(url)
    return url


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: after ``n`` failed attempts wait ``base·2^(n-1)`` (capped)."""

    max_attempts: int = 12  # with the defaults, about an hour of retrying
    base_s: float = 2.0
    max_s: float = 600.0
    budget_s: float = 10.0  # how long one pass may spend retrying before leaving it for the next

    def delay_s(self, failed: int) -> float:
        """The wait after ``failed`` failed attempts."""
        return 0.0 if failed <= 0 else min(self.base_s * 2.0 ** (failed - 1), self.max_s)


@dataclass
class _History:
    attempts: int = 0
    ok: bool = False
    last_ts: datetime | None = None


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    delivered: int = 0  # messages accepted by a receiver
    failed_attempts: int = 0
    gave_up: int = 0
    notified: list[int] = field(default_factory=list)  # alert ids whose notification is complete


class Notifier:
    """Delivers owed notifications to the catalog's webhooks over a shared httpx client."""

    def __init__(
        self,
        engine: Engine,
        webhooks: Sequence[Webhook],
        *,
        client: httpx.AsyncClient,
        env: Mapping[str, str],
        clock: Callable[[], float],
        retry: RetryPolicy | None = None,
        timeout_s: float = 10.0,
        external_url: str = "",
        rules: Sequence[AlertRule] = (),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._engine = engine
        self.webhooks = tuple(webhooks)
        self._client = client
        self._env = env
        self._clock = clock
        self.retry = retry or RetryPolicy()
        self._timeout_s = timeout_s
        self._external_url = external_url
        self._kinds = {r.name: r.kind for r in rules}
        self._sleep = sleep
        self._deadline = 0.0

    def set_config(self, webhooks: Sequence[Webhook], rules: Sequence[AlertRule]) -> None:
        """Use a reloaded catalog's webhooks and rules."""
        self.webhooks = tuple(webhooks)
        self._kinds = {r.name: r.kind for r in rules}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def deliver_pending(self) -> DeliveryReport:
        """Send every owed notification that is due; record each attempt; mark finished ones."""
        report = DeliveryReport()
        messages, history = await asyncio.to_thread(self._load_outbox)
        if not messages:
            return report
        now = self._now()
        self._deadline = monotonic() + self.retry.budget_s
        sends = []
        for hook in self.webhooks:
            groups: dict[tuple[str, str], list[AlertMessage]] = defaultdict(list)
            for msg in messages:
                h = history.get((msg.alert_id, hook.name, msg.status), _History())
                if h.ok or h.attempts >= self.retry.max_attempts:
                    continue
                groups[(msg.status, msg.rule)].append(msg)
            for (status, _rule), group in groups.items():
                hists = [history.get((m.alert_id, hook.name, status), _History()) for m in group]
                if any(self._due(h, now) for h in hists):
                    sends.append(self._send_group(hook, status, group, hists, report))
        await asyncio.gather(*sends)
        report.notified = await asyncio.to_thread(self._mark_done, [m.alert_id for m in messages])
        return report

    def _due(self, h: _History, now: datetime) -> bool:
        if h.last_ts is None or h.attempts == 0:
            return True
        return (now - h.last_ts).total_seconds() >= self.retry.delay_s(h.attempts)

    async def _send_group(
        self,
        hook: Webhook,
        status: str,
        group: list[AlertMessage],
        hists: list[_History],
        report: DeliveryReport,
    ) -> None:
        attempts = [h.attempts for h in hists]
        url = webhook_url(hook, self._env)
        body = orjson.dumps(render(hook.format, hook.name, status, group, self._external_url))
        while True:
            attempts = [a + 1 for a in attempts]
            ok, http_status, error = await self._post(hook, url, body)
            rows = [
                {
                    "alert_id": m.alert_id,
                    "webhook": hook.name,
                    "status": status,
                    "attempt": a,
                    "ts": self._now(),
                    "ok": ok,
                    "http_status": http_status,
                    "error": error,
                }
                for m, a in zip(group, attempts, strict=True)
            ]
            await asyncio.to_thread(self._record, rows)
            what = f"webhook {hook.name}: {status} {group[0].rule} x{len(group)}"
            if ok:
                report.delivered += 1
                log.info("%s delivered (attempt %d)", what, max(attempts))
                return
            report.failed_attempts += 1
            if url is None or max(attempts) >= self.retry.max_attempts:  # no URL: no quick retry
                if url is None:
                    log.error("%s failed: %s", what, error)
                    return
                report.gave_up += 1
                log.error("%s: giving up after %d attempts: %s", what, max(attempts), error)
                return
            delay = self.retry.delay_s(max(attempts))
            if monotonic() + delay > self._deadline:
                log.warning("%s failed (%s); retrying in %.0f s", what, error, delay)
                return
            log.warning("%s failed (%s); retrying in %.2f s", what, error, delay)
            await self._sleep(delay)

    async def _post(
        self, hook: Webhook, url: str | None, body: bytes
    ) -> tuple[bool, int | None, str | None]:
        if url is None:
            return False, None, f"no URL: environment variable {hook.url_env} is not set"
        try:
            response = await self._client.post(
                url,
                content=body,
                headers={"content-type": "application/json"},
                timeout=self._timeout_s,
            )
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            detail = str(exc).replace(url, "<webhook url>")[:200]
            return False, None, f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        if 200 <= response.status_code < 300:
            return True, response.status_code, None
        return False, response.status_code, f"HTTP {response.status_code}"

    # -- the store ---------------------------------------------------------------------------

    def _load_outbox(
        self,
    ) -> tuple[list[AlertMessage], dict[tuple[int, str, str], _History]]:
        owed = or_(
            and_(_A.c.state == FIRING, _A.c.notified_firing.is_(False)),
            and_(_A.c.state == RESOLVED, _A.c.notified_resolved.is_(False)),
        )
        stmt = (
            select(Alert, Endpoint.model, Provider.name)
            .outerjoin(Endpoint, Endpoint.id == Alert.endpoint_id)  # a route's alert has none
            .outerjoin(Provider, Provider.id == Endpoint.provider_id)
            .where(owed)
            .order_by(Alert.id)
        )
        with Session(self._engine) as session:
            rows = session.execute(stmt).all()
            messages = [_message(a, model, provider, self._kinds) for a, model, provider in rows]
            ids = [m.alert_id for m in messages]
            history: dict[tuple[int, str, str], _History] = {}
            if ids:
                for d in session.execute(
                    select(AlertDelivery).where(_D.c.alert_id.in_(ids))
                ).scalars():
                    h = history.setdefault((d.alert_id, d.webhook, d.status), _History())
                    h.attempts = max(h.attempts, d.attempt)
                    h.ok = h.ok or d.ok
                    if h.last_ts is None or d.ts > h.last_ts:
                        h.last_ts = d.ts
        return messages, history

    def _record(self, rows: list[dict[str, object]]) -> None:
        with self._engine.begin() as conn:
            conn.execute(_D.insert(), rows)

    def _mark_done(self, alert_ids: list[int]) -> list[int]:
        """Set ``notified_*`` on alerts every webhook has received (or given up on)."""
        done: list[int] = []
        names = [h.name for h in self.webhooks]
        with self._engine.begin() as conn:
            alerts = conn.execute(select(_A.c.id, _A.c.state).where(_A.c.id.in_(alert_ids))).all()
            deliveries = conn.execute(
                select(_D.c.alert_id, _D.c.webhook, _D.c.status, _D.c.ok, _D.c.attempt).where(
                    _D.c.alert_id.in_(alert_ids)
                )
            ).all()
            ok: set[tuple[int, str, str]] = set()
            tried: dict[tuple[int, str, str], int] = defaultdict(int)
            for alert_id, hook, status, was_ok, attempt in deliveries:
                if was_ok:
                    ok.add((alert_id, hook, status))
                tried[(alert_id, hook, status)] = max(tried[(alert_id, hook, status)], attempt)
            now = self._now()
            for alert_id, state in alerts:
                keys = [(alert_id, name, state) for name in names]
                if not all(k in ok or tried[k] >= self.retry.max_attempts for k in keys):
                    continue
                flag = "notified_firing" if state == FIRING else "notified_resolved"
                values: dict[str, object] = {flag: True}
                if any(k in ok for k in keys):
                    values["last_notified_at"] = now
                conn.execute(
                    update(_A).where(_A.c.id == alert_id, _A.c.state == state).values(**values)
                )
                done.append(alert_id)
        return done


def _message(
    alert: Alert, model: str | None, provider: str | None, kinds: Mapping[str, str]
) -> AlertMessage:
    assert alert.id is not None
    return AlertMessage(
        alert_id=alert.id,
        rule=alert.rule,
        kind=kinds.get(alert.rule, "unknown"),
        severity=alert.severity,
        provider=provider or "",
        model=model or "",
        status=alert.state,
        starts_at=alert.firing_at or alert.started_at,
        ends_at=alert.resolved_at,
        value=alert.value,
        threshold=alert.threshold,
        reason=alert.reason or "",
        route=alert.route,
    )
