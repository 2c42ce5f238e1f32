"""Asking the router which endpoints need sooner probes."""

from __future__ import annotations

from collections.abc import Iterable

import httpx
from aiohttp import web

from signalbox.probe.router_poll import RouterPoll, endpoints_wanting_probes

IDS = {("alpha", "llama"): 1, ("bravo", "llama"): 2, ("charlie", "qwen"): 3}


def test_stale_half_open_and_thin_endpoints_want_probes() -> None:
    payload = {
        "endpoints": [
            {"provider": "alpha", "model": "llama", "state": "stale", "samples": 40},
            {"provider": "bravo", "model": "llama", "state": "healthy", "samples": 1},
            {"provider": "charlie", "model": "qwen", "state": "healthy", "samples": 50},
            {"provider": "ghost", "model": "llama", "state": "stale"},
        ]
    }
    assert endpoints_wanting_probes(payload, IDS) == {1, 2}


def test_endpoints_are_matched_by_id_when_the_router_gives_one() -> None:
    assert endpoints_wanting_probes([{"endpoint_id": 3, "state": "half-open"}], IDS) == {3}


def test_an_open_circuit_is_probed_so_a_recovery_closes_it_before_the_cooldown_ends() -> None:
    payload = [
        {"endpoint_id": 1, "state": "open", "samples": 80},
        {"endpoint_id": 2, "state": "healthy", "samples": 80},
    ]
    assert endpoints_wanting_probes(payload, IDS) == {1}


def test_unexpected_payloads_ask_for_nothing() -> None:
    assert endpoints_wanting_probes("nonsense", IDS) == set()
    assert endpoints_wanting_probes({"endpoints": [1, None]}, IDS) == set()


async def test_poll_asks_the_prober_for_the_routers_stale_endpoints() -> None:
    async def endpoints(_: web.Request) -> web.Response:
        return web.json_response(
            [
                {"provider": "alpha", "model": "llama", "state": "stale"},
                {"provider": "bravo", "model": "llama", "state": "healthy", "samples": 4},
            ]
        )

    app = web.Application()
    app.router.add_get("/v1/endpoints", endpoints)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    asked: list[set[int]] = []

    def probe_soon(ids: Iterable[int]) -> None:
        asked.append(set(ids))

    try:
        poll = RouterPoll(f"http://127.0.0.1:{port}", lambda: IDS, probe_soon)
        # the catalog's [routing] min_samples, when raised, makes a 4-sample endpoint thin too
        thin = RouterPoll(f"http://127.0.0.1:{port}", lambda: IDS, probe_soon, min_samples=5)
        async with httpx.AsyncClient() as client:
            assert await poll.poll_once(client) == {1}
            assert await thin.poll_once(client) == {1, 2}
    finally:
        await runner.cleanup()
    assert asked == [{1}, {1, 2}]


async def test_an_absent_router_is_not_an_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    poll = RouterPoll(f"http://127.0.0.1:{port}", lambda: IDS, lambda ids: None)
    async with httpx.AsyncClient() as client:
        assert await poll.poll_once(client) == set()
