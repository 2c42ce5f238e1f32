"""Pure selection: objectives, constraints, breaker, sharing, exploration, reasons."""

from __future__ import annotations

import pytest

from signalbox.catalog import RoutingSettings
from signalbox.records import Sample
from signalbox.routing.breaker import BreakerState
from signalbox.routing.objectives import Objective
from signalbox.routing.scoring import PriceInfo, RequestShape, score_all
from signalbox.routing.select import Candidate, Constraints, choose, rank, select
from signalbox.stats import EndpointStats

T0 = 1_700_000_000.0


def candidate(
    provider: str,
    ttft_ms: float = 200.0,
    tps: float = 50.0,
    fail_every: int = 0,
    price: tuple[float, float] | None = (1.0, 2.0),
    n: int = 40,
    region: str | None = None,
    breaker: BreakerState = BreakerState.CLOSED,
    last_ts: float = T0,
    trial: bool = False,
) -> Candidate:
    stats = EndpointStats(600, stale_after_s=300)
    for i in range(n):
        ok = not (fail_every and i % fail_every == 0)
        stats.add(Sample(last_ts - n + i + 1, ok=ok, ttft_ms=ttft_ms, tps=tps, e2e_ms=ttft_ms * 5))
    prices = PriceInfo(*price) if price else PriceInfo()
    return Candidate(
        key=f"{provider}/m",
        provider=provider,
        region=region,
        price=prices,
        snapshot=stats.snapshot(T0),
        breaker=breaker,
        retry_in_s=12.0 if breaker is BreakerState.OPEN else 0.0,
        trial_available=trial,
    )


NO_SHARE = RoutingSettings(share_buffer=0.0, explore_share=0.0)


@pytest.mark.parametrize(
    ("objective", "winner"),
    [
        (Objective.LATENCY, "fast"),
        (Objective.THROUGHPUT, "wide"),
        (Objective.COST, "cheap"),
    ],
)
def test_each_objective_picks_its_best(objective: Objective, winner: str) -> None:
    cands = [
        candidate("fast", ttft_ms=80, tps=40, price=(3, 6)),
        candidate("wide", ttft_ms=400, tps=200, price=(3, 6)),
        candidate("cheap", ttft_ms=600, tps=30, price=(0.1, 0.2)),
    ]
    decision = select("m", cands, objective, settings=NO_SHARE)
    assert decision.chosen is not None
    assert decision.chosen.provider == winner
    assert decision.chosen.score == 1.0
    assert winner in decision.reason


def test_e2e_trades_ttft_against_decode_speed() -> None:
    cands = [
        candidate("quick-start", ttft_ms=100, tps=20),
        candidate("fast-decode", ttft_ms=500, tps=200),
    ]
    long = select("m", cands, Objective.E2E, RequestShape(100, 1000), settings=NO_SHARE)
    short = select("m", cands, Objective.E2E, RequestShape(100, 5), settings=NO_SHARE)
    assert long.chosen is not None and long.chosen.provider == "fast-decode"
    assert short.chosen is not None and short.chosen.provider == "quick-start"


def test_failures_lower_the_score_by_success_probability() -> None:
    flaky = candidate("flaky", ttft_ms=100, fail_every=2)
    solid = candidate("solid", ttft_ms=120)
    decision = select("m", [flaky, solid], Objective.LATENCY, settings=NO_SHARE)
    assert decision.chosen is not None and decision.chosen.provider == "solid"


def test_constraints_exclude_with_reasons_and_503_reason_lists_them() -> None:
    cands = [
        candidate("a", ttft_ms=900, region="us"),
        candidate("b", tps=5, region="us"),
        candidate("c", price=(50, 50), region="us"),
        candidate("d", breaker=BreakerState.OPEN, region="us", price=(50, 50)),
        candidate("e", region="eu"),
        candidate("f", fail_every=2, region="us"),
    ]
    cons = Constraints(max_ttft_ms=500, min_tps=10, max_price=10, region="us", max_error_rate=0.2)
    decision = select("m", cands, Objective.LATENCY, constraints=cons)
    assert decision.chosen is None
    reasons = dict(decision.excluded)
    assert "max_ttft_ms" in reasons["a"]
    assert "min_tps" in reasons["b"]
    assert "max_price" in reasons["c"]
    assert "circuit open" in reasons["d"]
    assert "region" in reasons["e"]
    assert "max_error_rate" in reasons["f"]
    assert decision.reason.startswith("no endpoint qualifies")


def test_only_ignore_and_order() -> None:
    cands = [candidate("a", ttft_ms=100), candidate("b", ttft_ms=200), candidate("c", ttft_ms=300)]
    only = select(
        "m", cands, Objective.LATENCY, constraints=Constraints(only=frozenset({"b", "c"}))
    )
    assert [r.provider for r in only.ranking] == ["b", "c"]
    ignore = select("m", cands, Objective.LATENCY, constraints=Constraints(ignore=frozenset({"a"})))
    assert ignore.chosen is not None and ignore.chosen.provider == "b"
    order = select("m", cands, Objective.LATENCY, constraints=Constraints(order=("c", "b")))
    assert [r.provider for r in order.ranking] == ["c", "b", "a"]
    assert "provider order" in order.reason


def test_near_best_endpoints_share_traffic() -> None:
    cands = [candidate("a", ttft_ms=100), candidate("b", ttft_ms=102), candidate("c", ttft_ms=300)]
    settings = RoutingSettings(share_buffer=0.05, explore_share=0.0)
    picks = {
        select("m", cands, Objective.LATENCY, settings=settings, u_share=u / 10).chosen.provider  # type: ignore[union-attr]
        for u in range(10)
    }
    assert picks == {"a", "b"}


def test_stale_endpoint_gets_explored_with_small_probability() -> None:
    cands = [candidate("good", ttft_ms=100), candidate("old", ttft_ms=150, last_ts=T0 - 3600)]
    settings = RoutingSettings(share_buffer=0.0, explore_share=0.1)
    explore = select("m", cands, Objective.LATENCY, settings=settings, u_explore=0.05)
    exploit = select("m", cands, Objective.LATENCY, settings=settings, u_explore=0.5)
    assert explore.chosen is not None and explore.chosen.provider == "old"
    assert explore.explored and "exploring" in explore.reason
    assert exploit.chosen is not None and exploit.chosen.provider == "good"
    assert {r.state for r in exploit.ranking} == {"healthy", "stale"}


def test_half_open_trial_goes_first_only_when_allowed() -> None:
    cands = [
        candidate("good", ttft_ms=100),
        candidate("recovering", ttft_ms=120, breaker=BreakerState.HALF_OPEN, trial=True),
    ]
    proxied = select("m", cands, Objective.LATENCY, settings=NO_SHARE, allow_trial=True)
    advised = select("m", cands, Objective.LATENCY, settings=NO_SHARE)
    assert proxied.chosen is not None and proxied.chosen.provider == "recovering" and proxied.trial
    assert advised.chosen is not None and advised.chosen.provider == "good"


def test_no_data_anywhere_spreads_evenly() -> None:
    cands = [candidate("a", n=0), candidate("b", n=0)]
    picks = {select("m", cands, Objective.LATENCY, u_share=u).chosen.provider for u in (0.1, 0.9)}  # type: ignore[union-attr]
    assert picks == {"a", "b"}


def test_balanced_blends_and_ignores_unknown_prices() -> None:
    snaps = [
        candidate("a", ttft_ms=100, tps=100, price=None).snapshot,
        candidate("b", ttft_ms=200, tps=50, price=None).snapshot,
    ]
    scores = score_all(snaps, [PriceInfo(), PriceInfo()], Objective.BALANCED, RequestShape())
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] == pytest.approx(0.5, rel=0.05)


def test_stale_estimate_is_read_pessimistically() -> None:
    stats = EndpointStats(600, stale_after_s=300)
    for i in range(50):
        stats.add(
            Sample(T0 + i, ok=True, ttft_ms=100.0 if i % 2 else 300.0, tps=50.0 if i % 2 else 150.0)
        )
    fresh, stale = stats.snapshot(T0 + 60), stats.snapshot(T0 + 1000)
    assert stale.stale and not fresh.stale
    latency = score_all(
        [fresh, stale], [PriceInfo(), PriceInfo()], Objective.LATENCY, RequestShape()
    )
    throughput = score_all(
        [fresh, stale], [PriceInfo(), PriceInfo()], Objective.THROUGHPUT, RequestShape()
    )
    assert latency[1] < latency[0] and throughput[1] < throughput[0]


@pytest.mark.parametrize("allow_trial", [False, True])
def test_a_memo_beside_the_ranking_gives_the_same_decisions_as_building_each(
    allow_trial: bool,
) -> None:
    # given a ranking where every rule can fire: sharing, exploration, a half-open trial
    cands = [
        candidate("a", ttft_ms=100),
        candidate("b", ttft_ms=101),
        candidate("old", ttft_ms=150, last_ts=T0 - 3600),
        candidate("thin", ttft_ms=160, n=1),
        candidate("trial", ttft_ms=400, breaker=BreakerState.HALF_OPEN, trial=True),
    ]
    settings = RoutingSettings(share_buffer=0.05, explore_share=0.3)
    ranking = rank("m", cands, Objective.LATENCY)
    memo: dict = {}
    # when the same draws are decided with and without the memo
    for i in range(50):
        u_explore, u_share = (i % 10) / 10, (i * 7 % 10) / 10
        plain = choose(ranking, settings, u_explore, u_share, allow_trial)
        cached = choose(ranking, settings, u_explore, u_share, allow_trial, memo)
        # then every field agrees, and the memo holds one decision per distinct rule and pick
        assert cached == plain
    kinds = {kind for kind, _ in memo}
    assert kinds == ({"trial"} if allow_trial else {"share", "explore"})
    assert {d.chosen.provider for d in memo.values()} >= ({"trial"} if allow_trial else {"a", "b"})
    assert len(memo) <= len(cands) * 2


def test_when_every_allowed_endpoint_is_open_the_best_is_tried_anyway() -> None:
    cands = [
        candidate("a", ttft_ms=100, breaker=BreakerState.OPEN),
        candidate("b", ttft_ms=200, breaker=BreakerState.OPEN),
        candidate("c", ttft_ms=50, region="eu"),
    ]
    # c is excluded by the app's constraint, a and b only by their breakers: panic mode
    decision = select(
        "m", cands, Objective.LATENCY, constraints=Constraints(region=None, ignore=frozenset({"c"}))
    )
    assert decision.chosen is not None and decision.chosen.provider == "a"
    assert [r.provider for r in decision.ranking] == ["a", "b"]
    assert {r.state for r in decision.ranking} == {"open"}
    assert "circuit is open" in decision.reason
    assert dict(decision.excluded) == {"c": "ignored"}
    # with one endpoint closed, the open ones stay excluded
    healthy = [*cands[:2], candidate("c", ttft_ms=300)]
    normal = select("m", healthy, Objective.LATENCY)
    assert [r.provider for r in normal.ranking] == ["c"]
    assert "circuit open" in dict(normal.excluded)["a"]
