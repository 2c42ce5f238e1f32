"""Scores: decayed statistics + objective + request shape → one number per endpoint (pure).

In the shared core because the router, replay and the dashboard all rank with it; what each
objective measures is the table in ``signalbox.routing.objectives``.

Every objective's raw value is adjusted by the success probability ``p`` (a failed attempt costs a
retry, so expected time is ``t / p`` and useful throughput ``tps · p``), then normalised so the
best endpoint scores 1.0 and the others the fraction of it they achieve. ``balanced`` blends the
normalised latency, throughput and cost scores. A stale endpoint's estimate widens: it is scored on
its pessimistic quantile (TTFT p90, tps about p10) instead of the median.
"""

from __future__ import annotations

from dataclasses import dataclass

from signalbox.routing.objectives import OBJECTIVES, Objective, ObjectiveSpec
from signalbox.stats import EndpointSnapshot

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


def raw_value(
    snap: EndpointSnapshot, price: PriceInfo, objective: Objective, shape: RequestShape
) -> float | None:
    """The objective's success-adjusted value (ms, tokens/s or USD/Mtok); None without data."""
    return _adjusted(OBJECTIVES[objective], snap, price, shape)


def _adjusted(
    spec: ObjectiveSpec, snap: EndpointSnapshot, price: PriceInfo, shape: RequestShape
) -> float | None:
    if spec.measure is None:
        raise ValueError(f"raw_value has no single value for {spec.name}")
    value = spec.measure(snap, price, shape)
    if value is None:
        return None
    p = max(1.0 - snap.error_rate, _MIN_P)
    return value * p if spec.higher_is_better else value / p


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
    spec = OBJECTIVES[objective]
    if spec.blend:
        total = [0.0] * len(snaps)
        weight_used = 0.0
        for name, weight in spec.blend.items():
            part = OBJECTIVES[name]
            values = [_adjusted(part, s, p, shape) for s, p in zip(snaps, prices, strict=True)]
            if all(v is None for v in values):
                continue  # e.g. no prices anywhere: blend the rest
            weight_used += weight
            for i, score in enumerate(normalise(values, part.higher_is_better)):
                total[i] += weight * score
        return [t / weight_used for t in total] if weight_used else total
    values = [_adjusted(spec, s, p, shape) for s, p in zip(snaps, prices, strict=True)]
    return normalise(values, spec.higher_is_better)
