"""Scores: decayed statistics + objective + request shape → one number per endpoint (pure).

In the shared core because the router and replay both rank with it.

Every objective's raw value is adjusted by the success probability ``p`` (a failed attempt costs a
retry, so expected time is ``t / p`` and useful throughput ``tps · p``), then normalised so the
best endpoint scores 1.0 and the others the fraction of it they achieve. ``balanced`` blends the
normalised latency, throughput and cost scores. A stale endpoint's estimate widens: it is scored on
its pessimistic quantile (TTFT p90, tps about p10) instead of the median.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from signalbox.stats import EndpointSnapshot


class Objective(StrEnum):
    """What a request optimises for (the ``sort`` parameter)."""

    THROUGHPUT = "throughput"
    LATENCY = "latency"
    E2E = "e2e"
    COST = "cost"
    BALANCED = "balanced"


OBJECTIVES = tuple(o.value for o in Objective)
DEFAULT_OBJECTIVE = Objective.BALANCED
BALANCED_WEIGHTS = {Objective.LATENCY: 0.4, Objective.THROUGHPUT: 0.4, Objective.COST: 0.2}
_MIN_P = 0.02  # an endpoint that always fails still gets a finite (terrible) expected cost


@dataclass(frozen=True, slots=True)
class RequestShape:
    """The token mix of a request: what the cost and e2e objectives need."""

    input_tokens: int = 500
    output_tokens: int = 256


@dataclass(frozen=True, slots=True)
class PriceInfo:
    """USD per million input and output tokens (``None``: unknown)."""

    input_per_mtok: float | None = None
    output_per_mtok: float | None = None

    def blended_per_mtok(self, shape: RequestShape) -> float | None:
        """USD per million tokens for this request's mix."""
        if self.input_per_mtok is None or self.output_per_mtok is None:
            return None
        total = shape.input_tokens + shape.output_tokens
        if total <= 0:
            return None
        cost = shape.input_tokens * self.input_per_mtok + shape.output_tokens * self.output_per_mtok
        return cost / total


def _ttft_ms(snap: EndpointSnapshot) -> float | None:
    """TTFT p50, or p90 when the endpoint is stale: an old estimate is read pessimistically."""
    if snap.stale and snap.ttft_p90_ms is not None:
        return snap.ttft_p90_ms
    return snap.ttft_p50_ms


def _tps(snap: EndpointSnapshot) -> float | None:
    """tps p50, or about its p10 when stale (p50²/p90: the lower mirror of the upper spread)."""
    if snap.stale and snap.tps_p50 and snap.tps_p90:
        return snap.tps_p50 * snap.tps_p50 / snap.tps_p90
    return snap.tps_p50


def raw_value(
    snap: EndpointSnapshot, price: PriceInfo, objective: Objective, shape: RequestShape
) -> float | None:
    """The objective's success-adjusted value (ms, tokens/s or USD/Mtok); None without data."""
    p = max(1.0 - snap.error_rate, _MIN_P)
    if objective is Objective.LATENCY:
        ttft = _ttft_ms(snap)
        return None if ttft is None else ttft / p
    if objective is Objective.THROUGHPUT:
        tps = _tps(snap)
        return None if tps is None else tps * p
    if objective is Objective.E2E:
        ttft, tps = _ttft_ms(snap), _tps(snap)
        if ttft is None or not tps:
            return None
        return (ttft + 1000.0 * shape.output_tokens / tps) / p
    if objective is Objective.COST:
        blended = price.blended_per_mtok(shape)
        return None if blended is None else blended / p
    raise ValueError(f"raw_value has no single value for {objective}")


def higher_is_better(objective: Objective) -> bool:
    """Whether a larger raw value is better."""
    return objective is Objective.THROUGHPUT


def normalise(values: list[float | None], higher_better: bool) -> list[float]:
    """Each value as a fraction of the best (1.0 = best, 0.0 = no data)."""
    known = [v for v in values if v is not None and v > 0]
    if not known:
        # No data anywhere: zero-cost (free) endpoints are best for cost; else nobody scores.
        return [1.0 if v == 0 else 0.0 for v in values]
    if higher_better:
        best = max(known)
        return [0.0 if v is None else max(v, 0.0) / best for v in values]
    best = min(known)
    return [0.0 if v is None else (1.0 if v <= 0 else best / v) for v in values]


def score_all(
    snaps: list[EndpointSnapshot],
    prices: list[PriceInfo],
    objective: Objective,
    shape: RequestShape,
) -> list[float]:
    """The normalised score of every endpoint for the objective (same order as given)."""
    if objective is Objective.BALANCED:
        total = [0.0] * len(snaps)
        weight_used = 0.0
        for part, weight in BALANCED_WEIGHTS.items():
            values = [raw_value(s, p, part, shape) for s, p in zip(snaps, prices, strict=True)]
            if all(v is None for v in values):
                continue  # e.g. no prices anywhere: blend the rest
            weight_used += weight
            for i, score in enumerate(normalise(values, higher_is_better(part))):
                total[i] += weight * score
        return [t / weight_used for t in total] if weight_used else total
    values = [raw_value(s, p, objective, shape) for s, p in zip(snaps, prices, strict=True)]
    return normalise(values, higher_is_better(objective))
