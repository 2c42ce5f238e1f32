"""The rules used when the catalog names none: one per kind, tuned so a cold start stays quiet."""

from __future__ import annotations

from signalbox.catalog import AlertRule, Catalog

DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="provider_error_rate",
        kind="error_rate",
        threshold=0.25,
        for_s=120.0,
        min_samples=5.0,
        severity="critical",
    ),
    AlertRule(
        name="ttft_degraded",
        kind="ttft_baseline",
        threshold=2.0,
        for_s=300.0,
        min_samples=5.0,
        baseline_half_life_s=6 * 3600.0,
        severity="warning",
    ),
    AlertRule(
        name="tps_degraded",
        kind="tps_baseline",
        threshold=2.0,
        for_s=300.0,
        min_samples=5.0,
        baseline_half_life_s=6 * 3600.0,
        severity="warning",
    ),
    AlertRule(
        name="no_data",
        kind="no_data",
        threshold=15.0,  # minutes without a successful observation
        for_s=0.0,
        min_samples=0.0,
        severity="critical",
    ),
    AlertRule(  # the expensive path must not quietly become the default (issue #18)
        name="route_escalation",
        kind="route_escalation_rate",
        threshold=0.5,  # half of a route's requests escalate
        for_s=900.0,
        min_samples=20.0,
        half_life_s=900.0,
        severity="warning",
    ),
)


def rules_for(catalog: Catalog) -> tuple[AlertRule, ...]:
    """The catalog's ``[[alert]]`` rules, or :data:`DEFAULT_RULES` when it names none."""
    return tuple(catalog.alerts) if catalog.alerts else DEFAULT_RULES
