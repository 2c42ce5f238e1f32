"""End to end with the simulated fleet: real probes over loopback → store → alerts → webhook.

The probes are real (the probe package's protocol functions against the simulator); only their
timestamps follow a fake clock, so minutes of fleet life pass in seconds without any sleep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import Engine

from signalbox.alerts.evaluator import AlertEvaluator
from signalbox.alerts.notify import RetryPolicy
from signalbox.catalog import parse_catalog
from signalbox.db import make_engine
from signalbox.probe.runner import Target, Timeouts, make_client, probe_target
from signalbox.probe.targets import build_targets
from signalbox.simulator.catalog import api_key_environment, catalog_toml
from signalbox.simulator.scenario import parse_scenario
from signalbox.simulator.testing import SimulatorThread
from signalbox.sync import sync_catalog
from signalbox.writer import insert_observations
from tests.alerts.fleet import OUTAGE_RULE, FakeClock, Receiver, webhook_toml

pytestmark = pytest.mark.slow

SCENARIO = """
name = "alerts"
description = "Two steady providers for the alerting tests."
seed = 11

[defaults]
ttft_median_ms = 20.0
ttft_sigma = 0.05
tps = 2000.0
output_tokens_median = 16
output_tokens_sigma = 0.1

[[provider]]
name = "alpha"
dialect = "openai"
[[provider.model]]
model = "llama-3.1-70b"
upstream = "llama-70b"
price_input_per_mtok = 0.5
price_output_per_mtok = 1.0

[[provider]]
name = "bravo"
dialect = "openai"
[[provider.model]]
model = "llama-3.1-70b"
upstream = "llama-70b"
price_input_per_mtok = 0.5
price_output_per_mtok = 1.0
"""

SLOW_TTFT_RULE = """
[[alert]]
name = "ttft_slow"
kind = "ttft_baseline"
threshold = 2.0
for_s = 60
min_samples = 4
half_life_s = 60
baseline_half_life_s = 3600
"""

STEP_S = 10.0
FAST = RetryPolicy(max_attempts=6, base_s=0.01, max_s=0.05, budget_s=5.0)
TIMEOUTS = Timeouts(connect_s=2.0, ttft_s=5.0, total_s=10.0)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(parse_scenario(SCENARIO)) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


class ProbedFleet:
    """Probes every endpoint once per step and stores the observations at fake-clock time."""

    def __init__(self, engine: Engine, targets: list[Target], clock: FakeClock) -> None:
        self.engine, self.targets, self.clock = engine, targets, clock

    async def step(self, client: httpx.AsyncClient) -> None:
        self.clock.advance(STEP_S)
        when = datetime.fromtimestamp(self.clock(), UTC)
        rows = []
        for target in self.targets:
            obs = await probe_target(client, target, timeouts=TIMEOUTS)
            obs.ts = when
            rows.append(obs.to_row())
        insert_observations(self.engine, rows)


async def setup(
    sqlite_url: str, sim: SimulatorThread, clock: FakeClock, *extra: str
) -> tuple[Engine, ProbedFleet, AlertEvaluator]:
    engine = make_engine(sqlite_url)
    text = catalog_toml(sim.scenario, sim.base_url) + "".join(extra)
    catalog = parse_catalog(text)
    ids = sync_catalog(engine, catalog).endpoint_ids
    targets = build_targets(catalog, ids, api_key_environment(sim.scenario))
    return (
        engine,
        ProbedFleet(engine, targets, clock),
        AlertEvaluator(
            engine,
            catalog,
            clock=clock,
            http_client=httpx.AsyncClient(timeout=5),
            env={},
            retry=FAST,
        ),
    )


async def run_for(
    seconds: float, fleet: ProbedFleet, evaluator: AlertEvaluator, client: httpx.AsyncClient
) -> None:
    for _ in range(round(seconds / STEP_S)):
        await fleet.step(client)
        await evaluator.evaluate_once()


async def test_simulated_outage_fires_once_and_resolves_once(
    sqlite_url: str,
    sim: SimulatorThread,
    receiver: Receiver,
    clock: FakeClock,
    client: httpx.AsyncClient,
) -> None:
    engine, fleet, evaluator = await setup(
        sqlite_url, sim, clock, OUTAGE_RULE, webhook_toml("oncall", receiver.url)
    )
    try:
        await run_for(300, fleet, evaluator, client)
        assert receiver.messages == []
        sim.fault("alpha", "outage")
        down_at = clock()
        while not receiver.messages and clock() < down_at + 600:
            await run_for(STEP_S, fleet, evaluator, client)
        fired_after_s = clock() - down_at
        await run_for(120, fleet, evaluator, client)
        (firing,) = receiver.by_status("firing")
        assert [a["labels"]["provider"] for a in firing["alerts"]] == ["alpha"]
        # breach needs a few failed probes (half-life 60 s), then for_s = 30 s, then one interval
        assert fired_after_s <= 60 + 30 + STEP_S

        sim.fault("alpha", "clear")
        await run_for(600, fleet, evaluator, client)
        assert len(receiver.by_status("resolved")) == 1
        assert len(receiver.messages) == 2
    finally:
        sim.clear_faults()
        await evaluator.aclose()
        engine.dispose()


async def test_simulated_slowdown_ramp_fires_the_baseline_rule(
    sqlite_url: str,
    sim: SimulatorThread,
    receiver: Receiver,
    clock: FakeClock,
    client: httpx.AsyncClient,
) -> None:
    engine, fleet, evaluator = await setup(
        sqlite_url, sim, clock, OUTAGE_RULE, SLOW_TTFT_RULE, webhook_toml("oncall", receiver.url)
    )
    try:
        await run_for(1200, fleet, evaluator, client)
        for factor in (1.5, 2.0, 3.0, 4.0):
            sim.fault("alpha", "clear")
            sim.fault("alpha", "slow", factor=factor)
            await run_for(120, fleet, evaluator, client)
        (firing,) = receiver.by_status("firing")
        assert firing["groupLabels"] == {"alertname": "ttft_slow"}
        assert [a["labels"]["provider"] for a in firing["alerts"]] == ["alpha"]
    finally:
        sim.clear_faults()
        await evaluator.aclose()
        engine.dispose()
