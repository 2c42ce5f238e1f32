"""Asks the router which endpoints it lacks fresh data for, and has the prober probe them sooner.

Chosen over a push API so that the router needs no address for the prober (and several probe
workers can follow one router): every ``interval_s`` the prober reads ``GET {router}/v1/endpoints``
and calls :meth:`Prober.probe_soon` for endpoints whose ``state`` is ``stale``, ``open`` or
``half-open``, or that have fewer than ``min_samples`` samples. A router that is not running is not
an error.

An open circuit is probed too: a probe's success closes it at once (out of band, costing no app
request), so a provider that recovers is back within a poll and a probe, instead of after a
cooldown that doubles with every failed trial (up to ``max_cooldown_s``, five minutes by default).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

log = logging.getLogger(__name__)

# Asked at most this often (the probe service asks as often as it probes, when that is sooner).
ROUTER_POLL_S = 15.0
WANTS_PROBE_STATES = {"stale", "open", "half-open", "half_open", "uncertain"}


def endpoints_wanting_probes(
    payload: Any,
    endpoint_ids: Mapping[tuple[str, str], int],
    *,
    min_samples: float = 3.0,
) -> set[int]:
    """Store ids of the endpoints in a ``/v1/endpoints`` answer that should be probed sooner.

    Accepts a list of endpoint objects or ``{"endpoints"|"data": [...]}``; each object is matched
    by ``endpoint_id`` (or ``id``), else by ``provider`` and ``model``.
    """
    if isinstance(payload, dict):
        payload = payload.get("endpoints", payload.get("data", []))
    if not isinstance(payload, list):
        return set()
    known = set(endpoint_ids.values())
    out: set[int] = set()
    for item in payload:
        if not isinstance(item, dict):
            continue
        samples = item.get("samples")
        wants = str(item.get("state", "")).lower() in WANTS_PROBE_STATES or (
            isinstance(samples, int | float) and samples < min_samples
        )
        if not wants:
            continue
        eid = item.get("endpoint_id", item.get("id"))
        if isinstance(eid, int) and eid in known:
            out.add(eid)
            continue
        key = (item.get("provider"), item.get("model"))
        if key in endpoint_ids:
            out.add(endpoint_ids[key])  # type: ignore[index]
    return out


class RouterPoll:
    """A background task on the main loop: poll the router, ask for sooner probes."""

    def __init__(
        self,
        router_url: str,
        endpoint_ids: Callable[[], Mapping[tuple[str, str], int]],
        probe_soon: Callable[[Iterable[int]], None],
        *,
        interval_s: float = ROUTER_POLL_S,
        min_samples: float = 3.0,
    ) -> None:
        self._url = router_url.rstrip("/") + "/v1/endpoints"
        self._endpoint_ids = endpoint_ids
        self._probe_soon = probe_soon
        self._interval_s = interval_s
        self._min_samples = min_samples  # the catalog's [routing] min_samples, as the router's
        self._task: asyncio.Task[None] | None = None
        self._reachable: bool | None = None

    def start(self) -> None:
        """Start polling on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="router-poll")

    async def stop(self) -> None:
        """Stop polling."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def poll_once(self, client: httpx.AsyncClient) -> set[int]:
        """One poll; returns the ids asked for (empty when the router did not answer)."""
        try:
            response = await client.get(self._url)
            response.raise_for_status()
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            if self._reachable is not False:
                log.info(
                    "router not answering at %s (%s); will retry", self._url, type(exc).__name__
                )
            self._reachable = False
            return set()
        self._reachable = True
        ids = endpoints_wanting_probes(payload, self._endpoint_ids(), min_samples=self._min_samples)
        if ids:
            log.debug("router asks for sooner probes of %d endpoints", len(ids))
            self._probe_soon(ids)
        return ids

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            while True:
                await asyncio.sleep(self._interval_s)
                await self.poll_once(client)
