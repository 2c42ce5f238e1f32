"""The prober's schedule: jobs, one probe per endpoint, budget, sooner probes, traffic coverage,
reload, shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import Engine

from signalbox.catalog import ProbeSettings, ProbeShape
from signalbox.db import make_engine
from signalbox.probe.budget import Budget
from signalbox.probe.coverage import TrafficCoverage
from signalbox.probe.runner import Target
from signalbox.probe.scheduler import Prober
from signalbox.records import Observation, Source
from tests.alerts.fleet import fleet_catalog, sync
from tests.probe.conftest import make_target
from tests.probe.scripted_server import DONE, Script, ScriptedServer, openai_chunk, openai_usage
from tests.probe.test_coverage import insert


def ok_script(pause_s: float = 0.0) -> Script:
    """A short successful stream, optionally pausing before its second chunk."""
    writes = [(0, openai_chunk("a")), (pause_s, openai_chunk("b", finish="stop"))]
    return Script([*writes, (0, openai_usage(10, 2)), (0, DONE)])


def settings(interval_s: float = 0.2, **kwargs: object) -> ProbeSettings:
    return ProbeSettings(
        interval_s=interval_s, jitter_s=0, ttft_timeout_s=5, total_timeout_s=10, **kwargs
    )  # type: ignore[arg-type]


async def wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.01)


def targets_for(server: ScriptedServer, names: list[str], script: Script) -> list[Target]:
    out = []
    for i, name in enumerate(names, start=1):
        server.scripts[name] = script
        out.append(make_target(server.url(name), name=name, endpoint_id=i))
    return out


async def test_every_endpoint_is_probed_on_schedule_and_observations_reach_the_sink(
    scripted: ScriptedServer,
) -> None:
    got: list[Observation] = []
    prober = Prober(targets_for(scripted, ["a", "b", "c"], ok_script()), settings(), got.append)
    await prober.start()
    try:
        await wait_for(lambda: all(sum(o.endpoint_id == i for o in got) >= 2 for i in (1, 2, 3)))
    finally:
        await prober.stop()
    assert all(o.ok for o in got)
    assert {o.loop_lag_ms is not None for o in got} == {True}


async def test_at_most_one_probe_is_in_flight_per_endpoint_across_shapes(
    scripted: ScriptedServer,
) -> None:
    base = targets_for(scripted, ["solo"], ok_script(pause_s=0.3))[0]
    shapes = [ProbeShape(name="short"), ProbeShape(name="long", max_tokens=32)]
    targets = [dataclasses.replace(base, shape=s) for s in shapes]
    got: list[Observation] = []
    prober = Prober(targets, settings(interval_s=0.05), got.append)
    await prober.start()
    try:
        await wait_for(lambda: len(got) >= 4)
    finally:
        await prober.stop()
    assert scripted.max_active["solo"] == 1
    assert {o.probe_shape for o in got} == {"short", "long"}


async def test_a_spent_budget_pauses_probing_until_the_next_utc_day(
    scripted: ScriptedServer,
) -> None:
    day = [date(2026, 1, 1)]
    budget = Budget(1e-9, today=lambda: day[0])  # the first probe spends more than this
    got: list[Observation] = []
    prober = Prober(
        targets_for(scripted, ["paid"], ok_script()), settings(0.05), got.append, budget=budget
    )
    await prober.start()
    try:
        await wait_for(lambda: budget.skipped >= 3)
        assert len(got) == 1 and prober.metrics()["budget_paused"] == 1.0
        day[0] = date(2026, 1, 2)
        await wait_for(lambda: len(got) >= 2)
    finally:
        await prober.stop()


async def test_probe_soon_brings_an_endpoints_next_probe_forward(scripted: ScriptedServer) -> None:
    got: list[Observation] = []
    targets = targets_for(scripted, ["first", "later"], ok_script())
    prober = Prober(targets, settings(interval_s=3600), got.append)
    await prober.start()
    try:
        await wait_for(lambda: len(got) >= 1)  # the first job runs right away, the other in 30 min
        assert {o.endpoint_id for o in got} == {1}
        prober.probe_soon([2])
        await wait_for(lambda: any(o.endpoint_id == 2 for o in got))
    finally:
        await prober.stop()


async def test_reload_keeps_in_flight_probes_and_applies_the_new_targets(
    scripted: ScriptedServer,
) -> None:
    got: list[Observation] = []
    old = targets_for(scripted, ["old"], ok_script(pause_s=0.5))
    prober = Prober(old, settings(interval_s=3600), got.append)
    await prober.start()
    try:
        await wait_for(lambda: scripted.active.get("old", 0) == 1)
        new = [
            dataclasses.replace(t, endpoint_id=2)
            for t in targets_for(scripted, ["new"], ok_script())
        ]
        await prober.reload(new, settings(interval_s=3600))
        await wait_for(lambda: {o.endpoint_id for o in got} == {1, 2})
        assert prober.job_ids == [new[0].job_id]
    finally:
        await prober.stop()
    assert all(o.ok for o in got)


async def test_a_run_that_finds_the_last_probe_still_running_is_counted_not_logged(
    scripted: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[Observation] = []
    prober = Prober(
        targets_for(scripted, ["slow"], ok_script(pause_s=1.0)), settings(0.2), got.append
    )
    await prober.start()
    try:
        await wait_for(lambda: prober.counts["skipped_running"] >= 2)
    finally:
        await prober.stop()
    assert scripted.max_active["slow"] == 1
    assert "signalbox_probe_skipped_running " in prober.metrics_text()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


async def test_stop_lets_in_flight_probes_finish_and_hands_them_over(
    scripted: ScriptedServer,
) -> None:
    got: list[Observation] = []
    prober = Prober(
        targets_for(scripted, ["finishing"], ok_script(pause_s=0.3)), settings(3600), got.append
    )
    await prober.start()
    await wait_for(lambda: scripted.active.get("finishing", 0) == 1)
    await prober.stop(grace_s=5)
    assert len(got) == 1 and got[0].ok


async def test_stop_cuts_probes_that_outlive_the_grace_period(scripted: ScriptedServer) -> None:
    got: list[Observation] = []
    prober = Prober(
        targets_for(scripted, ["stuck"], ok_script(pause_s=5)), settings(3600), got.append
    )
    await prober.start()
    await wait_for(lambda: scripted.active.get("stuck", 0) == 1)
    await prober.stop(grace_s=0.1)
    assert got == [] and prober.counts["cut"] == 1


async def test_observations_taken_under_loop_lag_over_the_threshold_are_dropped(
    scripted: ScriptedServer,
) -> None:
    got: list[Observation] = []
    prober = Prober(
        targets_for(scripted, ["lagged"], ok_script()), settings(0.05), got.append, drop_lag_ms=-1
    )
    await prober.start()
    try:
        await wait_for(lambda: prober.counts["dropped_lag"] >= 2)
    finally:
        await prober.stop()
    assert got == []


async def test_probe_once_probes_every_target_once(scripted: ScriptedServer) -> None:
    got: list[Observation] = []
    prober = Prober(targets_for(scripted, ["x", "y"], ok_script()), settings(3600), got.append)
    await prober.start(schedule=False)
    try:
        observations = await prober.probe_once()
    finally:
        await prober.stop()
    assert sorted(o.endpoint_id for o in observations) == [1, 2]
    assert got == observations
    assert "signalbox_probe_ok 2" in prober.metrics_text()


def served(sqlite_url: str, age_s: float) -> tuple[Engine, dict[str, int], TrafficCoverage]:
    """A store of the fleet where "alpha" served a request ``age_s`` ago, and its coverage read
    over the last hour."""
    engine = make_engine(sqlite_url)
    ids = sync(engine, fleet_catalog())
    insert(engine, ids["alpha"], time.time() - age_s, Source.TRAFFIC)
    coverage = TrafficCoverage(engine)
    coverage.refresh(3600)
    return engine, ids, coverage


@pytest.mark.parametrize("skip", [True, False])
async def test_the_scheduler_skips_endpoints_that_traffic_measured(
    scripted: ScriptedServer, sqlite_url: str, skip: bool
) -> None:
    # given the router just proxied a request to "busy", and none to "idle"
    engine, ids, coverage = served(sqlite_url, age_s=0)
    busy, idle = ids["alpha"], ids["bravo"]
    targets = [
        make_target(scripted.url("busy"), name="busy", endpoint_id=busy),
        make_target(scripted.url("idle"), name="idle", endpoint_id=idle),
    ]
    scripted.scripts["busy"] = scripted.scripts["idle"] = ok_script()
    got: list[Observation] = []
    prober = Prober(
        targets, settings(interval_s=3600, skip_with_traffic=skip), got.append, coverage=coverage
    )
    await prober.start()
    try:
        # when "busy" comes due on its schedule (at once; "idle" half an interval later)
        await wait_for(
            lambda: (
                prober.metrics().get("skipped_traffic", 0) >= 1
                or any(o.endpoint_id == busy for o in got)
            )
        )
    finally:
        await prober.stop()
        engine.dispose()
    # then the one with fresh traffic was not probed (unless skipping is turned off)
    assert any(o.endpoint_id == busy for o in got) is not skip
    assert ("skipped_traffic" in prober.metrics()) is skip


async def test_a_probe_the_router_asks_for_goes_even_where_traffic_measured(
    scripted: ScriptedServer, sqlite_url: str
) -> None:
    # given "busy" served traffic a moment ago (then, say, its circuit opened: the router asks)
    engine, ids, coverage = served(sqlite_url, age_s=0)
    busy = ids["alpha"]
    scripted.scripts["busy"] = scripted.scripts["later"] = ok_script()
    targets = [
        make_target(scripted.url("busy"), name="busy", endpoint_id=busy),
        make_target(scripted.url("later"), name="later", endpoint_id=ids["bravo"]),
    ]
    got: list[Observation] = []
    prober = Prober(
        targets, settings(interval_s=3600, skip_with_traffic=True), got.append, coverage=coverage
    )
    await prober.start()
    try:
        await wait_for(lambda: prober.metrics().get("skipped_traffic", 0) >= 1)  # its turn
        # when the router asks for a sooner probe of it
        prober.probe_soon([busy])
        # then it is probed, coverage notwithstanding
        await wait_for(lambda: any(o.endpoint_id == busy for o in got))
    finally:
        await prober.stop()
        engine.dispose()
    assert prober.metrics()["skipped_traffic"] == 1
    assert prober.metrics()["soon"] == 1


async def test_a_skipped_endpoint_is_probed_once_its_traffic_is_an_interval_old(
    scripted: ScriptedServer, sqlite_url: str
) -> None:
    # given an endpoint whose last request was 59 s ago (its traffic went elsewhere since)
    engine, ids, coverage = served(sqlite_url, age_s=59)
    quiet = ids["alpha"]
    scripted.scripts["quiet"] = ok_script()
    targets = [make_target(scripted.url("quiet"), name="quiet", endpoint_id=quiet)]
    got: list[Observation] = []
    prober = Prober(
        targets, settings(interval_s=60, skip_with_traffic=True), got.append, coverage=coverage
    )
    await prober.start()
    try:
        # when its scheduled run comes due (at once) and is skipped for that traffic
        await wait_for(lambda: prober.metrics().get("skipped_traffic", 0) >= 1)
        # then it is probed when that traffic is 60 s old, not a whole interval after the skip
        await wait_for(lambda: len(got) == 1)
    finally:
        await prober.stop()
        engine.dispose()
    assert prober.metrics()["skipped_traffic"] == 1
