"""The alert job: statistics from the store → every rule on every enabled endpoint → lifecycle →
notifications. Runs as an APScheduler job in the scheduler process, on the leader only.

Wiring (in a process with an ``AsyncIOScheduler`` on its main loop)::

    service = AlertService(engine, catalog, env=os.environ, interval_s=30)
    await service.start(scheduler)   # adds the job; only the elected leader evaluates
    ...
    await service.stop()             # removes the job, releases leadership, closes the client
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlmodel import Session

from signalbox.alerts.defaults import rules_for
from signalbox.alerts.feed import StatsFeed
from signalbox.alerts.lifecycle import (
    FIRING,
    Action,
    Step,
    advance,
    apply_steps,
    load_open_alerts,
    load_open_route_alerts,
    retire,
)
from signalbox.alerts.notify import DeliveryReport, Notifier, RetryPolicy
from signalbox.alerts.routes import route_steps
from signalbox.alerts.rules import ENDPOINT, ROUTE, evaluate, rules_of_scope
from signalbox.catalog import AlertRule, Catalog
from signalbox.leader import Leader, make_leader
from signalbox.schema import Endpoint, Provider

log = logging.getLogger(__name__)

JOB_ID = "signalbox-alerts"
_SAID = {Action.OPEN_FIRING: "firing", Action.FIRE: "firing", Action.RESOLVE: "resolved"}


@dataclass
class EvaluationReport:
    """What one evaluation did."""

    endpoints: int = 0
    rules: int = 0
    new_rows: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)


class AlertEvaluator:
    """Evaluates the catalog's alert rules over the store's observations (one per process).

    ``clock`` returns epoch seconds (inject one in tests); ``http_client`` is used for webhooks
    (one is created, and closed by :meth:`aclose`, when not given); ``env`` is where ``url_env``
    webhook URLs are read.
    """

    def __init__(
        self,
        engine: Engine,
        catalog: Catalog,
        *,
        clock: Callable[[], float] = time.time,
        http_client: httpx.AsyncClient | None = None,
        env: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        webhook_timeout_s: float = 10.0,
        external_url: str = "",
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._own_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            timeout=httpx.Timeout(webhook_timeout_s), trust_env=False, follow_redirects=False
        )
        self._lock = asyncio.Lock()
        self.catalog = catalog
        self.rules: tuple[AlertRule, ...] = rules_for(catalog)
        self.feed = StatsFeed(engine, rules=rules_of_scope(self.rules, ENDPOINT))
        self.notifier = Notifier(
            engine,
            catalog.webhooks,
            client=self._client,
            env=os.environ if env is None else env,
            clock=clock,
            retry=retry,
            timeout_s=webhook_timeout_s,
            external_url=external_url,
            rules=self.rules,
        )

    def reload(self, catalog: Catalog) -> None:
        """Use a reloaded catalog's rules and webhooks; statistics re-warm at the next run."""
        self.catalog = catalog
        self.rules = rules_for(catalog)
        self.feed = StatsFeed(self._engine, rules=rules_of_scope(self.rules, ENDPOINT))
        self.notifier.set_config(catalog.webhooks, self.rules)

    def step_down(self) -> None:
        """Drop in-memory statistics (this process no longer leads; it re-warms if it does again)."""
        if self.feed.warmed:
            self.feed.reset()

    async def evaluate_once(self) -> EvaluationReport:
        """Read new observations, evaluate every rule on every enabled endpoint, advance the
        lifecycles, then deliver owed notifications."""
        async with self._lock:
            now = self._clock()
            report = await asyncio.to_thread(self._evaluate, now)
            report.delivery = await self.notifier.deliver_pending()
            return report

    def _evaluate(self, now: float) -> EvaluationReport:
        feed, rules = self.feed, self.rules  # a reload mid-run takes effect at the next run
        endpoints = self._enabled_endpoints()
        if feed.warmed:
            new_rows = feed.poll(now)
        else:
            new_rows = feed.warm(now, endpoints)
            log.info(
                "alert statistics warmed from %d observations of %d endpoints",
                new_rows,
                len(endpoints),
            )
        now_dt = datetime.fromtimestamp(now, UTC)
        names = {r.name: r for r in rules}
        with Session(self._engine) as session:
            open_alerts = load_open_alerts(session)
            steps: list[Step] = []
            for (rule_name, endpoint_id), alert in open_alerts.items():
                if rule_name not in names:
                    steps.append(retire(alert, f"rule {rule_name} left the catalog"))
                elif endpoint_id not in endpoints:
                    steps.append(retire(alert, "endpoint disabled or left the catalog"))
            for endpoint_id in endpoints:
                for rule in rules_of_scope(rules, ENDPOINT):
                    current = open_alerts.get((rule.name, endpoint_id))
                    firing = current is not None and current.state == FIRING
                    evaluation = evaluate(
                        rule, feed.rule_input(endpoint_id, rule, now), firing=firing
                    )
                    steps.append(advance(current, evaluation, rule, endpoint_id, now_dt))
            steps += route_steps(
                self._engine, rules_of_scope(rules, ROUTE), load_open_route_alerts(session), now
            )
            counts = apply_steps(session, steps, now_dt)
            session.commit()
        for step in steps:
            said = _SAID.get(step.action)
            if said is not None:
                if step.route is not None:
                    where = f"route {step.route}"
                else:
                    where = endpoints.get(step.endpoint_id, f"endpoint {step.endpoint_id}")
                log.warning("alert %s %s on %s: %s", step.rule, said, where, step.reason)
        return EvaluationReport(
            endpoints=len(endpoints),
            rules=len(rules),
            new_rows=new_rows,
            actions={str(k): v for k, v in counts.items()},
        )

    def _enabled_endpoints(self) -> dict[int, str]:
        stmt = (
            select(Endpoint.id, Provider.name, Endpoint.model)
            .join(Provider, Provider.id == Endpoint.provider_id)
            .where(Endpoint.enabled, Provider.enabled)
            .order_by(Endpoint.id)
        )
        with self._engine.connect() as conn:
            return {row[0]: f"{row[1]}/{row[2]}" for row in conn.execute(stmt)}

    async def wait_idle(self) -> None:
        """Return once no evaluation is in progress (before handing leadership over)."""
        async with self._lock:
            pass

    async def aclose(self) -> None:
        """Close the HTTP client if this evaluator created it."""
        await self.wait_idle()
        if self._own_client:
            await self._client.aclose()


async def run_alert_job(evaluator: AlertEvaluator, leader: Leader) -> EvaluationReport | None:
    """One scheduled run: evaluate when this process leads, else drop warm state. Never raises."""
    try:
        leading = await leader.check()
    except Exception as exc:
        log.error("leader check failed: %s", type(exc).__name__)
        leading = False
    if not leading:
        evaluator.step_down()
        return None
    try:
        return await evaluator.evaluate_once()
    except Exception:
        log.exception("alert evaluation failed; retrying at the next interval")
        return None


def schedule_alerts(
    scheduler: Any, evaluator: AlertEvaluator, leader: Leader, interval_s: float
) -> Any:
    """Add the alert job to an APScheduler 3 ``AsyncIOScheduler``; returns the job.

    The job runs every ``interval_s`` (first run at once), one instance at a time, coalesced after
    a pause; each run checks leadership first, so of several processes only the leader evaluates.
    """
    from apscheduler.triggers.interval import IntervalTrigger

    return scheduler.add_job(
        run_alert_job,
        IntervalTrigger(seconds=interval_s),
        args=(evaluator, leader),
        id=JOB_ID,
        name="alert evaluation",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(int(interval_s), 1),
        next_run_time=datetime.now(UTC),
        replace_existing=True,
    )


class AlertService:
    """Alerting in a scheduler process: evaluator, leader election and the job, owned together."""

    def __init__(
        self,
        engine: Engine,
        catalog: Catalog,
        *,
        env: Mapping[str, str],
        interval_s: float = 30.0,
        leader: Leader | None = None,
        **evaluator_options: Any,
    ) -> None:
        self.interval_s = interval_s
        self.evaluator = AlertEvaluator(engine, catalog, env=env, **evaluator_options)
        self.leader = leader or make_leader(engine, lease_s=2 * interval_s)
        self._scheduler: Any = None

    async def start(self, scheduler: Any) -> None:
        """Add the alert job to ``scheduler`` (an ``AsyncIOScheduler``, started or not)."""
        self._scheduler = scheduler
        schedule_alerts(scheduler, self.evaluator, self.leader, self.interval_s)

    def reload(self, catalog: Catalog) -> None:
        """Apply a reloaded catalog (rules and webhooks)."""
        self.evaluator.reload(catalog)

    async def stop(self) -> None:
        """Remove the job, release leadership (another process takes over), close the client."""
        if self._scheduler is not None:
            try:
                self._scheduler.remove_job(JOB_ID)
            except Exception:  # JobLookupError: already gone with a shut-down scheduler
                log.debug("alert job already removed")
        await self.evaluator.wait_idle()  # an evaluation in flight finishes before the handover
        await self.leader.release()
        await self.evaluator.aclose()
