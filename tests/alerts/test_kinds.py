"""The alert-kind table drives validation and the feed; every rule's statistics half-life is its own
``half_life_s``, never the router's half-life capped behind the reader's back."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from signalbox.alerts.evaluator import AlertEvaluator
from signalbox.alerts.feed import StatsFeed, baseline_lag_s
from signalbox.alerts.rules import ALERT_KINDS, Condition, RuleInput, evaluate
from signalbox.catalog import AlertRule, CatalogError, parse_catalog
from tests.alerts.fleet import FLEET_TOML, T0, Fleet, fleet_catalog, sync

KINDS = list(ALERT_KINDS)


def test_every_kind_is_accepted_by_the_catalog_and_others_are_refused_with_the_list() -> None:
    rules = "".join(f'[[alert]]\nname = "{k}"\nkind = "{k}"\nthreshold = 2\n' for k in KINDS)
    assert [r.kind for r in parse_catalog(rules).alerts] == KINDS
    with pytest.raises(CatalogError) as info:
        parse_catalog('[[alert]]\nname = "x"\nkind = "vibes"\nthreshold = 2\n')
    (problem,) = info.value.problems
    assert problem.startswith("alert[0].kind: Input should be ")
    assert all(f"'{k}'" in problem for k in KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_describes_itself_and_evaluates(kind: str) -> None:
    assert ALERT_KINDS[kind].description
    inp = RuleInput(T0, 0.0, 0.0, None, None, None, None)  # nothing seen yet
    assert evaluate(AlertRule(name="r", kind=kind, threshold=2), inp).condition is Condition.UNKNOWN


def test_the_feed_keeps_baselines_only_for_kinds_that_use_one() -> None:
    rules = [
        AlertRule(name=k, kind=k, threshold=2, half_life_s=60, baseline_half_life_s=3600)
        for k in KINDS
    ]
    feed = StatsFeed(None, rules=rules)  # type: ignore[arg-type]  # no store needed to plan
    users = [r for r in rules if ALERT_KINDS[r.kind].uses_baseline]
    assert {r.kind for r in users} == {"ttft_baseline", "tps_baseline"}
    assert feed.baselines == {baseline_lag_s(users[0]): (3600.0,)}
    assert StatsFeed(None, rules=[rules[0]]).baselines == {}  # type: ignore[arg-type]


def test_each_rule_reads_its_own_half_life_whatever_the_router_uses(engine: Engine) -> None:
    rules = (
        '[[alert]]\nname = "quick"\nkind = "error_rate"\nthreshold = 0.5\nhalf_life_s = 30\n'
        '[[alert]]\nname = "calm"\nkind = "error_rate"\nthreshold = 0.5\nhalf_life_s = 900\n'
    )
    fleet = Fleet(engine, sync(engine, fleet_catalog(rules)))
    for i in range(60):  # ten minutes up, then one minute down
        fleet.behaviour["alpha"].ok = i < 54
        fleet.observe(T0 + 10 * i)
    inputs = {}
    for router_half_life in (60, 7200):
        catalog = parse_catalog(
            FLEET_TOML + rules + f"[routing]\nhalf_life_s = {router_half_life}\n"
        )
        evaluator = AlertEvaluator(engine, catalog, clock=lambda: T0 + 600, env={})
        assert evaluator.feed.half_lives_s == (30.0, 900.0)
        evaluator.feed.warm(T0 + 600, fleet.endpoint_ids.values())
        quick, calm = (
            evaluator.feed.rule_input(fleet.endpoint_ids["alpha"], rule, T0 + 600)
            for rule in catalog.alerts
        )
        inputs[router_half_life] = (quick, calm)
    assert inputs[60] == inputs[7200]  # the router's half-life plays no part
    quick, calm = inputs[60]
    assert quick.error_rate > 0.5 > calm.error_rate  # a 30 s half-life sees the minute down
