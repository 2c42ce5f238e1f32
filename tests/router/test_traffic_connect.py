"""Traffic observations follow docs/architecture.md §2 on connections: ``connect_ms`` when the
pool had to open one, none on a reused connection, and TTFT counted from the write, never
including the connect."""

from __future__ import annotations

import httpx

from signalbox.records import Observation
from signalbox.router.live import EndpointInfo
from tests.router.conftest import sim_catalog

CHAT = {
    "model": "llama-3.1-70b@latency",
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 8,
    "provider": {"only": ["alpha"]},
}


async def test_connect_is_recorded_once_per_new_connection_and_kept_out_of_ttft(
    sim, router_factory
) -> None:
    sim.clear_faults()
    async with (
        router_factory(sim_catalog(sim), sim) as router,
        httpx.AsyncClient(base_url=router.url, timeout=30) as http,
    ):
        forwarder = router.state.forwarder
        seen = []
        record = forwarder.on_observation

        def capture(info: EndpointInfo, obs: Observation, load_level: int) -> None:
            seen.append(obs)
            record(info, obs, load_level)

        forwarder.on_observation = capture
        for _ in range(3):  # one after the other: the pool reuses the first connection
            resp = await http.post("/v1/chat/completions", json=CHAT)
            assert resp.status_code == 200, resp.text

    assert [o.ok for o in seen] == [True, True, True]
    first, *reused = seen
    assert first.connect_ms is not None and 0 < first.connect_ms < 1000
    assert [o.connect_ms for o in reused] == [None, None]
    for obs in seen:
        assert obs.ttft_ms is not None and obs.ttft_ms > 0
        assert obs.e2e_ms is not None and obs.e2e_ms >= obs.ttft_ms
