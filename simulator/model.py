"""Pure behaviour: the true parameters of an endpoint at time t, and sampling one request's plan.

No I/O here: the server asks :func:`endpoint_truth` for the truth (scenario + events + faults + load)
and :func:`plan_request` for what one request will do, from a seeded random generator.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Any

from signalbox.simulator.faults import Fault
from signalbox.simulator.noise import background_load, chunk_gaps_s, lognormal_mean_one
from signalbox.simulator.scenario import ERROR_KINDS, ModelSpec, Noise, ProviderSpec, Scenario

VOCAB = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "signals",
    "travel",
    "across",
    "every",
    "wire",
    "and",
    "providers",
    "answer",
    "in",
    "streams",
    "of",
    "small",
    "tokens",
    "that",
    "arrive",
    "one",
    "after",
    "another",
    "until",
    "done",
]


@dataclass(frozen=True, slots=True)
class EndpointTruth:
    """What one (provider, model) really does at a time: the figures measurements are scored by."""

    provider: str
    model: str
    upstream_model: str
    ttft_median_ms: float
    ttft_sigma: float
    tps: float
    errors: dict[str, float]
    retry_after_s: float
    price_input_per_mtok: float | None
    price_output_per_mtok: float | None
    outage: bool = False
    cycle_factor: float = 1.0
    load_factor: float = 1.0
    concurrency: int = 0
    active_events: list[str] = field(default_factory=list)
    background: float = 0.0  # other tenants' in-flight requests (in the load factor)
    tps_cv: float = 0.0  # spread of one request's tokens/s around ``tps`` (the expected value)

    @property
    def error_rate(self) -> float:
        """Probability that a request fails in any way (1 during an outage)."""
        return 1.0 if self.outage else min(1.0, sum(self.errors.values()))

    def to_json(self) -> dict[str, Any]:
        """The /truth entry of this endpoint."""
        return {
            "upstream_model": self.upstream_model,
            "ttft_median_ms": round(self.ttft_median_ms, 3),
            "ttft_sigma": self.ttft_sigma,
            "tps": round(self.tps, 3),
            "error_probabilities": {k: round(v, 6) for k, v in self.errors.items()},
            "error_rate": round(self.error_rate, 6),
            "retry_after_s": self.retry_after_s,
            "price_input_per_mtok": self.price_input_per_mtok,
            "price_output_per_mtok": self.price_output_per_mtok,
            "outage": self.outage,
            "cycle_factor": round(self.cycle_factor, 6),
            "load_factor": round(self.load_factor, 6),
            "concurrency": self.concurrency,
            "background_load": round(self.background, 3),
            "tps_cv": round(self.tps_cv, 6),
            "active_events": self.active_events,
        }


def load_factor(provider: ProviderSpec, concurrency: float) -> float:
    """Slowness from load: 1 up to capacity, then ``1 + slope * excess / capacity``."""
    if provider.capacity is None or concurrency <= provider.capacity:
        return 1.0
    return 1.0 + provider.overload_slope * (concurrency - provider.capacity) / provider.capacity


def endpoint_truth(
    scenario: Scenario,
    provider: ProviderSpec,
    spec: ModelSpec,
    t: float,
    *,
    concurrency: int = 0,
    faults: list[Fault] | tuple[Fault, ...] = (),
) -> EndpointTruth:
    """The true parameters of ``provider`` serving ``spec`` at time ``t`` under this load."""
    ttft = spec.ttft_median_ms
    tps = spec.tps
    errors = spec.errors.probabilities()
    outage = False
    labels: list[str] = []
    cycle = provider.cycle_for(spec)
    cycle_factor = cycle.factor(t) if cycle else 1.0
    ttft *= cycle_factor
    tps /= cycle_factor
    for event in scenario.events:
        if not event.applies(provider.name, spec.model):
            continue
        progress = event.progress(t)
        if progress == 0.0:
            continue
        labels.append(event.describe())
        if event.kind == "outage":
            outage = True
        elif event.kind == "degrade":
            ttft *= 1.0 + (event.ttft_factor - 1.0) * progress
            tps *= 1.0 + (event.tps_factor - 1.0) * progress
        else:
            errors[event.error] += event.rate
    for fault in faults:
        labels.append(fault.describe())
        if fault.kind == "outage":
            outage = True
        elif fault.kind == "slow":
            ttft *= fault.factor
            tps /= fault.factor
        elif fault.kind == "error_rate":
            errors[fault.error] += fault.rate
        elif fault.kind == "hang":
            errors["hang"] += fault.rate
    total = sum(errors.values())
    if total > 1.0:
        errors = {k: v / total for k, v in errors.items()}
    background = background_load(scenario.seed, provider, t)
    lf = load_factor(provider, concurrency + background)
    return EndpointTruth(
        provider=provider.name,
        model=spec.model,
        upstream_model=spec.upstream_model,
        ttft_median_ms=ttft * lf,
        ttft_sigma=spec.ttft_sigma,
        tps=tps / lf,
        errors=errors,
        retry_after_s=spec.errors.retry_after_s,
        price_input_per_mtok=spec.price_input_per_mtok,
        price_output_per_mtok=spec.price_output_per_mtok,
        outage=outage,
        cycle_factor=cycle_factor,
        load_factor=lf,
        concurrency=concurrency,
        active_events=labels,
        background=background,
        tps_cv=spec.noise.tps_cv * lf,
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """What one request will do: its outcome, timing and the content chunks (tokens per chunk)."""

    outcome: str  # "ok", "outage" or one of ERROR_KINDS
    ttft_ms: float
    tps: float
    output_tokens: int
    finish_reason: str  # "stop" (natural end) or "length" (max_tokens reached)
    chunks: tuple[int, ...]
    fail_after: int  # for cut_stream/malformed_event/stream_error: chunks sent before the fault
    retry_after_s: float
    text_offset: int
    gaps_s: tuple[float, ...] = ()  # jittered seconds between chunks; empty: exactly size / tps

    def token_times_s(self) -> list[float]:
        """Offset (from request arrival) at which each content chunk is due: its last token's time."""
        first = self.ttft_ms / 1000.0
        if self.gaps_s:
            return list(itertools.accumulate(self.gaps_s, initial=first))[1:]
        times, sent = [], 0
        for size in self.chunks:
            sent += size
            times.append(first + (sent - 1) / self.tps)
        return times

    def decode_tps(self) -> float | None:
        """Tokens per second from the first content chunk to the last, as this plan's schedule
        delivers them: ``(tokens - 1) / (last - first)``, the definition a client measures
        (docs/architecture.md §2). Without noise it is ``tps``; with it, the chunks' jitter and
        stalls are in it. None when fewer than two chunks leave no interval to measure."""
        if len(self.chunks) < 2 or self.output_tokens < 2:
            return None
        times = self.token_times_s()
        span = times[-1] - times[0]
        return (self.output_tokens - 1) / span if span > 0 else None


def request_rng(seed: int, provider: str, model: str, index: int) -> random.Random:
    """The generator for the ``index``-th request to an endpoint: runs repeat given the seed."""
    return random.Random(f"{seed}:{provider}:{model}:{index}")


def plan_request(
    truth: EndpointTruth,
    rng: random.Random,
    *,
    max_tokens: int | None,
    output_tokens_median: int,
    output_tokens_sigma: float,
    chunk_min: int = 1,
    chunk_max: int = 4,
    noise: Noise | None = None,
) -> Plan:
    """Sample one request's plan from the truth. The first content chunk carries one token, so the
    first content arrives exactly at the TTFT; later chunks carry ``chunk_min..chunk_max`` tokens.
    With ``noise`` the request's tokens/s is drawn around the truth's (CV ``truth.tps_cv``) and its
    chunks are jittered and sometimes stalled; without, it streams at exactly ``truth.tps``."""
    outcome = "outage" if truth.outage else "ok"
    if not truth.outage:
        u, acc = rng.random(), 0.0
        for kind in ERROR_KINDS:
            acc += truth.errors.get(kind, 0.0)
            if u < acc:
                outcome = kind
                break
    ttft_ms = truth.ttft_median_ms * math.exp(truth.ttft_sigma * rng.gauss(0.0, 1.0))
    natural = max(1, round(output_tokens_median * math.exp(output_tokens_sigma * rng.gauss())))
    n = natural if max_tokens is None else min(natural, max_tokens)
    finish = "length" if max_tokens is not None and natural >= max_tokens else "stop"
    if outcome == "empty_answer":
        n, finish = 0, "stop"
    chunks: list[int] = [1] if n else []
    left = n - 1
    while left > 0:
        size = min(left, rng.randint(chunk_min, chunk_max))
        chunks.append(size)
        left -= size
    fail_after = rng.randint(1, max(1, len(chunks) - 1)) if len(chunks) > 1 else len(chunks)
    text_offset = rng.randrange(len(VOCAB))
    tps, gaps = truth.tps, ()
    if noise is not None:
        # its own stream, seeded by one last draw: the draws above stay as they were without noise
        noisy = random.Random(rng.random())
        tps *= lognormal_mean_one(noisy, truth.tps_cv)
        gaps = chunk_gaps_s(noisy, noise, tuple(chunks), tps)
    return Plan(
        outcome=outcome,
        ttft_ms=ttft_ms,
        tps=tps,
        output_tokens=n,
        finish_reason=finish,
        chunks=tuple(chunks),
        fail_after=fail_after,
        retry_after_s=truth.retry_after_s,
        text_offset=text_offset,
        gaps_s=gaps,
    )


def chunk_texts(plan: Plan) -> list[str]:
    """The text of each content chunk: words from a fixed vocabulary, one word per token."""
    out, i = [], plan.text_offset
    for size in plan.chunks:
        words = [VOCAB[(i + k) % len(VOCAB)] for k in range(size)]
        out.append(("" if i == plan.text_offset else " ") + " ".join(words))
        i += size
    return out


def estimate_input_tokens(text_chars: int) -> int:
    """Prompt tokens from its length (about four characters a token)."""
    return max(1, math.ceil(text_chars / 4))
