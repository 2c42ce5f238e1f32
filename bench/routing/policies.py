"""Client-side routing policies for the benchmark: round-robin, best static, and the oracle."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import httpx

from bench.routing.stream import Target


def true_value(model_truth: dict) -> float:
    """What the oracle maximises for the throughput objective: useful tokens/s right now
    (the truth's ``tps`` already includes the daily cycle and the load factor)."""
    if model_truth.get("outage"):
        return 0.0
    return model_truth["tps"] * (1.0 - model_truth.get("error_rate", 0.0))


def model_truth(truth: dict, provider: str, model: str) -> dict | None:
    """One provider's truth for one canonical model, or None when it does not serve it."""
    return truth["providers"].get(provider, {}).get("models", {}).get(model)


class RoundRobin:
    """Each request to the next provider in turn."""

    name = "round-robin"

    def __init__(self, targets: list[Target]) -> None:
        self._cycle = itertools.cycle(targets)

    def choose(self) -> Target:
        """The next target."""
        return next(self._cycle)


class Static:
    """Always the same provider: the best over the first tenth of the run, known in advance."""

    name = "best-static"

    def __init__(self, target: Target) -> None:
        self.target = target

    def choose(self) -> Target:
        """The fixed target."""
        return self.target


async def best_static(
    sim_url: str, targets: list[Target], model: str, start_s: float, horizon_s: float
) -> Target:
    """The target with the best mean true value over scenario time [start_s, start_s +
    horizon_s] (the run's first tenth)."""
    totals = dict.fromkeys((t.provider for t in targets), 0.0)
    async with httpx.AsyncClient(timeout=10) as client:
        for i in range(20):
            at = start_s + horizon_s * i / 19
            truth = (await client.get(f"{sim_url}/truth", params={"at": at})).json()
            for target in targets:
                mt = model_truth(truth, target.provider, model)
                totals[target.provider] += true_value(mt) if mt else 0.0
    best = max(totals, key=totals.__getitem__)
    return next(t for t in targets if t.provider == best)


class Oracle:
    """Knows the simulator's ground truth (polled every 200 ms) and picks the true best."""

    name = "oracle"

    def __init__(self, sim_url: str, targets: list[Target], model: str) -> None:
        self._sim_url = sim_url
        self._targets = targets
        self._model = model
        self._best = targets[0]
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Poll the truth in the background."""
        await self._refresh()
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        """Stop polling."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _refresh(self, client: httpx.AsyncClient | None = None) -> None:
        own = client is None
        client = client or httpx.AsyncClient(timeout=5)
        try:
            truth = (await client.get(f"{self._sim_url}/truth")).json()
        finally:
            if own:
                await client.aclose()
        values = {}
        for target in self._targets:
            mt = model_truth(truth, target.provider, self._model)
            values[target.provider] = true_value(mt) if mt else 0.0
        best = max(values, key=values.__getitem__)
        self._best = next(t for t in self._targets if t.provider == best)

    async def _poll(self) -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                await asyncio.sleep(0.2)
                with contextlib.suppress(httpx.HTTPError):
                    await self._refresh(client)

    def choose(self) -> Target:
        """The currently best target."""
        return self._best
