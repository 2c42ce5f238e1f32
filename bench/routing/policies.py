"""Client-side routing policies for the benchmark: round-robin, the two static baselines (chosen
early; best in hindsight) and the oracle (greedy on the simulator's truth at request time)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import httpx

from bench.routing.stream import Target
from signalbox.simulator.model import endpoint_truth
from signalbox.simulator.scenario import Scenario


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
    """Always the same provider (chosen early, or best in hindsight)."""

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


def hindsight_static(
    scenario: Scenario,
    targets: list[Target],
    model: str,
    start_s: float,
    span_s: float,
    rps: float,
    tokens: float,
) -> tuple[Target, dict[str, float]]:
    """The single provider best over the whole run in hindsight, and every provider's score.

    Each provider's mean true value at 60 instants spread over the run, under the load the whole
    stream would put on it alone (in-flight = rps x request duration, solved by iteration: a
    provider that saturates when it takes everything is scored saturated); background load,
    cycles and events are in the truth. Computed from the scenario, as /truth would say it.
    """
    scores: dict[str, float] = {}
    for target in targets:
        provider = scenario.provider(target.provider)
        spec = provider.find_model(model) if provider else None
        if provider is None or spec is None:
            continue
        total = 0.0
        for i in range(60):
            t = start_s + span_s * (i + 0.5) / 60
            load = 0
            for _ in range(6):
                truth = endpoint_truth(scenario, provider, spec, t, concurrency=load)
                load = round(rps * (truth.ttft_median_ms / 1000 + tokens / truth.tps))
            total += true_value(truth.to_json())
        scores[target.provider] = total / 60
    best = max(scores, key=scores.__getitem__)
    return next(t for t in targets if t.provider == best), scores


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
