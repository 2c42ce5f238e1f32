"""Alerting (docs/architecture.md §7): rules over the decayed statistics, a lifecycle kept in the store, webhooks.

``rules`` is pure evaluation (stats → condition, value, reason) and the table of rule kinds;
``lifecycle`` moves an alert pending → firing → resolved, keyed by (rule, endpoint), in the
``alert`` table; ``payloads`` and ``notify`` build and deliver Alertmanager- and Slack-shaped
webhooks with retries, one ``alert_delivery`` row per attempt; ``feed`` keeps the statistics current
from the store; ``evaluator`` is the scheduler job that ties them together on the elected leader;
``defaults`` holds the rules used when the catalog names none. Import each from its module: this
package imports nothing, so the catalog can read ``rules.ALERT_KINDS`` without an import cycle.
"""
