"""Asking the router which endpoints need sooner probes."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from aiohttp import web

from signalbox.catalog import parse_catalog
from signalbox.probe.router_poll import RouterPoll, endpoints_wanting_probes
from signalbox.records import ErrorClass, Sample, Source
from signalbox.router.app import _guard
from signalbox.router.handlers import endpoints as router_endpoints
from signalbox.router.live import LiveState
from signalbox.router.metrics import Metrics
from signalbox.router.state import STATE
from tests.closed_catalog import closed_catalog_toml

IDS = {("alpha", "llama"): 1, ("bravo", "llama"): 2, ("charlie", "qwen"): 3}


def row(provider: str, model: str, state: str = "healthy", samples: float = 40.0) -> dict[str, Any]:
    """One ``data`` entry as the router's ``GET /v1/endpoints`` answers it (the fields that matter
    here; the prober must not read them any more)."""
    return {
        "model": model,
        "provider": provider,
        "key": f"{provider}/{model}",
        "state": state,
        "samples": samples,
    }


def answer(wanted: list[Any], *rows: dict[str, Any]) -> dict[str, Any]:
    return {"object": "list", "data": list(rows), "wanted_probes": wanted}


def test_the_routers_wanted_probes_are_asked_for_in_its_order() -> None:
    payload = answer(
        ["charlie/qwen", "alpha/llama"],
        row("alpha", "llama", "open"),
        row("bravo", "llama"),
        row("charlie", "qwen", samples=1.0),
    )
    assert endpoints_wanting_probes(payload, IDS) == [3, 1]


def test_the_router_alone_decides_not_the_rows_states_or_samples() -> None:
    # a stale, thin row the router does not list is not probed sooner: the rule lives in the router
    payload = answer(
        ["bravo/llama"], row("alpha", "llama", "stale", samples=0.5), row("bravo", "llama")
    )
    assert endpoints_wanting_probes(payload, IDS) == [2]
    assert endpoints_wanting_probes(answer([], row("alpha", "llama", "open")), IDS) == []


def test_unknown_keys_and_malformed_entries_are_ignored() -> None:
    wanted = [
        "ghost/llama",  # another catalog's endpoint, or one this worker has not synced yet
        "alpha",
        "",
        None,
        7,
        ["bravo", "llama"],
        {"provider": "bravo", "model": "llama"},
        "alpha/llama",
        "alpha/llama",
    ]
    assert endpoints_wanting_probes(answer(wanted), IDS) == [1]


def test_a_model_name_with_a_slash_is_matched_whole() -> None:
    ids = {("alpha", "meta-llama/llama-3.1-8b"): 9}
    assert endpoints_wanting_probes(answer(["alpha/meta-llama/llama-3.1-8b"]), ids) == [9]


def test_an_answer_without_wanted_probes_asks_for_nothing() -> None:
    # not a Signalbox router, or an older one: its rows are not re-judged here
    assert (
        endpoints_wanting_probes({"object": "list", "data": [row("alpha", "llama", "open")]}, IDS)
        == []
    )
    assert endpoints_wanting_probes([row("alpha", "llama", "stale")], IDS) == []
    assert endpoints_wanting_probes({"wanted_probes": "alpha/llama"}, IDS) == []
    assert endpoints_wanting_probes({"wanted_probes": None}, IDS) == []
    assert endpoints_wanting_probes("nonsense", IDS) == []
    assert endpoints_wanting_probes(None, IDS) == []


async def _start(app: web.Application) -> tuple[web.AppRunner, str]:
    """``app`` served on a free loopback port: its runner (to clean up) and base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def _serve(body: Any) -> tuple[web.AppRunner, str]:
    async def endpoints(_: web.Request) -> web.Response:
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/v1/endpoints", endpoints)
    return await _start(app)


async def test_poll_asks_the_prober_for_the_endpoints_the_router_wants_probed() -> None:
    runner, url = await _serve(
        answer(["bravo/llama", "alpha/llama"], row("alpha", "llama", "open"), row("bravo", "llama"))
    )
    asked: list[list[int]] = []

    def probe_soon(ids: Iterable[int]) -> None:
        asked.append(list(ids))

    try:
        poll = RouterPoll(url, lambda: IDS, probe_soon)
        async with httpx.AsyncClient() as client:
            assert await poll.poll_once(client) == [2, 1]
    finally:
        await runner.cleanup()
    assert asked == [[2, 1]]


async def test_a_body_without_wanted_probes_is_polled_without_error_or_request() -> None:
    runner, url = await _serve({"object": "list", "data": [row("alpha", "llama", "stale")]})
    asked: list[list[int]] = []
    try:
        poll = RouterPoll(url, lambda: IDS, lambda ids: asked.append(list(ids)))
        async with httpx.AsyncClient() as client:
            assert await poll.poll_once(client) == []
    finally:
        await runner.cleanup()
    assert asked == []


async def test_the_prober_reads_the_real_routers_answer() -> None:
    """The contract end to end: the router's own ``/v1/endpoints`` handler over its live state (p1
    well sampled then its circuit opened by app failures, p2 never seen, p3 well sampled and
    healthy), and the prober's reading of it."""
    now = 1_800_000_000.0
    live = LiveState(parse_catalog(closed_catalog_toml(3)), lambda: now)
    for key in ("p1/m", "p3/m"):
        for i in range(20):
            live.observe(key, Sample(now - 10 - i, True, ttft_ms=100.0, tps=50.0, e2e_ms=500.0))
    for i in range(10):
        live.observe("p1/m", Sample(now - 5 + i * 0.1, False, Source.TRAFFIC, ErrorClass.HTTP_5XX))
    assert live.state("p1/m", now) == "open"
    app = web.Application()
    app[STATE] = SimpleNamespace(live=live, clock=lambda: now)  # type: ignore[misc]
    app.router.add_get("/v1/endpoints", router_endpoints)
    runner, url = await _start(app)
    ids = {("p1", "m"): 1, ("p2", "m"): 2, ("p3", "m"): 3}
    try:
        poll = RouterPoll(url, lambda: ids, lambda _: None)
        async with httpx.AsyncClient() as client:
            # p2 has no data (most needed, first), p1's circuit is open; p3 wants nothing
            assert await poll.poll_once(client) == [2, 1]
    finally:
        await runner.cleanup()


async def test_an_absent_router_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    poll = RouterPoll(f"http://127.0.0.1:{port}", lambda: IDS, lambda ids: None)
    with caplog.at_level(logging.INFO, logger="signalbox.probe.router_poll"):
        async with httpx.AsyncClient() as client:
            assert await poll.poll_once(client) == []
            assert await poll.poll_once(client) == []
    # once, not every poll
    assert [r.levelno for r in caplog.records] == [logging.INFO]


async def test_a_router_that_wants_a_key_gets_the_probers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With SIGNALBOX_API_KEYS set, the router's guard answers /v1/endpoints only with a key: the
    prober presents its first configured key, and without one says why it cannot hurry probes."""
    now = 1_800_000_000.0
    live = LiveState(parse_catalog(closed_catalog_toml(2)), lambda: now)
    app = web.Application(middlewares=[_guard(["k1", "k2"], Metrics())])
    app[STATE] = SimpleNamespace(live=live, clock=lambda: now)  # type: ignore[misc]
    app.router.add_get("/v1/endpoints", router_endpoints)
    runner, url = await _start(app)
    ids = {("p1", "m"): 1, ("p2", "m"): 2}
    try:
        async with httpx.AsyncClient() as client:
            keyed = RouterPoll(url, lambda: ids, lambda _: None, api_key="k1")
            assert sorted(await keyed.poll_once(client)) == [1, 2]  # neither has data yet
            with caplog.at_level(logging.INFO, logger="signalbox.probe.router_poll"):
                keyless = RouterPoll(url, lambda: ids, lambda _: None)
                assert await keyless.poll_once(client) == []
                assert await keyless.poll_once(client) == []
    finally:
        await runner.cleanup()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "401" in warnings[0].getMessage()
