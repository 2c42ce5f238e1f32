"""Property-based API testing with schemathesis against ``/openapi.json``: no 5xx except the
documented 502/503, every status documented, every JSON body matching its schema."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from signalbox.migrate import upgrade
from signalbox.router.app import create_app
from signalbox.router.openapi import OPENAPI
from signalbox.settings import Settings
from signalbox.simulator.catalog import api_key_environment
from signalbox.simulator.testing import SimulatorThread
from tests.router.conftest import sim_catalog

schema = schemathesis.openapi.from_dict(OPENAPI)


class RouterThread:
    """The router on its own thread and loop, for synchronous clients."""

    def __init__(self, tmp: Path, simulator: SimulatorThread) -> None:
        url = f"sqlite:///{tmp / 'st.db'}"
        upgrade(url)
        self.app = create_app(
            Settings(data_dir=tmp, database_url=url),
            sim_catalog(simulator),
            environ=api_key_environment(simulator.scenario),
        )
        self.url = ""
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._serve(),), daemon=True
        )

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __enter__(self) -> RouterThread:
        self._thread.start()
        assert self._ready.wait(30), "router did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture(scope="module")
def router_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with (
        SimulatorThread("fast") as simulator,
        RouterThread(tmp_path_factory.mktemp("st"), simulator) as router,
    ):
        yield router.url


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, router_url: str) -> None:
    response = case.call(base_url=router_url, timeout=30)
    assert response.status_code < 500 or response.status_code in (502, 503), response.text
    case.validate_response(
        response,
        checks=[status_code_conformance, content_type_conformance, response_schema_conformance],
    )
