"""The registry of probe protocols: catalog ``api`` value → the async function that probes it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from signalbox.probe import anthropic, openai
from signalbox.probe.loop_lag import LagWindow
from signalbox.probe.runner import Target, Timeouts
from signalbox.records import Observation

ProbeFn = Callable[..., Awaitable[Observation]]

PROTOCOLS: dict[str, ProbeFn] = {"openai": openai.probe, "anthropic": anthropic.probe}


async def probe_target(
    client: httpx.AsyncClient,
    target: Target,
    *,
    timeouts: Timeouts,
    lag: LagWindow | None = None,
) -> Observation:
    """Probe ``target`` with the function of its provider's protocol."""
    fn = PROTOCOLS[target.endpoint.provider.api]
    return await fn(client, target, timeouts=timeouts, lag=lag)
