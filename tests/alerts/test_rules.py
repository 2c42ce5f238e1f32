"""Pure rule evaluation: each kind's breach, its all-clear, and silence on too little data."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from signalbox.alerts.defaults import DEFAULT_RULES, rules_for
from signalbox.alerts.rules import Condition, RuleInput, evaluate
from signalbox.catalog import AlertRule, parse_catalog

NOW = 1_800_000_000.0


def rule(kind: str, threshold: float, min_samples: float = 5.0) -> AlertRule:
    return AlertRule(name=f"r_{kind}", kind=kind, threshold=threshold, min_samples=min_samples)


def inp(**kw: object) -> RuleInput:
    base: dict[str, object] = dict(
        now=NOW,
        samples=20.0,
        error_rate=0.02,
        ttft_p50_ms=200.0,
        tps_p50=80.0,
        last_ok_ts=NOW - 10,
        watched_since_ts=NOW - 3600,
        baseline_samples=200.0,
        baseline_ttft_p50_ms=200.0,
        baseline_tps_p50=80.0,
    )
    base.update(kw)
    return RuleInput(**base)  # type: ignore[arg-type]


def test_error_rate_above_threshold_breaches_with_value_and_reason() -> None:
    result = evaluate(rule("error_rate", 0.2), inp(error_rate=0.5))
    assert result.condition is Condition.BREACH
    assert result.value == 0.5
    assert result.reason == "error rate 50.0% over 20.0 effective samples (> 20.0%)"


def test_error_rate_below_threshold_is_ok() -> None:
    assert evaluate(rule("error_rate", 0.2), inp(error_rate=0.1)).condition is Condition.OK


def test_firing_alert_stays_in_breach_until_clearly_below_threshold() -> None:
    hovering = inp(error_rate=0.19)
    assert evaluate(rule("error_rate", 0.2), hovering).condition is Condition.OK
    assert evaluate(rule("error_rate", 0.2), hovering, firing=True).condition is Condition.BREACH
    clear = inp(error_rate=0.17)
    assert evaluate(rule("error_rate", 0.2), clear, firing=True).condition is Condition.OK


def test_cold_start_with_few_samples_is_unknown_not_a_breach() -> None:
    result = evaluate(rule("error_rate", 0.2, min_samples=5), inp(samples=2.0, error_rate=0.9))
    assert result.condition is Condition.UNKNOWN
    assert "min_samples" in result.reason


def test_ttft_worse_than_baseline_by_factor_breaches() -> None:
    result = evaluate(rule("ttft_baseline", 2.0), inp(ttft_p50_ms=700.0))
    assert result.condition is Condition.BREACH
    assert result.value == 3.5


def test_ttft_within_factor_of_baseline_is_ok() -> None:
    assert evaluate(rule("ttft_baseline", 2.0), inp(ttft_p50_ms=350.0)).condition is Condition.OK


def test_ttft_rule_without_a_baseline_yet_is_unknown() -> None:
    result = evaluate(rule("ttft_baseline", 2.0), inp(baseline_samples=1.0, ttft_p50_ms=900.0))
    assert result.condition is Condition.UNKNOWN


def test_ttft_rule_without_any_successful_measurement_is_unknown() -> None:
    result = evaluate(rule("ttft_baseline", 2.0), inp(ttft_p50_ms=None))
    assert result.condition is Condition.UNKNOWN


def test_tps_below_baseline_divided_by_factor_breaches() -> None:
    result = evaluate(rule("tps_baseline", 2.0), inp(tps_p50=20.0))
    assert result.condition is Condition.BREACH
    assert result.value == 4.0


def test_tps_near_baseline_is_ok() -> None:
    assert evaluate(rule("tps_baseline", 2.0), inp(tps_p50=60.0)).condition is Condition.OK


def test_no_success_for_longer_than_threshold_minutes_breaches() -> None:
    result = evaluate(rule("no_data", 10.0, 0), inp(last_ok_ts=NOW - 11 * 60))
    assert result.condition is Condition.BREACH
    assert round(result.value or 0) == 11


def test_recent_success_clears_no_data() -> None:
    assert evaluate(rule("no_data", 10.0, 0), inp(last_ok_ts=NOW - 60)).condition is Condition.OK


def test_endpoint_never_successful_counts_from_when_it_was_watched() -> None:
    result = evaluate(rule("no_data", 10.0, 0), inp(last_ok_ts=None, watched_since_ts=NOW - 900))
    assert result.condition is Condition.BREACH
    assert "no successful observation" in result.reason


def test_endpoint_never_watched_raises_no_data_alert() -> None:
    result = evaluate(rule("no_data", 10.0, 0), inp(last_ok_ts=None, watched_since_ts=None))
    assert result.condition is Condition.UNKNOWN


def test_defaults_apply_only_when_the_catalog_names_no_rule() -> None:
    assert rules_for(parse_catalog("")) == DEFAULT_RULES
    kinds = {r.kind for r in DEFAULT_RULES}
    assert kinds == {
        "error_rate",
        "ttft_baseline",
        "tps_baseline",
        "no_data",
        "route_escalation_rate",
    }
    own = parse_catalog('[[alert]]\nname = "x"\nkind = "no_data"\nthreshold = 5\n')
    assert [r.name for r in rules_for(own)] == ["x"]


@given(
    kind=st.sampled_from(["error_rate", "ttft_baseline", "tps_baseline"]),
    samples=st.floats(0, 4.99),
    error_rate=st.floats(0, 1),
    ttft=st.floats(1, 1e5),
    tps=st.floats(0.1, 1e4),
)
def test_below_min_samples_never_breaches(
    kind: str, samples: float, error_rate: float, ttft: float, tps: float
) -> None:
    result = evaluate(
        rule(kind, 1.5, min_samples=5),
        inp(samples=samples, error_rate=error_rate, ttft_p50_ms=ttft, tps_p50=tps),
    )
    assert result.condition is Condition.UNKNOWN
