"""Schemathesis, every check, against a router in front of a probed simulator: no 5xx but the
documented 502/503, every status and header documented (a 405 names what is allowed), schema-valid
requests accepted and schema-invalid ones refused, every JSON body matching its schema.

Two runs of the CLI: on the published document as served, and on a copy narrowed to what this
fleet serves (``model`` to the catalog's names, ``max_tokens`` to the simulator's limit, as a real
provider has one), so that the generated requests reach ranking and the proxy rather than stopping
at a 404, or at the provider's refusal of a request that no provider would take. The seed is fixed
so that CI is repeatable; change it to explore.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from aiohttp import web

from signalbox.migrate import upgrade
from signalbox.router.app import create_app
from signalbox.router.server import RouterRunner
from signalbox.settings import Settings
from signalbox.simulator.catalog import api_key_environment, catalog_toml
from signalbox.simulator.dialect import MAX_TOKENS_LIMIT
from signalbox.simulator.testing import SimulatorThread

pytestmark = pytest.mark.slow
SEED = "20261204"
ST = Path(sys.executable).parent / "schemathesis"


class RouterThread:
    """The router on its own thread and loop, with the production server (RouterRunner)."""

    def __init__(self, tmp: Path, simulator: SimulatorThread, url: str, catalog: Path) -> None:
        from signalbox.catalog import load_catalog

        self.app = create_app(
            Settings(data_dir=tmp, database_url=url),
            load_catalog(catalog),
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
        runner = RouterRunner(self.app, access_log=None)
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
def probed_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """A router whose statistics hold one probe round of every endpoint; its URL and models."""
    tmp = tmp_path_factory.mktemp("st")
    url = f"sqlite:///{tmp / 'st.db'}"
    upgrade(url)
    with SimulatorThread("fast") as simulator:
        catalog = tmp / "catalog.toml"
        catalog.write_text(catalog_toml(simulator.scenario, simulator.base_url))
        env = {
            **os.environ,
            **api_key_environment(simulator.scenario),
            "SIGNALBOX_DATABASE_URL": url,
            "SIGNALBOX_CATALOG": str(catalog),
            "SIGNALBOX_DATA_DIR": str(tmp),
        }
        probe = subprocess.run(
            [sys.executable, "-m", "signalbox.cli", "probe", "--once"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert probe.returncode == 0, probe.stderr
        models = sorted({m.model for p in simulator.scenario.providers for m in p.models})
        with RouterThread(tmp, simulator, url, catalog) as router:
            yield router.url, models


# The router's documented 5xx are not server errors: 502 when every upstream attempt failed, 503
# when the model's endpoints are all excluded for now (e.g. by min_tps against current figures).
CONFIG = """
[checks.not_a_server_error]
expected-statuses = ["2XX", "3XX", "4XX", "502", "503"]
"""


def _run(document: str, base_url: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    config = tmp / "schemathesis.toml"
    config.write_text(CONFIG)
    return subprocess.run(
        [
            str(ST),
            "--config-file",
            str(config),
            "run",
            document,
            "--url",
            base_url,
            "--checks",
            "all",
            "--max-examples",
            "60",
            "--seed",
            SEED,
            "--request-timeout",
            "30",
            "--output-sanitize",
            "false",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp,
    )


def _published(url: str) -> dict:
    """The document the router serves, but for one rule OpenAPI 3.0 cannot state: a
    ``tool_choice`` that names a function (or is ``required``) needs ``tools`` holding it, so the
    generated choices are the ones that need no tools (the rule has its own test)."""
    document = httpx.get(f"{url}/openapi.json", timeout=10).json()
    chat = document["components"]["schemas"]["ChatRequest"]["properties"]
    chat["tool_choice"] = {"nullable": True, "type": "string", "enum": ["none", "auto", None]}
    return document


def test_the_published_document_holds_under_every_check(
    probed_router: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, _ = probed_router
    path = tmp_path / "published.json"
    path.write_bytes(orjson.dumps(_published(url)))
    result = _run(str(path), url, tmp_path)
    assert result.returncode == 0, _failures(result.stdout)


def test_requests_that_reach_routing_and_the_proxy_hold_under_every_check(
    probed_router: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, models = probed_router
    document = _published(url)
    names = [*models, *(f"{m}@latency" for m in models)]
    document["components"]["schemas"]["ChatRequest"]["properties"]["model"] = {
        "type": "string",
        "enum": names,
    }
    for field in ("max_tokens", "max_completion_tokens"):
        chat = document["components"]["schemas"]["ChatRequest"]["properties"]
        chat[field]["maximum"] = MAX_TOKENS_LIMIT
    for parameter in document["paths"]["/v1/route"]["get"]["parameters"]:
        if parameter["name"] == "model":
            parameter["schema"] = {"type": "string", "enum": names}
    path = tmp_path / "narrowed.json"
    path.write_bytes(orjson.dumps(document))
    result = _run(str(path), url, tmp_path)
    assert result.returncode == 0, _failures(result.stdout)
    # and the cases did reach ranking and the proxy: decisions made, completions served
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    served = [
        line
        for line in metrics.splitlines()
        if line.startswith("signalbox_router_requests_total")
        and 'status="200"' in line
        and ("/v1/chat/completions" in line or "/v1/route" in line)
    ]
    assert len(served) == 2 and all(float(line.split()[-1]) > 0 for line in served), served


def _failures(output: str) -> str:
    """Each failure's check, why and reproduction, without the generated bodies' bulk."""
    keep = [
        line[:400]
        for line in output.splitlines()
        if line.startswith(("- ST", "[", "    `", "    Invalid", "    curl"))
    ]
    return "\n".join(keep[-60:]) or output[-3000:]
