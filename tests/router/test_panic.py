"""Panic mode: when every endpoint an app allows has an open circuit, the router still tries the
best of them instead of answering 503 until a cooldown ends (a burst that slowed the router itself,
or a blip, must not become an outage of its own)."""

from __future__ import annotations

import httpx

from tests.router.conftest import sim_catalog

CHAT = {
    "model": "llama-3.1-70b@latency",
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 8,
    "provider": {"only": ["alpha"]},
}


async def test_an_app_whose_only_endpoint_is_open_is_still_served_once_it_answers_again(
    sim, router_factory
) -> None:
    sim.clear_faults()
    async with (
        router_factory(sim_catalog(sim), sim) as router,
        httpx.AsyncClient(base_url=router.url, timeout=30) as http,
    ):
        # given alpha's circuit opened by an outage
        sim.fault("alpha", "outage")
        try:
            for _ in range(6):
                resp = await http.post("/v1/chat/completions", json=CHAT)
                assert resp.status_code == 502
        finally:
            sim.clear_faults()
        live = router.state.live
        assert live.state("alpha/llama-3.1-70b") == "open"

        # when alpha answers again, still within the cooldown
        resp = await http.post("/v1/chat/completions", json=CHAT)

        # then the request is tried there and served, and the route says why
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-signalbox-provider"] == "alpha"
        route = await http.get(
            "/v1/route", params={"model": "llama-3.1-70b", "sort": "latency", "only": "alpha"}
        )
        assert route.status_code == 200
        assert "circuit is open" in route.json()["reason"]
        assert route.json()["ranking"][0]["state"] == "open"
