"""Reason kinds: every selection rule's reason text maps to its kind (not "other")."""

from __future__ import annotations

from dataclasses import replace

import pytest

from signalbox.catalog import RoutingSettings
from signalbox.dashboard.reasons import OTHER, reason_kind
from signalbox.routing.breaker import BreakerState
from signalbox.routing.objectives import Objective
from signalbox.routing.scoring import PriceInfo
from signalbox.routing.select import Candidate, Constraints, choose, rank
from signalbox.stats import EndpointSnapshot


def _candidate(
    provider: str, tps: float | None, samples: float = 50.0, **extra: object
) -> Candidate:
    snap = EndpointSnapshot.point(samples, 0.0, None if tps is None else 200.0, tps)
    return Candidate(
        key=f"{provider}/m",
        provider=provider,
        region=None,
        price=PriceInfo(1.0, 2.0),
        snapshot=snap,
        **extra,  # type: ignore[arg-type]
    )


def _reason(candidates: list[Candidate], **choice: object) -> str:
    constraints = choice.pop("constraints", Constraints())
    settings = choice.pop("settings", RoutingSettings(share_buffer=0.0, explore_share=0.0))
    ranking = rank("m", candidates, Objective.THROUGHPUT, constraints=constraints)
    return choose(ranking, settings, **choice).reason  # type: ignore[arg-type]


FAST, SLOW = _candidate("fast", 100.0), _candidate("slow", 50.0)


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        (_reason([FAST, SLOW]), "best for throughput"),
        (
            _reason(
                [FAST, _candidate("close", 99.0)],
                settings=RoutingSettings(share_buffer=0.05, explore_share=0.0),
                u_share=0.0,
            ),
            "shares within 5% of best",
        ),
        (
            _reason([FAST, SLOW], constraints=Constraints(order=("slow",))),
            "the app's provider order",
        ),
        (
            _reason(
                [replace(FAST, breaker=BreakerState.OPEN), replace(SLOW, breaker=BreakerState.OPEN)]
            ),
            "panic: every circuit open",
        ),
        (
            _reason(
                [FAST, replace(SLOW, breaker=BreakerState.HALF_OPEN, trial_available=True)],
                allow_trial=True,
            ),
            "half-open trial",
        ),
        (
            _reason(
                [FAST, _candidate("new", 40.0, samples=0.5)],
                settings=RoutingSettings(share_buffer=0.0, explore_share=0.5),
                u_explore=0.0,
            ),
            "exploring: few samples",
        ),
        (_reason([_candidate("a", None), _candidate("b", None)]), "no data yet: shared evenly"),
        (_reason([FAST], constraints=Constraints(ignore=frozenset({"fast"}))), "nothing qualified"),
    ],
)
def test_each_selection_rule_has_its_reason_kind(reason: str, kind: str) -> None:
    assert reason_kind(reason) == kind


def test_an_unknown_reason_is_other() -> None:
    assert reason_kind("something new") == OTHER
