"""Selection (pure): constraints, breaker state, sharing among near-best, exploration → a ranking
in attempt order and a one-line reason (docs/architecture.md §5). The router, replay and the dashboard rank with
it; its knobs are the catalog's :class:`~signalbox.catalog.RoutingSettings`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from signalbox.catalog import RoutingSettings
from signalbox.routing.breaker import BreakerState
from signalbox.routing.objectives import OBJECTIVES, Objective
from signalbox.routing.scoring import PriceInfo, RequestShape, score_all
from signalbox.stats import EndpointSnapshot

DEFAULT_SETTINGS = RoutingSettings()


@dataclass(frozen=True, slots=True)
class Candidate:
    """One endpoint of the model, with everything selection looks at."""

    key: str  # provider/model
    provider: str
    region: str | None
    price: PriceInfo
    snapshot: EndpointSnapshot
    breaker: BreakerState = BreakerState.CLOSED
    retry_in_s: float = 0.0
    trial_available: bool = False


@dataclass(frozen=True, slots=True)
class Constraints:
    """What the app allows (OpenRouter-style provider preferences and our thresholds)."""

    only: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    order: tuple[str, ...] = ()
    max_price: float | None = None  # USD per million tokens for the request's mix
    max_ttft_ms: float | None = None
    min_tps: float | None = None
    max_error_rate: float | None = None
    region: str | None = None

    def describe(self) -> str:
        """The constraints set, in one line ("" when none)."""
        parts = []
        if self.only is not None:
            parts.append(f"only {', '.join(sorted(self.only))}")
        if self.ignore:
            parts.append(f"ignore {', '.join(sorted(self.ignore))}")
        if self.order:
            parts.append(f"order {', '.join(self.order)}")
        if self.max_price is not None:
            parts.append(f"max price {self.max_price:g} USD/Mtok")
        if self.max_ttft_ms is not None:
            parts.append(f"max TTFT {self.max_ttft_ms:g} ms")
        if self.min_tps is not None:
            parts.append(f"min tps {self.min_tps:g}")
        if self.max_error_rate is not None:
            parts.append(f"max error rate {self.max_error_rate:.0%}")
        if self.region is not None:
            parts.append(f"region {self.region}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Ranked:
    """A qualifying endpoint, its score and state."""

    candidate: Candidate
    score: float
    state: str  # healthy, stale, half-open

    @property
    def provider(self) -> str:
        """The provider's name."""
        return self.candidate.provider


@dataclass(frozen=True, slots=True)
class Decision:
    """The ranking in attempt order (chosen first), what was excluded and why, and the reason."""

    model: str
    objective: Objective
    ranking: tuple[Ranked, ...]
    excluded: tuple[tuple[str, str], ...]
    reason: str
    explored: bool = False
    trial: bool = False

    @property
    def chosen(self) -> Ranked | None:
        """The endpoint to try first, or None when nothing qualifies."""
        return self.ranking[0] if self.ranking else None


def _why_excluded(c: Candidate, cons: Constraints, shape: RequestShape) -> str | None:
    snap = c.snapshot
    if cons.only is not None and c.provider not in cons.only:
        return "not in only"
    if c.provider in cons.ignore:
        return "ignored"
    if cons.region is not None and c.region != cons.region:
        return f"region {c.region or 'unknown'} != {cons.region}"
    if c.breaker is BreakerState.OPEN:
        return f"circuit open, retry in {c.retry_in_s:.0f} s"
    if cons.max_price is not None:
        price = c.price.blended_per_mtok(shape)
        if price is None:
            return "price unknown with max_price set"
        if price > cons.max_price:
            return f"price {price:.3g} > max_price {cons.max_price:g} USD/Mtok"
    ttft = snap.ttft_p50_ms
    if cons.max_ttft_ms is not None and ttft is not None and ttft > cons.max_ttft_ms:
        return f"ttft p50 {snap.ttft_p50_ms:.0f} ms > max_ttft_ms {cons.max_ttft_ms:g}"
    if cons.min_tps is not None and snap.tps_p50 is not None and snap.tps_p50 < cons.min_tps:
        return f"tps p50 {snap.tps_p50:.0f} < min_tps {cons.min_tps:g}"
    if cons.max_error_rate is not None and snap.error_rate > cons.max_error_rate:
        return f"error rate {snap.error_rate:.1%} > max_error_rate {cons.max_error_rate:.1%}"
    return None


def _state(c: Candidate) -> str:
    if c.breaker is BreakerState.HALF_OPEN:
        return "half-open"
    if c.breaker is BreakerState.OPEN:
        return "open"  # only in panic mode: every allowed endpoint is open
    return "stale" if c.snapshot.stale else "healthy"


def _describe(r: Ranked, objective: Objective) -> str:
    s = r.candidate.snapshot
    shows = OBJECTIVES[objective].shows
    figures = []
    if s.ttft_p50_ms is not None and "ttft" in shows:
        figures.append(f"ttft p50 {s.ttft_p50_ms:.0f} ms")
    if s.tps_p50 is not None and "tps" in shows:
        figures.append(f"tps p50 {s.tps_p50:.0f}")
    if "price" in shows and r.candidate.price.input_per_mtok is not None:
        figures.append(
            f"price {r.candidate.price.input_per_mtok:g}/{r.candidate.price.output_per_mtok:g} USD/Mtok"
        )
    figures.append(f"p_success {1 - s.error_rate:.2f}")
    return ", ".join(figures)


@dataclass(frozen=True, slots=True)
class Ranking:
    """The deterministic part of a decision: qualifying endpoints by score, and the excluded."""

    model: str
    objective: Objective
    ranked: tuple[Ranked, ...]
    excluded: tuple[tuple[str, str], ...]
    constraints: Constraints


def rank(
    model: str,
    candidates: Sequence[Candidate],
    objective: Objective,
    shape: RequestShape = RequestShape(),
    constraints: Constraints = Constraints(),
) -> Ranking:
    """Filter by constraints and breaker, score, sort (best first); no randomness."""
    excluded: list[tuple[str, str]] = []
    qualifying: list[Candidate] = []
    for c in candidates:
        why = _why_excluded(c, constraints, shape)
        if why is None:
            qualifying.append(c)
        else:
            excluded.append((c.provider, why))
    if not qualifying:
        # Panic mode (as Envoy's load balancers have): when every endpoint the app's constraints
        # allow has an open circuit, trying the best of them beats refusing every request until a
        # cooldown ends. A burst that slowed the router itself can trip every breaker at once.
        tripped = [
            c
            for c in candidates
            if c.breaker is BreakerState.OPEN
            and _why_excluded(replace(c, breaker=BreakerState.CLOSED), constraints, shape) is None
        ]
        if tripped:
            qualifying = tripped
            names = {c.provider for c in tripped}
            excluded = [(p, w) for p, w in excluded if p not in names]
    scores = score_all(
        [c.snapshot for c in qualifying], [c.price for c in qualifying], objective, shape
    )
    ranked = sorted(
        (Ranked(c, s, _state(c)) for c, s in zip(qualifying, scores, strict=True)),
        key=lambda r: (-r.score, r.candidate.key),
    )
    return Ranking(model, objective, tuple(ranked), tuple(excluded), constraints)


def select(
    model: str,
    candidates: Sequence[Candidate],
    objective: Objective,
    shape: RequestShape = RequestShape(),
    constraints: Constraints = Constraints(),
    settings: RoutingSettings = DEFAULT_SETTINGS,
    u_explore: float = 1.0,
    u_share: float = 0.0,
    allow_trial: bool = False,
) -> Decision:
    """Rank ``candidates`` for ``objective`` under ``constraints``, then choose; ``u_*`` are
    uniform [0, 1) draws (injected, so tests choose them). ``allow_trial`` lets a half-open
    endpoint go first."""
    ranking = rank(model, candidates, objective, shape, constraints)
    return choose(ranking, settings, u_explore, u_share, allow_trial)


def choose(
    ranking: Ranking,
    settings: RoutingSettings = DEFAULT_SETTINGS,
    u_explore: float = 1.0,
    u_share: float = 0.0,
    allow_trial: bool = False,
    memo: dict[tuple[str, str], Decision] | None = None,
) -> Decision:
    """The random part: provider order, half-open trial, exploration, sharing among near-best.

    Only the pick is random; the decision built around it (order, reason) is a function of the
    ranking and the pick, so a caller that keeps a ranking keeps a ``memo`` beside it and a
    repeated pick costs a dictionary lookup instead of formatting the reason again."""
    kind, pick = _pick(ranking, settings, u_explore, u_share, allow_trial)
    if memo is None:
        return _decide(ranking, settings, kind, pick)
    key = (kind, pick.candidate.key if pick is not None else "")
    decision = memo.get(key)
    if decision is None:
        decision = memo[key] = _decide(ranking, settings, kind, pick)
    return decision


def _pick(
    ranking: Ranking,
    settings: RoutingSettings,
    u_explore: float,
    u_share: float,
    allow_trial: bool,
) -> tuple[str, Ranked | None]:
    """Which endpoint goes first, and by which rule (the kind names the reason to give)."""
    ranked = ranking.ranked
    if not ranked:
        return "none", None
    if ranked[0].state == "open":
        return "panic", ranked[0]
    order = ranking.constraints.order
    if order:
        for provider in order:
            for r in ranked:
                if r.provider == provider:
                    return "order", r
    if allow_trial:
        for r in ranked:
            if r.candidate.trial_available:
                return "trial", r
    best = ranked[0]
    if u_explore < settings.explore_share:
        unsure = [
            r
            for r in ranked[1:]
            if r.candidate.snapshot.stale or r.candidate.snapshot.samples < settings.min_samples
        ]
        if unsure:
            return "explore", unsure[min(int(u_share * len(unsure)), len(unsure) - 1)]
    if best.score <= 0:
        return "even", ranked[min(int(u_share * len(ranked)), len(ranked) - 1)]
    floor = best.score * (1.0 - settings.share_buffer)
    near = [r for r in ranked if r.score >= floor]
    if len(near) == 1:
        return "best", best
    target = u_share * sum(r.score for r in near)
    running = 0.0
    for r in near:
        running += r.score
        if target < running:
            return "share", r
    return "share", best


def _decide(
    ranking: Ranking, settings: RoutingSettings, kind: str, pick: Ranked | None
) -> Decision:
    model, objective, excluded = ranking.model, ranking.objective, ranking.excluded
    ranked = ranking.ranked
    if pick is None:
        why = "; ".join(f"{p}: {w}" for p, w in excluded) or "the model has no endpoints"
        return Decision(model, objective, (), excluded, f"no endpoint qualifies ({why})")
    if kind == "order":
        position = {p: i for i, p in enumerate(ranking.constraints.order)}
        listed = sorted(
            (r for r in ranked if r.provider in position), key=lambda r: position[r.provider]
        )
        rest = [r for r in ranked if r.provider not in position]
        return Decision(
            model,
            objective,
            (*listed, *rest),
            excluded,
            f"{pick.provider}: first qualifying in provider order",
        )
    if kind == "panic":
        reason = (
            f"{pick.provider}: every allowed endpoint's circuit is open; trying the best anyway"
        )
    elif kind == "trial":
        reason = f"{pick.provider}: half-open trial after cooldown"
    elif kind == "explore":
        s = pick.candidate.snapshot
        what = "stale" if s.stale else f"few samples (W={s.samples:.1f})"
        reason = f"{pick.provider}: exploring, {what}"
    elif kind == "even":
        reason = f"{pick.provider}: no {objective} data yet, shared evenly"
    elif kind == "share":
        floor = ranked[0].score * (1.0 - settings.share_buffer)
        others = ", ".join(r.provider for r in ranked if r.score >= floor and r is not pick)
        reason = f"{pick.provider}: within {settings.share_buffer:.0%} of best for {objective}, shares with {others} ({_describe(pick, objective)})"
    else:
        reason = f"{pick.provider}: best for {objective} ({_describe(pick, objective)})"
    return Decision(
        model,
        objective,
        (pick, *(r for r in ranked if r is not pick)),
        excluded,
        reason,
        explored=kind == "explore",
        trial=kind == "trial",
    )
