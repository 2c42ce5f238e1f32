"""Replay ranks as the router ranks: the same books, breakers, settings, constraints and draws."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from signalbox.catalog import parse_catalog
from signalbox.records import ErrorClass, Sample
from signalbox.replay import OBS_SCHEMA, ReplayEndpoint, replay
from signalbox.router.live import LiveState
from signalbox.routing.objectives import Objective
from signalbox.routing.scoring import PriceInfo, RequestShape
from signalbox.routing.select import Constraints, choose, rank
from tests.core.factories import CATALOG_TOML as CATALOG

START = datetime(2026, 11, 1, tzinfo=UTC)
MODEL = "llama-3.1-70b"
PRICES = {"alpha": (0.5, 1.5), "beta": (0.2, 0.6)}  # as CATALOG says
BREAKER = "[routing.breaker]\nfailure_threshold = 3\ncooldown_s = 120\nmax_cooldown_s = 600\n"
# a breaker that never opens: what replay did before it had breakers
NO_BREAKER = "[routing.breaker]\nfailure_threshold = 100000\nerror_rate_threshold = 1.0\n"
OUTAGE = (20 * 60, 30 * 60)  # alpha fails every probe from minute 20 to minute 30


def history(minutes: int = 40) -> list[dict]:
    """Probes every 10 s: alpha fast (150 tok/s) but down during OUTAGE, beta steady at 50."""
    rows = []
    for i in range(minutes * 6):
        offset = 5 + 10 * i
        for eid, provider, tps in ((1, "alpha", 150.0), (2, "beta", 50.0)):
            ok = not (provider == "alpha" and OUTAGE[0] <= offset < OUTAGE[1])
            rows.append(
                {
                    "endpoint_id": eid,
                    "ts": START + timedelta(seconds=offset),
                    "source": "probe",
                    "ok": ok,
                    "error_class": None if ok else ErrorClass.CONNECT.value,
                    "ttft_ms": 300.0 if ok else None,
                    "tps": tps if ok else None,
                }
            )
    return rows


ENDPOINTS = [
    ReplayEndpoint(1, "alpha", PriceInfo(*PRICES["alpha"])),
    ReplayEndpoint(2, "beta", PriceInfo(*PRICES["beta"])),
]


def run(routing: str, minutes: int = 40, **kwargs: object):  # type: ignore[no-untyped-def]
    catalog = parse_catalog(CATALOG + routing)
    report = replay(
        pl.DataFrame(history(minutes), schema=OBS_SCHEMA),
        ENDPOINTS,
        model=MODEL,
        since=START,
        until=START + timedelta(minutes=minutes),
        objective=Objective.THROUGHPUT,
        step_s=60,
        settings=catalog.routing,
        **kwargs,  # type: ignore[arg-type]
    )
    return catalog, report


def router_choices(routing: str, seed: int, minutes: int = 40) -> list[tuple[float, str | None]]:
    """What the router itself decides at each minute, its LiveState fed the same history as its
    store follower would feed it, with the same draws."""
    catalog = parse_catalog(CATALOG + routing)
    live = LiveState(
        catalog,
        clock=lambda: 0.0,
        resolve_price=lambda ref: PriceInfo(*PRICES[ref.provider.name]),
    )
    rows = sorted(history(minutes), key=lambda r: r["ts"])
    rng = random.Random(seed)
    out: list[tuple[float, str | None]] = []
    for step in range(minutes):
        now = (START + timedelta(minutes=step)).timestamp()
        while rows and rows[0]["ts"].timestamp() < now:
            row = rows.pop(0)
            name = "alpha" if row["endpoint_id"] == 1 else "beta"
            live.observe(f"{name}/{MODEL}", Sample.from_row(row | {"itl_ms": None, "e2e_ms": None}))
        objective = Objective.THROUGHPUT
        ranking = rank(MODEL, live.candidates(MODEL, objective, now), objective, RequestShape())
        decision = choose(ranking, catalog.routing, rng.random(), rng.random())
        out.append((now, decision.chosen.provider if decision.chosen else None))
    return out


def in_outage(timeline: list[tuple[float, str | None]]) -> list[str | None]:
    """The choices at the minutes alpha's circuit is open (from the minute after it opened)."""
    begin, end = (START.timestamp() + s for s in OUTAGE)
    return [p for t, p in timeline if begin + 60 <= t <= end]


def test_an_outage_that_opens_the_breaker_makes_replay_avoid_the_endpoint_as_the_router_does() -> (
    None
):
    _, report = run(BREAKER, seed=3)
    assert report.steps == 40
    assert report.timeline == router_choices(BREAKER, seed=3)
    assert set(in_outage(report.timeline)) == {"beta"}
    # and once a probe succeeds again the breaker closes and the fast provider is back
    assert report.timeline[-1][1] == "alpha"


def test_without_breakers_replay_would_have_stayed_on_the_failing_endpoint() -> None:
    _, report = run(NO_BREAKER, seed=3)
    assert report.timeline == router_choices(NO_BREAKER, seed=3)
    assert "alpha" in in_outage(report.timeline)


def test_breaker_settings_reach_replay() -> None:
    slow_to_open = BREAKER.replace("failure_threshold = 3", "failure_threshold = 50")
    _, strict = run(BREAKER, seed=1)
    _, lenient = run(slow_to_open, seed=1)
    assert in_outage(strict.timeline).count("alpha") < in_outage(lenient.timeline).count("alpha")


def test_constraints_are_honoured() -> None:
    _, ignoring = run("", constraints=Constraints(ignore=frozenset({"alpha"})))
    assert ignoring.policy.choices == {"beta": ignoring.steps}
    assert ignoring.policy.unserved == 0
    _, cheap = run("", constraints=Constraints(max_price=0.1))  # nobody is that cheap
    assert cheap.policy.choices == {} and cheap.policy.unserved == cheap.steps
    assert cheap.policy.summary()["error_rate"] == pytest.approx(1.0)
    assert {p for _, p in cheap.timeline} == {None}


def test_the_seed_fixes_sharing_and_exploration_draws() -> None:
    share = "[routing]\nshare_buffer = 1.0\n"  # everybody within reach: every step is a draw
    _, a = run(share, minutes=20, seed=7)
    _, b = run(share, minutes=20, seed=7)
    _, c = run(share, minutes=20, seed=8)
    assert a.timeline == b.timeline != c.timeline
    assert set(a.policy.choices) == {"alpha", "beta"}


def test_an_endpoint_not_observed_in_a_step_keeps_its_outcome_for_stale_after_s() -> None:
    # beta is probed every 3 minutes only: with 1-minute steps most steps miss it
    rows = [r for r in history(30) if r["endpoint_id"] == 1 or r["ts"].minute % 3 == 0]
    frame = pl.DataFrame(rows, schema=OBS_SCHEMA)
    kwargs = dict(model=MODEL, since=START, until=START + timedelta(minutes=30), step_s=60)
    report = replay(frame, ENDPOINTS, **kwargs)  # type: ignore[arg-type]
    assert report.steps == 30 and report.carried == 20
    strict = parse_catalog(CATALOG + "[routing]\nstale_after_s = 30\n").routing
    report = replay(frame, ENDPOINTS, settings=strict, **kwargs)  # type: ignore[arg-type]
    assert report.steps == 10 and report.carried == 0
