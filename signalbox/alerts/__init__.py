"""Alerting (DESIGN §7): rules over the decayed statistics, a lifecycle kept in the store, webhooks.

``rules`` is pure evaluation (stats → condition, value, reason); ``lifecycle`` moves an alert
pending → firing → resolved, keyed by (rule, endpoint), in the ``alert`` table; ``payloads`` and
``notify`` build and deliver Alertmanager- and Slack-shaped webhooks with retries, one
``alert_delivery`` row per attempt; ``feed`` keeps the statistics current from the store;
``evaluator`` is the scheduler job that ties them together on the elected leader.
"""

from signalbox.alerts.defaults import DEFAULT_RULES, rules_for
from signalbox.alerts.evaluator import (
    AlertEvaluator,
    AlertService,
    EvaluationReport,
    run_alert_job,
    schedule_alerts,
)
from signalbox.alerts.notify import RetryPolicy
from signalbox.alerts.rules import Condition, Evaluation, RuleInput, evaluate

__all__ = [
    "DEFAULT_RULES",
    "AlertEvaluator",
    "AlertService",
    "Condition",
    "Evaluation",
    "EvaluationReport",
    "RetryPolicy",
    "RuleInput",
    "evaluate",
    "rules_for",
    "run_alert_job",
    "schedule_alerts",
]
