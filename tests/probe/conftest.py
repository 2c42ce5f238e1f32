"""Fixtures for probe tests: a scripted provider server and catalog/target builders."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from signalbox.catalog import EndpointRef, EndpointSpec, ProbeShape, Provider
from signalbox.prices import Prices
from signalbox.probe.runner import Target
from tests.probe.scripted_server import ScriptedServer


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedServer]:
    """A running :class:`ScriptedServer` on loopback."""
    server = ScriptedServer()
    await server.start()
    yield server
    await server.stop()


def make_target(
    base_url: str,
    *,
    api: str = "openai",
    name: str = "prov",
    api_key: str | None = None,
    endpoint_id: int = 1,
    max_tokens: int = 16,
) -> Target:
    """A probe target for one provider/model, priced at $1/$2 per million tokens."""
    provider = Provider(name=name, base_url=base_url, api=api)  # type: ignore[arg-type]
    spec = EndpointSpec(provider=name, upstream_model="m-up")
    ref = EndpointRef(model="m", spec=spec, provider=provider)
    shape = ProbeShape(name="short", max_tokens=max_tokens)
    return Target(endpoint_id, ref, shape, Prices(1.0, 2.0, "catalog"), api_key)
