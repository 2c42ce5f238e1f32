"""The objectives a request can optimise for (the ``sort`` parameter), as one table.

Each entry says what it measures, which way is better, what it means in one line and which figures
a decision's reason shows. Scoring, catalog validation (``half_life_by_objective_s`` keys), the
router's parameters and OpenAPI document, ``signalbox route --sort``, ``signalbox replay --sort``
and the dashboard read this table; adding an objective is adding an entry here. Standard library
only at import time, so ``signalbox --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signalbox.routing.scoring import PriceInfo, RequestShape
    from signalbox.stats import EndpointSnapshot

Measure = Callable[["EndpointSnapshot", "PriceInfo", "RequestShape"], "float | None"]


@dataclass(frozen=True, slots=True)
class ObjectiveSpec:
    """One objective: its plain figure (before the success adjustment scoring applies) or a blend
    of other objectives' normalised scores, its direction, its meaning and what a reason shows
    (``ttft``, ``tps``, ``price``)."""

    name: str
    explanation: str
    higher_is_better: bool = False
    measure: Measure | None = None
    blend: Mapping[str, float] = field(default_factory=dict)
    shows: tuple[str, ...] = ()


def ttft_ms(snap: EndpointSnapshot) -> float | None:
    """TTFT p50, or p90 when the endpoint is stale: an old estimate is read pessimistically."""
    if snap.stale and snap.ttft_p90_ms is not None:
        return snap.ttft_p90_ms
    return snap.ttft_p50_ms


def tps(snap: EndpointSnapshot) -> float | None:
    """tps p50, or about its p10 when stale (p50²/p90: the lower mirror of the upper spread)."""
    if snap.stale and snap.tps_p50 and snap.tps_p90:
        return snap.tps_p50 * snap.tps_p50 / snap.tps_p90
    return snap.tps_p50


def _e2e_ms(snap: EndpointSnapshot, price: PriceInfo, shape: RequestShape) -> float | None:
    first, speed = ttft_ms(snap), tps(snap)
    if first is None or not speed:
        return None
    return first + 1000.0 * shape.output_tokens / speed


_SPECS = (
    ObjectiveSpec(
        "throughput",
        "highest decode speed: tokens/s p50 times the success probability",
        higher_is_better=True,
        measure=lambda snap, price, shape: tps(snap),
        shows=("tps",),
    ),
    ObjectiveSpec(
        "latency",
        "lowest time to first token: TTFT p50 over the success probability",
        measure=lambda snap, price, shape: ttft_ms(snap),
        shows=("ttft",),
    ),
    ObjectiveSpec(
        "e2e",
        "lowest end-to-end time for the expected output N: (TTFT + N / tps) over the success "
        "probability",
        measure=_e2e_ms,
        shows=("ttft", "tps"),
    ),
    ObjectiveSpec(
        "cost",
        "lowest price for the request's token mix, over the success probability",
        measure=lambda snap, price, shape: price.blended_per_mtok(shape),
        shows=("price",),
    ),
    ObjectiveSpec(
        "balanced",
        "a blend of the normalised latency (0.4), throughput (0.4) and cost (0.2) scores",
        blend=MappingProxyType({"latency": 0.4, "throughput": 0.4, "cost": 0.2}),
        shows=("ttft", "tps"),
    ),
)

OBJECTIVES: Mapping[str, ObjectiveSpec] = MappingProxyType({s.name: s for s in _SPECS})
# The names as an enum (``Objective.LATENCY``, ``Objective("cost")``), made from the table.
Objective = StrEnum("Objective", [(s.name.upper(), s.name) for s in _SPECS], module=__name__)
DEFAULT_OBJECTIVE = Objective("balanced")


def describe_objectives(sep: str = "\n") -> str:
    """``name: explanation`` for every objective, ``sep`` between them (help texts, API docs)."""
    return sep.join(f"{s.name}: {s.explanation}" for s in _SPECS)
