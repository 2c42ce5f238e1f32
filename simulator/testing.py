"""``SimulatorThread``: the simulator on its own thread and event loop, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from aiohttp import web

from signalbox.simulator.fleet import Fleet
from signalbox.simulator.loop import new_event_loop
from signalbox.simulator.scenario import Scenario, load_scenario
from signalbox.simulator.server import build_app

START_TIMEOUT_S = 10.0


class SimulatorThread:
    """Run a scenario's fleet in a background thread; ready when ``__enter__`` returns.

    ``port=0`` picks a free port; ``base_url`` says which. Leaving the ``with`` block stops it.
    """

    def __init__(
        self,
        scenario: Scenario | str | Path = "fast",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: int | None = None,
    ) -> None:
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        if seed is not None:
            scenario = scenario.with_seed(seed)
        self.scenario = scenario
        self.host = host
        self.port = port
        self.fleet: Fleet | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running simulator."""
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        loop = new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self.fleet = Fleet(self.scenario)
        runner = web.AppRunner(build_app(self.scenario, self.fleet), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            server = site._server
            if self.port == 0 and server is not None:
                self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def start(self) -> SimulatorThread:
        """Start and wait until the server accepts connections."""
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"simulator did not start within {START_TIMEOUT_S:g} s")
        if self._error is not None:
            raise RuntimeError(f"simulator failed to start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        """Stop the server and join its thread."""
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def truth(self, at: float | None = None) -> dict[str, Any]:
        """``GET /truth`` (at scenario time ``at``, default now)."""
        params = {} if at is None else {"at": str(at)}
        response = httpx.get(f"{self.base_url}/truth", params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def fault(self, provider: str, kind: str, **params: Any) -> dict[str, Any]:
        """``POST /admin/fault`` (e.g. ``fault("alpha", "slow", factor=4)``); raises on a 400."""
        body = {"provider": provider, "kind": kind, **params}
        response = httpx.post(f"{self.base_url}/admin/fault", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        response = httpx.post(f"{self.base_url}/admin/fault", json={"kind": "clear"}, timeout=10)
        response.raise_for_status()
