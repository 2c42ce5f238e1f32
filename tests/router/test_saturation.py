"""A provider that is fastest when idle but saturates: the router learns how it slows down with
its own in-flight requests and spreads load instead of herding onto it (or away from it)."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from signalbox.records import Sample, Source
from signalbox.router.live import LiveState
from signalbox.routing.objectives import Objective
from signalbox.simulator.scenario import parse_scenario
from signalbox.simulator.testing import SimulatorThread
from tests.router.conftest import TWO_ENDPOINTS, sim_catalog

SATURATING = """
name = "saturating"
seed = 5
[defaults]
ttft_sigma = 0.05
output_tokens_median = 40
output_tokens_sigma = 0.0
[[provider]]
name = "burst"
capacity = 2
overload_slope = 3.0
[[provider.model]]
model = "m"
ttft_median_ms = 20.0
tps = 400.0
[[provider]]
name = "steady"
capacity = 256
[[provider.model]]
model = "m"
ttft_median_ms = 40.0
tps = 200.0
"""
CHAT = {"model": "m@throughput", "messages": [{"role": "user", "content": "go"}], "max_tokens": 40}


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_waves_are_split_between_a_saturating_provider_and_a_steady_one(
    router_factory,
) -> None:
    with SimulatorThread(parse_scenario(SATURATING)) as sim:
        catalog = sim_catalog(sim, "explore_share = 0.0\nshare_buffer = 0.0")
        async with (
            router_factory(catalog, sim) as router,
            httpx.AsyncClient(base_url=router.url, timeout=30) as http,
        ):

            async def send(body: dict) -> str:
                resp = await http.post("/v1/chat/completions", json=body)
                assert resp.status_code == 200, resp.text
                return resp.headers["x-signalbox-provider"]

            # given both measured one request at a time (idle: burst is twice as fast)
            for provider in ("burst", "steady") * 4:
                await send({**CHAT, "provider": {"only": [provider]}})
            assert await send(CHAT) == "burst"

            # when waves of 8 concurrent requests arrive
            waves = []
            for _ in range(6):
                waves.append(Counter(await asyncio.gather(*(send(CHAT) for _ in range(8)))))

            # then, once the router has seen burst under load, every wave goes to both: burst
            # up to about its capacity, the rest to steady (herding would send all 8 one way)
            for wave in waves[2:]:
                assert 1 <= wave["burst"] <= 6, waves
                assert wave["steady"] >= 2, waves
            curve = router.state.live.load["burst/m"]
            assert (
                curve.factors(3, router.state.live.clock())[1] < 0.7
            )  # learned: 3 in flight is slow


def test_a_loaded_endpoint_is_ranked_on_what_requests_at_that_load_delivered() -> None:
    now = 1_800_000_000.0
    live = LiveState(TWO_ENDPOINTS, clock=lambda: now)
    for i in range(30):
        ts = now - 30 + i
        live.observe("p1/m", Sample(ts, True, ttft_ms=150.0, tps=160.0))
        live.observe("p2/m", Sample(ts, True, ttft_ms=300.0, tps=90.0))
    # given p1 (the fast one) is idle nine requests in ten (its median stays 160) and slow at 6
    # in flight, while p2 is steady at 90
    for i in range(100):
        level, ttft_ms, tps = (6, 300.0, 80.0) if i % 10 == 9 else (0, 150.0, 160.0)
        ts = now - 30 + i * 0.3
        live.observe_load("p1/m", level, ts, ttft_ms, tps)  # as the router does: curve first
        live.observe(
            "p1/m",
            Sample(ts, True, source=Source.TRAFFIC, ttft_ms=ttft_ms, tps=tps),
            load_level=level,
        )

    def tps(in_flight: int) -> dict[str, float | None]:
        live.in_flight["p1/m"] = in_flight
        return {c.provider: c.snapshot.tps_p50 for c in live.candidates("m", Objective.THROUGHPUT)}

    # then idle it is the fastest, and a request joining 6 in flight expects what those got
    # (scaling the median, 160, by 80 over the mean of all would have said 86)
    assert tps(0)["p1"] == pytest.approx(160.0, rel=0.05)
    loaded = tps(6)
    assert loaded["p1"] == pytest.approx(80.0, rel=0.05)
    assert loaded["p1"] < loaded["p2"]
