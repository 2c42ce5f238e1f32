"""What-if replay: a routing policy evaluated on stored observations (issue: "what routing buys").

Time is cut into steps. In each step every endpoint's *outcome* is what its observations in that
step actually showed (mean TTFT and tokens/s of successful requests, share of failures). A policy
chooses one endpoint per step from what it could have known before the step began; the policy's
result is the outcome of its choices. It is compared with the best choice in hindsight (the best
outcome of each step) and with sending everything to each single provider. Pure over polars frames;
:func:`load` is the only I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl
from sqlalchemy import Engine, select

from signalbox.records import SAMPLE_COLUMNS, Sample
from signalbox.routing.objectives import Objective
from signalbox.routing.scoring import PriceInfo, RequestShape, score_all
from signalbox.schema import Endpoint, Observation, Provider
from signalbox.stats import EndpointSnapshot, EndpointStats

POLICIES = ("signalbox", "round-robin", "static-best")
_NOT_FLOAT = {
    "ts": pl.Datetime("us", "UTC"),
    "ok": pl.Boolean,
    "source": pl.String,
    "error_class": pl.String,
}
# endpoint id, then the columns a Sample is built from (every other one a float metric)
OBS_SCHEMA = {"endpoint_id": pl.Int64} | {c: _NOT_FLOAT.get(c, pl.Float64) for c in SAMPLE_COLUMNS}


@dataclass(frozen=True, slots=True)
class ReplayEndpoint:
    """An endpoint as replay needs it: id, provider name and prices."""

    id: int
    provider: str
    price: PriceInfo


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one endpoint delivered during one step."""

    n: int
    error_rate: float
    ttft_ms: float | None
    tps: float | None


@dataclass
class PolicyResult:
    """The outcomes a policy's choices delivered, summed over the evaluated steps."""

    name: str
    steps: int = 0
    ttft_ms: list[float] = field(default_factory=list)
    tps: list[float] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)
    cost_per_mtok: list[float] = field(default_factory=list)
    choices: dict[str, int] = field(default_factory=dict)

    def add(self, endpoint: ReplayEndpoint, outcome: Outcome, shape: RequestShape) -> None:
        """Record that this policy sent the step to ``endpoint`` and got ``outcome``."""
        self.steps += 1
        self.choices[endpoint.provider] = self.choices.get(endpoint.provider, 0) + 1
        self.errors.append(outcome.error_rate)
        if outcome.ttft_ms is not None:
            self.ttft_ms.append(outcome.ttft_ms)
        if outcome.tps is not None:
            self.tps.append(outcome.tps)
        blended = endpoint.price.blended_per_mtok(shape)
        if blended is not None:
            self.cost_per_mtok.append(blended)

    def summary(self) -> dict[str, float | int | str | None]:
        """Means over the evaluated steps."""
        return {
            "policy": self.name,
            "steps": self.steps,
            "ttft_ms": _mean(self.ttft_ms),
            "tps": _mean(self.tps),
            "error_rate": _mean(self.errors),
            "cost_per_mtok": _mean(self.cost_per_mtok),
        }


@dataclass
class ReplayReport:
    """The policy, hindsight and every single provider, over the same steps."""

    model: str
    objective: Objective
    step_s: float
    steps: int
    policy: PolicyResult
    hindsight: PolicyResult
    singles: list[PolicyResult]
    silent: list[str] = field(default_factory=list)  # endpoints never observed: left out

    def rows(self) -> list[dict[str, float | int | str | None]]:
        """One summary row per strategy: the policy, hindsight, then each single provider."""
        return [r.summary() for r in (self.policy, self.hindsight, *self.singles)]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def load(
    engine: Engine, model: str, since: datetime, until: datetime
) -> tuple[pl.DataFrame, list[ReplayEndpoint]]:
    """The model's endpoints and their observations in [since, until), as a polars frame."""
    with engine.connect() as conn:
        eps = conn.execute(
            select(
                Endpoint.id,
                Provider.name,
                Endpoint.price_input_per_mtok,
                Endpoint.price_output_per_mtok,
            )
            .join(Provider, Provider.id == Endpoint.provider_id)
            .where(Endpoint.model == model, Endpoint.enabled.is_(True))
            .order_by(Endpoint.id)
        ).all()
        endpoints = [ReplayEndpoint(r[0], r[1], PriceInfo(r[2], r[3])) for r in eps]
        table = Observation.__table__
        rows = conn.execute(
            select(*(table.c[name] for name in OBS_SCHEMA))
            .where(Observation.endpoint_id.in_([e.id for e in endpoints]))
            .where(Observation.ts >= since, Observation.ts < until)
            .order_by(Observation.ts)
        ).all()
    return pl.DataFrame(rows, schema=OBS_SCHEMA, orient="row"), endpoints


def step_outcomes(
    obs: pl.DataFrame, start: datetime, step_s: float
) -> dict[tuple[int, int], Outcome]:
    """Per (step index, endpoint id), what the endpoint's observations in that step showed."""
    if obs.is_empty():
        return {}
    start_us = int(start.timestamp() * 1e6)
    grouped = (
        obs.with_columns(
            ((pl.col("ts").dt.epoch("us") - start_us) // int(step_s * 1e6)).alias("step")
        )
        .group_by("step", "endpoint_id")
        .agg(
            pl.len().alias("n"),
            (~pl.col("ok")).mean().alias("error_rate"),
            pl.col("ttft_ms").filter(pl.col("ok")).mean().alias("ttft_ms"),
            pl.col("tps").filter(pl.col("ok")).mean().alias("tps"),
        )
    )
    return {
        (int(r["step"]), int(r["endpoint_id"])): Outcome(
            r["n"], float(r["error_rate"]), r["ttft_ms"], r["tps"]
        )
        for r in grouped.iter_rows(named=True)
    }


def outcome_values(
    outcomes: list[Outcome | None],
    endpoints: list[ReplayEndpoint],
    objective: Objective,
    shape: RequestShape,
) -> list[float]:
    """Each endpoint's outcome in one step scored like the router scores its estimates (1 = best)."""
    snaps = [
        EndpointSnapshot.point(0, 1.0, None, None)
        if o is None
        else EndpointSnapshot.point(o.n, o.error_rate, o.ttft_ms, o.tps)
        for o in outcomes
    ]
    scores = score_all(snaps, [e.price for e in endpoints], objective, shape)
    return [0.0 if o is None else s for o, s in zip(outcomes, scores, strict=True)]


def replay(
    obs: pl.DataFrame,
    endpoints: list[ReplayEndpoint],
    *,
    model: str,
    since: datetime,
    until: datetime,
    objective: Objective = Objective.BALANCED,
    policy: str = "signalbox",
    step_s: float = 60.0,
    half_life_s: float = 900.0,
    stale_after_s: float = 300.0,
    shape: RequestShape | None = None,
) -> ReplayReport:
    """Evaluate ``policy`` over [since, until) against hindsight and every single provider."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy '{policy}': choose one of {', '.join(POLICIES)}")
    if step_s <= 0:
        raise ValueError("step must be positive")
    shape = shape or RequestShape()
    # An endpoint never observed in the window would leave no step comparable: leave it out.
    seen = set(obs["endpoint_id"].unique().to_list()) if not obs.is_empty() else set()
    silent = [e.provider for e in endpoints if e.id not in seen]
    endpoints = [e for e in endpoints if e.id in seen]
    n_steps = max(math.ceil((until - since).total_seconds() / step_s), 0)
    outcomes = step_outcomes(obs, since, step_s)
    stats = {e.id: EndpointStats(half_life_s, stale_after_s) for e in endpoints}
    rows = obs.sort("ts").iter_rows(named=True)
    pending = next(rows, None)
    policy_result = PolicyResult(policy)
    hindsight = PolicyResult("hindsight")
    singles = [PolicyResult(f"only {e.provider}") for e in endpoints]
    static_choice = _static_best(outcomes, endpoints, objective, shape, max(n_steps // 10, 1))
    evaluated = 0
    for step in range(n_steps):
        step_start = since + timedelta(seconds=step * step_s)
        while pending is not None and pending["ts"] < step_start:
            stats[pending["endpoint_id"]].add(Sample.from_row(pending))
            pending = next(rows, None)
        step_outcome = [outcomes.get((step, e.id)) for e in endpoints]
        if any(o is None for o in step_outcome):
            continue  # compare only steps where every endpoint was observed
        evaluated += 1
        values = outcome_values(step_outcome, endpoints, objective, shape)
        best = max(range(len(endpoints)), key=values.__getitem__)
        hindsight.add(endpoints[best], step_outcome[best], shape)  # type: ignore[arg-type]
        for i, single in enumerate(singles):
            single.add(endpoints[i], step_outcome[i], shape)  # type: ignore[arg-type]
        if policy == "round-robin":
            chosen = step % len(endpoints)
        elif policy == "static-best":
            chosen = static_choice
        else:
            now = step_start.timestamp()
            # ranked as the router ranks: decayed figures moved along their trend
            snaps = [stats[e.id].snapshot(now, with_uptime=False).projected() for e in endpoints]
            scores = score_all(snaps, [e.price for e in endpoints], objective, shape)
            chosen = max(range(len(endpoints)), key=scores.__getitem__)
        policy_result.add(endpoints[chosen], step_outcome[chosen], shape)  # type: ignore[arg-type]
    return ReplayReport(
        model, objective, step_s, evaluated, policy_result, hindsight, singles, silent
    )


def _static_best(
    outcomes: dict[tuple[int, int], Outcome],
    endpoints: list[ReplayEndpoint],
    objective: Objective,
    shape: RequestShape,
    first_steps: int,
) -> int:
    """The endpoint with the best mean score over the first ``first_steps`` steps."""
    totals = [0.0] * len(endpoints)
    for step in range(first_steps):
        step_outcome = [outcomes.get((step, e.id)) for e in endpoints]
        for i, v in enumerate(outcome_values(step_outcome, endpoints, objective, shape)):
            totals[i] += v
    return max(range(len(endpoints)), key=totals.__getitem__) if endpoints else 0
