"""The running fleet's state: the scenario clock, active faults, load per provider, request plans."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from signalbox.simulator.faults import Fault, FaultBoard, parse_fault
from signalbox.simulator.model import EndpointTruth, Plan, endpoint_truth, plan_request, request_rng
from signalbox.simulator.scenario import ModelSpec, ProviderSpec, Scenario


class Fleet:
    """One simulator instance's mutable state; the scenario itself stays immutable."""

    def __init__(self, scenario: Scenario, *, clock: Any = time.monotonic) -> None:
        self.scenario = scenario
        self._clock = clock
        self._start = clock()
        self.started_at = datetime.now(UTC)
        self.faults = FaultBoard()
        self.concurrency: Counter[str] = Counter()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._served = {p.name: {m.model for m in p.models} for p in scenario.providers}

    def now_t(self) -> float:
        """Scenario time: seconds since start, scaled, plus the start offset."""
        elapsed = (self._clock() - self._start) * self.scenario.time_scale
        return elapsed + self.scenario.start_offset_s

    def truth(
        self, provider: ProviderSpec, spec: ModelSpec, t: float | None = None
    ) -> EndpointTruth:
        """The endpoint's truth at ``t`` (default now) under the current load and faults."""
        t = self.now_t() if t is None else t
        return endpoint_truth(
            self.scenario,
            provider,
            spec,
            t,
            concurrency=self.concurrency[provider.name],
            faults=self.faults.active(provider.name, spec.model, t),
        )

    def start_request(
        self, provider: ProviderSpec, spec: ModelSpec, max_tokens: int | None
    ) -> Plan:
        """Sample the next request's plan and count it in the provider's load until ``end``."""
        truth = self.truth(provider, spec)
        key = (provider.name, spec.model)
        index = self._requests[key]
        self._requests[key] += 1
        plan = plan_request(
            truth,
            request_rng(self.scenario.seed, provider.name, spec.model, index),
            max_tokens=max_tokens,
            output_tokens_median=spec.output_tokens_median,
            output_tokens_sigma=spec.output_tokens_sigma,
            chunk_min=provider.chunk_tokens_min,
            chunk_max=provider.chunk_tokens_max,
            noise=spec.noise,
        )
        self.concurrency[provider.name] += 1
        return plan

    def end_request(self, provider: ProviderSpec) -> None:
        """The request no longer loads the provider."""
        self.concurrency[provider.name] -= 1

    def apply_fault(self, payload: Any) -> Fault:
        """Validate and apply an admin fault payload (raises ``FaultError``)."""
        fault = parse_fault(payload, now_t=self.now_t(), providers=self._served)
        self.faults.apply(fault)
        return fault

    def faults_json(self, t: float) -> list[str]:
        """Labels of the faults in effect at ``t``."""
        return [f.describe() for f in self.faults.all(t)]

    def truth_json(self, at: float | None = None) -> dict[str, Any]:
        """``GET /truth``: every provider and model at ``at`` (default now)."""
        t = self.now_t() if at is None else at
        providers: dict[str, Any] = {}
        for provider in self.scenario.providers:
            providers[provider.name] = {
                "dialect": provider.dialect,
                "requires_key": provider.api_key is not None,
                "region": provider.region,
                "capacity": provider.capacity,
                "concurrency": self.concurrency[provider.name],
                "models": {
                    spec.model: self.truth(provider, spec, t).to_json() for spec in provider.models
                },
            }
        return {
            "t": round(t, 6),
            "started_at": self.started_at.isoformat(),
            "scenario": self.scenario.name,
            "seed": self.scenario.seed,
            "time_scale": self.scenario.time_scale,
            "faults": self.faults_json(t),
            "providers": providers,
        }
