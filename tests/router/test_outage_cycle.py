"""Traffic follows the live state: an outage moves it away, recovery brings it back, and the
ranking follows the simulator's daily cycle."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from signalbox.records import Sample
from signalbox.simulator.scenario import parse_scenario
from signalbox.simulator.testing import SimulatorThread
from tests.router.conftest import FakeClock, sim_catalog

MODEL = "llama-3.1-70b"
CHAT = {
    "model": MODEL + "@latency",
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 8,
}


async def test_outage_moves_traffic_away_and_recovery_brings_it_back(sim, router_factory) -> None:
    sim.clear_faults()
    clock = FakeClock(time.time())
    async with (
        router_factory(sim_catalog(sim), sim, clock=clock, rng=lambda: 0.5) as router,
        httpx.AsyncClient(base_url=router.url) as http,
    ):
        live = router.state.live
        for i in range(20):  # given: alpha measured fastest by far
            live.observe(f"alpha/{MODEL}", Sample(clock() - i, True, ttft_ms=1.0, tps=5000))
            for other in ("bravo", "charlie", "delta"):
                live.observe(f"{other}/{MODEL}", Sample(clock() - i, True, ttft_ms=20.0, tps=2000))

        async def chosen() -> tuple[str, str]:
            resp = await http.post("/v1/chat/completions", json=CHAT)
            assert resp.status_code == 200, resp.text
            return resp.headers["x-signalbox-provider"], resp.headers["x-signalbox-attempts"]

        assert await chosen() == ("alpha", "1")
        sim.fault("alpha", "outage")  # when: alpha goes down
        try:
            first = await chosen()
            assert first[0] != "alpha" and first[1] == "2"  # fell back
            for _ in range(6):
                await chosen()
            provider, attempts = await chosen()
            assert provider != "alpha" and attempts == "1"  # circuit open: not even tried
            endpoints = (await http.get("/v1/endpoints", params={"model": MODEL})).json()["data"]
            assert {e["provider"]: e["state"] for e in endpoints}["alpha"] == "open"
        finally:
            sim.clear_faults()  # then: alpha recovers
        clock.advance(20)  # past the cooldown: half-open
        assert await chosen() == ("alpha", "1")  # the half-open trial succeeds and closes it
        for _ in range(3):
            await chosen()
        route = (await http.get("/v1/route", params={"model": MODEL, "sort": "latency"})).json()
        assert route["provider"] == "alpha"


CYCLE = """
name = "cycle"
seed = 3
time_scale = 100.0
[defaults]
ttft_median_ms = 30.0
ttft_sigma = 0.05
tps = 2000.0
output_tokens_median = 8
[[provider]]
name = "east"
cycle = { period_s = 600.0, amplitude = 0.8, phase = 0.0 }
[[provider.model]]
model = "m"
[[provider]]
name = "west"
cycle = { period_s = 600.0, amplitude = 0.8, phase = 0.5 }
[[provider.model]]
model = "m"
"""


@pytest.mark.slow
async def test_ranking_follows_the_daily_cycle(router_factory) -> None:
    scenario = parse_scenario(CYCLE)
    with SimulatorThread(scenario) as cyc:
        catalog = sim_catalog(cyc, "half_life_s = 0.3\nstale_after_s = 5\nexplore_share = 0.0")
        async with (
            router_factory(catalog, cyc) as router,
            httpx.AsyncClient(base_url=router.url) as http,
        ):
            agree = total = 0
            deadline = time.monotonic() + 6.0  # one simulated day
            while time.monotonic() < deadline:
                for provider in ("east", "west"):  # both measured, as probes would
                    body = {**CHAT, "model": "m", "provider": {"only": [provider]}}
                    await http.post("/v1/chat/completions", json=body)
                truth = (await asyncio.to_thread(cyc.truth))["providers"]
                factors = {p: truth[p]["models"]["m"]["cycle_factor"] for p in ("east", "west")}
                if abs(factors["east"] - factors["west"]) < 0.4:
                    continue  # near the crossover either answer is right
                best = min(factors, key=factors.__getitem__)
                route = (
                    await http.get("/v1/route", params={"model": "m", "sort": "latency"})
                ).json()
                total += 1
                agree += route["provider"] == best
            assert total >= 10
            assert agree / total >= 0.7


async def test_a_provider_that_slows_down_loses_traffic_within_a_few_requests(
    sim, router_factory
) -> None:
    sim.clear_faults()
    sim.fault("bravo", "slow", factor=1.5)
    # a half-life of ten minutes: the decayed median alone would hold on to alpha for minutes
    catalog = sim_catalog(sim, "half_life_s = 600\nexplore_share = 0.0\nshare_buffer = 0.0")
    body = {
        "model": MODEL + "@throughput",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 64,
    }
    try:
        async with (
            router_factory(catalog, sim) as router,
            httpx.AsyncClient(base_url=router.url, timeout=30) as http,
        ):

            async def send(only: list[str]) -> str:
                resp = await http.post(
                    "/v1/chat/completions", json={**body, "provider": {"only": only}}
                )
                assert resp.status_code == 200, resp.text
                return resp.headers["x-signalbox-provider"]

            # given alpha and bravo measured one request at a time: alpha is the faster
            for _ in range(10):
                await send(["alpha"])
                await send(["bravo"])
            assert await send(["alpha", "bravo"]) == "alpha"
            # when alpha becomes four times slower
            sim.fault("alpha", "slow", factor=4)
            picks = [await send(["alpha", "bravo"]) for _ in range(8)]
            # then two slow answers are a step, and the rest go to bravo
            assert picks[2:] == ["bravo"] * 6, picks
    finally:
        sim.clear_faults()
