"""Fixtures for router tests: the simulator fleet, a catalog pointing at it, and a running router
on loopback (its clock and random draws injectable)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiohttp import web

from signalbox.catalog import Catalog, parse_catalog
from signalbox.router.app import create_app
from signalbox.router.server import RouterRunner
from signalbox.router.state import STATE, RouterState
from signalbox.settings import Settings
from signalbox.simulator.catalog import api_key_environment, catalog_toml
from signalbox.simulator.testing import SimulatorThread
from tests.closed_catalog import closed_catalog_toml

# Two providers of one model "m" on a closed port: for tests that feed the statistics by hand.
TWO_ENDPOINTS = parse_catalog(closed_catalog_toml(2))


class FakeClock:
    """A wall clock that moves only when told."""

    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.t += seconds


@dataclass
class RunningRouter:
    """A router app served on loopback."""

    url: str
    app: web.Application

    @property
    def state(self) -> RouterState:
        """The app's state (live stats, metrics, ...)."""
        return self.app[STATE]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    """The fast, error-free simulated fleet (module-wide; tests clear their faults)."""
    with SimulatorThread("fast") as simulator:
        yield simulator


def sim_catalog(simulator: SimulatorThread, routing: str = "") -> Catalog:
    """The simulator's catalog, with an optional ``[routing]`` table body."""
    text = catalog_toml(simulator.scenario, simulator.base_url)
    if routing:
        text += "\n[routing]\n" + routing + "\n"
    return parse_catalog(text)


@asynccontextmanager
async def running_router(
    tmp_path: Path,
    catalog: Catalog,
    simulator: SimulatorThread | None = None,
    settings: Settings | None = None,
    **kwargs: Any,
) -> AsyncIterator[RunningRouter]:
    """Serve a router on a free loopback port until the block ends."""
    settings = settings or Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'r.db'}"
    )
    if "environ" not in kwargs:
        kwargs["environ"] = api_key_environment(simulator.scenario) if simulator else {}
    if settings.database_url and settings.database_url.startswith("sqlite"):
        from signalbox.migrate import upgrade

        upgrade(settings.database_url)
    app = create_app(settings, catalog, **kwargs)
    runner = RouterRunner(app, access_log=None)  # the production server, parser errors and all
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield RunningRouter(f"http://127.0.0.1:{port}", app)
    finally:
        await runner.cleanup()


@pytest.fixture
def router_factory(tmp_path: Path) -> Callable[..., Any]:
    """``async with router_factory(catalog, sim, **kw) as r`` serves a router."""

    def factory(catalog: Catalog, simulator: SimulatorThread | None = None, **kwargs: Any) -> Any:
        return running_router(tmp_path, catalog, simulator, **kwargs)

    return factory


async def eventually(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll ``predicate`` until true or the deadline (readiness without sleeps of fixed length)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)


def answer_text(response: httpx.Response, stream: bool) -> str:
    """The assistant's text of a chat completion: the whole message, or a stream's deltas joined."""
    if not stream:
        return response.json()["choices"][0]["message"]["content"]
    return "".join(
        (c.get("delta") or {}).get("content") or ""
        for e in response.content.split(b"\n\n")
        if e.startswith(b"data: {")
        for c in orjson.loads(e[6:]).get("choices") or ()
    )
