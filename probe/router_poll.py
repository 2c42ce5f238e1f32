"""Asks the router which endpoints it lacks fresh data for, and has the prober probe them sooner.

Chosen over a push API so that the router needs no address for the prober (and several probe
workers can follow one router): every ``interval_s`` the prober reads ``GET {router}/v1/endpoints``
and calls :meth:`Prober.probe_soon` for the endpoints in the answer's ``wanted_probes`` list
(``provider/model`` keys, most needed first). The router alone decides which endpoints those are
(``EndpointBook.unsure``: stale, fewer samples than ``[routing] min_samples``, a step waiting for
more evidence, or a circuit not closed), so the prober does not keep a second copy of the
rule that could drift from it. A router that is not running is not an error; an answer without
``wanted_probes`` (not a Signalbox router) asks for nothing.

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

# Asked this often (or as often as it probes, when that is sooner): a GET the router answers from
# memory, so that an open circuit's recheck (2 s after it opened) is not a poll late.
ROUTER_POLL_S = 2.0


def endpoints_wanting_probes(
    payload: Any, endpoint_ids: Mapping[tuple[str, str], int]
) -> list[int]:
    """Store ids of the endpoints a ``/v1/endpoints`` answer lists in ``wanted_probes``, in its
    order (most needed first), without repeats.

    Keys this worker does not know (another catalog, an endpoint not yet synced) and entries that
    are not strings are skipped; an answer that is not an object with a ``wanted_probes`` list asks
    for nothing.
    """
    wanted = payload.get("wanted_probes") if isinstance(payload, dict) else None
    if not isinstance(wanted, list):
        return []
    # matched whole against the router's ``provider/model`` key rather than split, so a model name
    # with a slash in it still finds its endpoint
    by_key = {f"{provider}/{model}": eid for (provider, model), eid in endpoint_ids.items()}
    out: dict[int, None] = {}
    for key in wanted:
        eid = by_key.get(key) if isinstance(key, str) else None
        if eid is not None:
            out[eid] = None
    return list(out)


class RouterPoll:
    """A background task on the main loop: poll the router, ask for sooner probes."""

    def __init__(
        self,
        router_url: str,
        endpoint_ids: Callable[[], Mapping[tuple[str, str], int]],
        probe_soon: Callable[[Iterable[int]], None],
        *,
        interval_s: float = ROUTER_POLL_S,
        api_key: str | None = None,
    ) -> None:
        self._url = router_url.rstrip("/") + "/v1/endpoints"
        # a router with SIGNALBOX_API_KEYS set answers nothing without one (as `signalbox route`,
        # the prober presents the first of the keys it is configured with)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._endpoint_ids = endpoint_ids
        self._probe_soon = probe_soon
        self._interval_s = interval_s
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

    async def poll_once(self, client: httpx.AsyncClient) -> list[int]:
        """One poll; returns the ids asked for, most needed first (empty when the router did not
        answer)."""
        try:
            response = await client.get(self._url, headers=self._headers)
            if response.status_code == 401:
                return self._lost(
                    logging.WARNING,
                    "router at %s refuses the prober (401): set SIGNALBOX_API_KEYS for the "
                    "prober too, or it cannot hurry probes the router asks for",
                    self._url,
                )
            response.raise_for_status()
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return self._lost(
                logging.INFO,
                "router not answering at %s (%s); will retry",
                self._url,
                type(exc).__name__,
            )
        self._reachable = True
        ids = endpoints_wanting_probes(payload, self._endpoint_ids())
        if ids:
            log.debug("router asks for sooner probes of %d endpoints", len(ids))
            self._probe_soon(ids)
        return ids

    def _lost(self, level: int, message: str, *args: object) -> list[int]:
        """The router gave no answer to use: say why once per outage (not every poll)."""
        if self._reachable is not False:
            log.log(level, message, *args)
        self._reachable = False
        return []

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            while True:
                await asyncio.sleep(self._interval_s)
                await self.poll_once(client)
