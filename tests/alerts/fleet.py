"""Test support for alerting: a fake clock, a webhook receiver and a small fleet in the store."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import Engine

from signalbox.catalog import Catalog, parse_catalog
from signalbox.records import ErrorClass, Observation, Source
from signalbox.sync import sync_catalog
from signalbox.writer import insert_observations

T0 = 1_800_000_000.0

FLEET_TOML = """
[[provider]]
name = "alpha"
base_url = "http://127.0.0.1:9/alpha/v1"

[[provider]]
name = "bravo"
base_url = "http://127.0.0.1:9/bravo/v1"

[[model]]
name = "llama-3.1-70b"

[[model.endpoint]]
provider = "alpha"
upstream_model = "llama-70b"
price_input_per_mtok = 0.5
price_output_per_mtok = 1.0

[[model.endpoint]]
provider = "bravo"
upstream_model = "llama-70b"
price_input_per_mtok = 0.5
price_output_per_mtok = 1.0
"""

OUTAGE_RULE = """
[[alert]]
name = "provider_down"
kind = "error_rate"
threshold = 0.3
for_s = 30
min_samples = 3
half_life_s = 60
severity = "critical"
"""

TTFT_RULE = """
[[alert]]
name = "ttft_slow"
kind = "ttft_baseline"
threshold = 2.0
for_s = 60
min_samples = 4
half_life_s = 60
baseline_half_life_s = 3600
"""


def webhook_toml(name: str, url: str, fmt: str = "alertmanager") -> str:
    """A ``[[webhook]]`` entry."""
    return f'\n[[webhook]]\nname = "{name}"\nurl = "{url}"\nformat = "{fmt}"\n'


def fleet_catalog(*extra: str) -> Catalog:
    """The two-provider fleet with the given extra TOML (rules, webhooks)."""
    return parse_catalog(FLEET_TOML + "".join(extra))


def sync(engine: Engine, catalog: Catalog) -> dict[str, int]:
    """Sync the catalog; endpoint ids by provider name."""
    report = sync_catalog(engine, catalog)
    return {provider: eid for (provider, _model), eid in report.endpoint_ids.items()}


class FakeClock:
    """Epoch seconds that move only when told."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        """Move forward; return the new time."""
        self.t += seconds
        return self.t


@dataclass
class Behaviour:
    """How one endpoint answers at the moment: up or down, and how slow."""

    ok: bool = True
    ttft_ms: float = 200.0
    tps: float = 80.0


@dataclass
class Fleet:
    """Writes one observation per endpoint per probe step, as a prober would."""

    engine: Engine
    endpoint_ids: dict[str, int]
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    behaviour: dict[str, Behaviour] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.endpoint_ids:
            self.behaviour.setdefault(name, Behaviour())

    def observe(self, ts: float) -> None:
        """One probe of every endpoint at ``ts``."""
        rows = []
        for name, eid in self.endpoint_ids.items():
            b = self.behaviour[name]
            when = datetime.fromtimestamp(ts, UTC)
            if b.ok:
                noise = math.exp(self.rng.gauss(0, 0.1))
                obs = Observation(
                    eid, when, Source.PROBE, True, ttft_ms=b.ttft_ms * noise, tps=b.tps / noise
                )
            else:
                obs = Observation(eid, when, Source.PROBE, False, error_class=ErrorClass.CONNECT)
            rows.append(obs.to_row())
        insert_observations(self.engine, rows)


class Receiver:
    """An aiohttp webhook receiver on loopback that records every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.requests = 0
        self.fail_next = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.json()
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.json_response({"error": "receiver down"}, status=503)
        self.messages.append(body)
        return web.json_response({"ok": True})

    async def start(self) -> Receiver:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    def by_status(self, status: str, rule: str | None = None) -> list[dict[str, Any]]:
        """Messages of one status (and rule)."""
        return [
            m for m in self.messages if _status(m) == status and (rule is None or _rule(m) == rule)
        ]


def _status(message: dict[str, Any]) -> str:
    if "status" in message:
        return message["status"]
    return "firing" if "[FIRING]" in message.get("text", "") else "resolved"


def _rule(message: dict[str, Any]) -> str:
    if "groupLabels" in message:
        return message["groupLabels"]["alertname"]
    return message["text"].split("] ", 1)[1].split(" ", 1)[0]


async def poll_until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait until ``check()`` holds, polling, failing after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(0.02)
