"""What-if replay: a routing policy evaluated on stored observations (issue: "what routing buys").

Time is cut into steps. In each step every endpoint's *outcome* is what its observations in that
step showed (median TTFT and tokens/s of successful requests, robust to a measurement an
overloaded machine bunched up; share of failures); an endpoint not
observed in a step keeps its last outcome for up to the routing settings' ``stale_after_s`` (the
router would still call it fresh), so a probe interval longer than the step does not blank the
step. Steps where some endpoint has no outcome are skipped. A policy chooses one endpoint per step
from what it could have known before the step began; its result is the outcome of its choices,
compared with the best choice in hindsight (the best outcome of each step) and with sending
everything to each single provider.

The ``signalbox`` policy ranks exactly as the router does: one :class:`EndpointBook` per endpoint
(decayed statistics per half-life and a breaker, with the catalog's ``[routing]`` settings) fed
every stored observation in time order as the router's follower feeds them, then the core
``rank`` under the app's constraints and ``choose`` with a seeded random draw (sharing among
near-best, exploration, panic when every allowed circuit is open). Constraints shape only that
policy's choices. Pure over polars frames; :func:`load` is the only I/O.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import polars as pl
from sqlalchemy import Engine, select

from signalbox.catalog import RoutingSettings
from signalbox.records import SAMPLE_COLUMNS, Sample
from signalbox.routing.book import EndpointBook
from signalbox.routing.objectives import DEFAULT_OBJECTIVE, Objective
from signalbox.routing.scoring import PriceInfo, RequestShape, score_all
from signalbox.routing.select import Constraints, choose, rank
from signalbox.schema import Endpoint, Observation, Provider
from signalbox.stats import EndpointSnapshot

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
    """An endpoint as replay needs it: id, provider name, prices and region."""

    id: int
    provider: str
    price: PriceInfo
    region: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one endpoint delivered during one step (``carried``: its last step's, not observed in
    this one)."""

    n: int
    error_rate: float
    ttft_ms: float | None
    tps: float | None
    carried: bool = False


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
    unserved: int = 0  # steps where no endpoint met the constraints: a refused request

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

    def refuse(self) -> None:
        """Record a step where nothing qualified: the app got an error."""
        self.steps += 1
        self.unserved += 1
        self.errors.append(1.0)

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
    carried: int = 0  # evaluated steps where some endpoint's outcome was carried forward
    # per evaluated step: its start (epoch seconds) and the provider the policy chose (None:
    # nothing qualified)
    timeline: list[tuple[float, str | None]] = field(default_factory=list)

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
                Provider.region,
            )
            .join(Provider, Provider.id == Endpoint.provider_id)
            .where(Endpoint.model == model, Endpoint.enabled.is_(True))
            .order_by(Endpoint.id)
        ).all()
        endpoints = [ReplayEndpoint(r[0], r[1], PriceInfo(r[2], r[3]), r[4]) for r in eps]
        table = Observation.__table__
        rows = conn.execute(
            select(*(table.c[name] for name in OBS_SCHEMA))
            .where(Observation.endpoint_id.in_([e.id for e in endpoints]))
            .where(Observation.ts >= since, Observation.ts < until)
            .order_by(Observation.ts)
        ).all()
    return pl.DataFrame(rows, schema=OBS_SCHEMA, orient="row"), endpoints


def step_outcomes(
    obs: pl.DataFrame, start: datetime, step_s: float, carry_s: float = 0.0
) -> dict[tuple[int, int], Outcome]:
    """Per (step index, endpoint id), what the endpoint's observations in that step showed, or,
    for up to ``carry_s`` after a step it was observed in, that step's outcome (``carried``)."""
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
            pl.col("ttft_ms").filter(pl.col("ok")).median().alias("ttft_ms"),
            pl.col("tps").filter(pl.col("ok")).median().alias("tps"),
        )
        .sort("endpoint_id", "step")
    )
    carry_steps = int(carry_s // step_s)
    outcomes: dict[tuple[int, int], Outcome] = {}
    rows = list(grouped.iter_rows(named=True))
    for i, r in enumerate(rows):
        step, endpoint_id = int(r["step"]), int(r["endpoint_id"])
        outcome = Outcome(r["n"], float(r["error_rate"]), r["ttft_ms"], r["tps"])
        outcomes[(step, endpoint_id)] = outcome
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        until = step + carry_steps
        if nxt is not None and nxt["endpoint_id"] == endpoint_id:
            until = min(until, int(nxt["step"]) - 1)
        for later in range(step + 1, until + 1):
            outcomes[(later, endpoint_id)] = replace(outcome, carried=True)
    return outcomes


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
    objective: Objective = DEFAULT_OBJECTIVE,
    policy: str = "signalbox",
    step_s: float = 60.0,
    settings: RoutingSettings | None = None,
    constraints: Constraints = Constraints(),
    shape: RequestShape | None = None,
    seed: int = 0,
) -> ReplayReport:
    """Evaluate ``policy`` over [since, until) against hindsight and every single provider;
    ``settings`` are the catalog's routing settings (defaults when not given), ``constraints`` and
    ``seed`` (sharing and exploration draws) shape the signalbox policy's choices."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy '{policy}': choose one of {', '.join(POLICIES)}")
    if step_s <= 0:
        raise ValueError("step must be positive")
    settings = settings or RoutingSettings()
    shape = shape or RequestShape()
    # An endpoint never observed in the window would leave no step comparable: leave it out.
    seen = set(obs["endpoint_id"].unique().to_list()) if not obs.is_empty() else set()
    silent = [e.provider for e in endpoints if e.id not in seen]
    endpoints = [e for e in endpoints if e.id in seen]
    n_steps = max(math.ceil((until - since).total_seconds() / step_s), 0)
    outcomes = step_outcomes(obs, since, step_s, settings.stale_after_s)
    router = _Router(model, endpoints, objective, settings, constraints, shape, seed)
    samples = ((r["endpoint_id"], Sample.from_row(r)) for r in obs.sort("ts").iter_rows(named=True))
    pending = next(samples, None)
    report = ReplayReport(
        model,
        objective,
        step_s,
        0,
        PolicyResult(policy),
        PolicyResult("hindsight"),
        [PolicyResult(f"only {e.provider}") for e in endpoints],
        silent,
    )
    static_choice = _static_best(outcomes, endpoints, objective, shape, max(n_steps // 10, 1))
    for step in range(n_steps):
        now = (since + timedelta(seconds=step * step_s)).timestamp()
        while pending is not None and pending[1].ts < now:
            router.observe(*pending)
            pending = next(samples, None)
        step_outcome = [outcomes.get((step, e.id)) for e in endpoints]
        if any(o is None for o in step_outcome):
            continue  # compare only steps where every endpoint has an outcome
        report.steps += 1
        report.carried += any(o.carried for o in step_outcome)  # type: ignore[union-attr]
        values = outcome_values(step_outcome, endpoints, objective, shape)
        best = max(range(len(endpoints)), key=values.__getitem__)
        report.hindsight.add(endpoints[best], step_outcome[best], shape)  # type: ignore[arg-type]
        for i, single in enumerate(report.singles):
            single.add(endpoints[i], step_outcome[i], shape)  # type: ignore[arg-type]
        if policy == "round-robin":
            chosen: int | None = step % len(endpoints)
        elif policy == "static-best":
            chosen = static_choice
        else:
            chosen = router.choose(now)
        if chosen is None:
            report.policy.refuse()
            report.timeline.append((now, None))
        else:
            report.policy.add(endpoints[chosen], step_outcome[chosen], shape)  # type: ignore[arg-type]
            report.timeline.append((now, endpoints[chosen].provider))
    return report


class _Router:
    """The router's decision path over replayed history: books fed in time order, core rank and
    choose with seeded draws."""

    def __init__(
        self,
        model: str,
        endpoints: list[ReplayEndpoint],
        objective: Objective,
        settings: RoutingSettings,
        constraints: Constraints,
        shape: RequestShape,
        seed: int,
    ) -> None:
        self.model, self.objective, self.settings = model, objective, settings
        self.constraints, self.shape = constraints, shape
        self.half_life_s = settings.half_life_for(objective)
        self.books = {
            e.id: EndpointBook(f"{e.provider}/{model}", e.provider, e.region, e.price, settings)
            for e in endpoints
        }
        self.index = {f"{e.provider}/{model}": i for i, e in enumerate(endpoints)}
        self.rng = random.Random(seed)

    def observe(self, endpoint_id: int, sample: Sample) -> None:
        """Fold a stored observation in, as the router's follower does."""
        book = self.books.get(endpoint_id)
        if book is not None:
            book.add(sample)

    def choose(self, now: float) -> int | None:
        """The index of the endpoint the router would send a request to at ``now``."""
        candidates = [
            book.candidate(now, book.estimate(now, self.half_life_s))
            for book in self.books.values()
        ]
        ranking = rank(self.model, candidates, self.objective, self.shape, self.constraints)
        decision = choose(ranking, self.settings, self.rng.random(), self.rng.random())
        chosen = decision.chosen
        return None if chosen is None else self.index[chosen.candidate.key]


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
