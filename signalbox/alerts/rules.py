"""Pure rule evaluation: one rule over one endpoint's decayed statistics (or, for a kind of scope
``route``, one route's decayed decisions) → (condition, value, reason).

No I/O and no clock: the evaluator fills a frozen :class:`RuleInput` from the statistics snapshots
(the rule's ``half_life_s`` for "now", its ``baseline_half_life_s`` for the endpoint's own baseline)
and passes ``now`` in it. Too little data gives ``UNKNOWN``, never a breach, so a cold start raises
no storm. :data:`ALERT_KINDS` is the table of kinds: the catalog validates ``kind`` against it and
the evaluator asks it which kinds need a baseline; adding a kind is adding an entry there. This
module imports nothing of Signalbox at run time, so the catalog can read the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signalbox.catalog import AlertRule


class Condition(StrEnum):
    """What one evaluation says about a rule's condition."""

    OK = "ok"
    BREACH = "breach"
    UNKNOWN = "unknown"  # not enough data to say either way: keep the current state


@dataclass(frozen=True, slots=True)
class RuleInput:
    """The statistics one endpoint offers a rule (times in epoch seconds, ``None``: no data)."""

    now: float
    samples: float  # effective sample size W of the current (short half-life) statistics
    error_rate: float
    ttft_p50_ms: float | None
    tps_p50: float | None
    last_ok_ts: float | None
    watched_since_ts: float | None  # since when anyone looked at this endpoint (first data/start)
    baseline_samples: float = 0.0
    baseline_ttft_p50_ms: float | None = None
    baseline_tps_p50: float | None = None
    # a route's (kinds of scope "route"): the decayed share of its decisions that escalated;
    # ``samples`` then counts effective decisions
    escalation_rate: float | None = None
    route: str | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of one rule on one endpoint."""

    condition: Condition
    value: float | None
    reason: str


RESOLVE_MARGIN = 0.1  # a firing alert resolves only below threshold·(1 - margin): no flapping


def evaluate(rule: AlertRule, inp: RuleInput, *, firing: bool = False) -> Evaluation:
    """Evaluate ``rule`` against ``inp``.

    Every rule breaches when its value exceeds ``threshold``; once ``firing``, it stays in breach
    until the value falls below ``threshold·(1 - RESOLVE_MARGIN)``, so an estimate hovering at the
    threshold does not fire and resolve over and over.
    """
    kind = ALERT_KINDS.get(rule.kind)
    if kind is None:  # the catalog refuses unknown kinds first
        raise ValueError(f"unknown alert rule kind {rule.kind!r}")
    measured = kind.measure(rule, inp)
    if isinstance(measured, Evaluation):
        return measured
    value, text, fmt = measured
    limit = rule.threshold * (1.0 - RESOLVE_MARGIN) if firing else rule.threshold
    if value > limit:
        return Evaluation(Condition.BREACH, value, f"{text} (> {fmt(limit)})")
    return Evaluation(Condition.OK, value, f"{text} (<= {fmt(limit)})")


Measured = tuple[float, str, Callable[[float], str]]


def _too_few(rule: AlertRule, samples: float, what: str) -> Evaluation | None:
    if samples < rule.min_samples:
        return Evaluation(
            Condition.UNKNOWN,
            None,
            f"{what}: {samples:.1f} effective samples < min_samples {rule.min_samples:g}",
        )
    return None


def _error_rate(rule: AlertRule, inp: RuleInput) -> Evaluation | Measured:
    few = _too_few(rule, inp.samples, "error rate")
    if few is not None:
        return few
    text = f"error rate {inp.error_rate:.1%} over {inp.samples:.1f} effective samples"
    return inp.error_rate, text, lambda x: f"{x:.1%}"


def _baseline_inputs(
    rule: AlertRule, inp: RuleInput, current: float | None, baseline: float | None, what: str
) -> Evaluation | None:
    few = _too_few(rule, inp.samples, what) or _too_few(
        rule, inp.baseline_samples, f"{what} baseline"
    )
    if few is not None:
        return few
    if current is None or baseline is None or current <= 0 or baseline <= 0:
        return Evaluation(Condition.UNKNOWN, None, f"{what}: no successful measurement yet")
    return None


def _times(x: float) -> str:
    return f"{x:.3g}x"


def _ttft_baseline(rule: AlertRule, inp: RuleInput) -> Evaluation | Measured:
    cur, base = inp.ttft_p50_ms, inp.baseline_ttft_p50_ms
    missing = _baseline_inputs(rule, inp, cur, base, "TTFT p50")
    if missing is not None:
        return missing
    assert cur is not None and base is not None
    ratio = cur / base
    return ratio, f"TTFT p50 {cur:.0f} ms is {ratio:.2f}x its baseline {base:.0f} ms", _times


def _tps_baseline(rule: AlertRule, inp: RuleInput) -> Evaluation | Measured:
    cur, base = inp.tps_p50, inp.baseline_tps_p50
    missing = _baseline_inputs(rule, inp, cur, base, "tps p50")
    if missing is not None:
        return missing
    assert cur is not None and base is not None
    factor = base / cur  # how many times slower than usual
    return factor, f"tps p50 {cur:.1f} is {factor:.2f}x below its baseline {base:.1f}", _times


def _no_data(rule: AlertRule, inp: RuleInput) -> Evaluation | Measured:
    """``threshold`` is in minutes: no successful observation for that long."""
    since = inp.last_ok_ts if inp.last_ok_ts is not None else inp.watched_since_ts
    if since is None:
        return Evaluation(Condition.UNKNOWN, None, "no data: endpoint not watched yet")
    minutes = max(inp.now - since, 0.0) / 60.0
    if inp.last_ok_ts is None:
        text = f"no successful observation in the {minutes:.1f} min watched"
    else:
        text = f"last successful observation {minutes:.1f} min ago"
    return minutes, text, lambda x: f"{x:.3g} min"


def _route_escalation_rate(rule: AlertRule, inp: RuleInput) -> Evaluation | Measured:
    """The share of a route's requests that took a more expensive path than its default (any
    trigger fired), decayed with the rule's ``half_life_s`` like the endpoint kinds."""
    what = f"route {inp.route}: escalation rate"
    few = _too_few(rule, inp.samples, what)
    if few is not None:
        return few
    if inp.escalation_rate is None:
        return Evaluation(Condition.UNKNOWN, None, f"{what}: no decisions")
    text = f"{what} {inp.escalation_rate:.1%} over {inp.samples:.1f} effective decisions"
    return inp.escalation_rate, text, lambda x: f"{x:.1%}"


ENDPOINT, ROUTE = "endpoint", "route"


@dataclass(frozen=True, slots=True)
class AlertKind:
    """A kind of rule: how its value is measured, whether it compares with the endpoint's own
    baseline (the feed keeps one only for such kinds), what it watches, and what one alert is
    about: an ``endpoint`` (statistics of observations) or a ``route`` (its decisions)."""

    measure: Callable[[AlertRule, RuleInput], Evaluation | Measured]
    uses_baseline: bool
    description: str
    scope: str = ENDPOINT


ALERT_KINDS: Mapping[str, AlertKind] = MappingProxyType(
    {
        "error_rate": AlertKind(
            _error_rate, False, "decayed error rate above threshold (a fraction, e.g. 0.25)"
        ),
        "ttft_baseline": AlertKind(
            _ttft_baseline, True, "TTFT p50 above threshold times its own baseline"
        ),
        "tps_baseline": AlertKind(
            _tps_baseline, True, "tps p50 below its own baseline by a factor above threshold"
        ),
        "no_data": AlertKind(_no_data, False, "no successful observation for threshold minutes"),
        "route_escalation_rate": AlertKind(
            _route_escalation_rate,
            False,
            "a route's decayed escalation rate (share of its requests a trigger sent past the "
            "default model) above threshold (a fraction, e.g. 0.3)",
            scope=ROUTE,
        ),
    }
)


def rules_of_scope(rules: Iterable[AlertRule], scope: str) -> tuple[AlertRule, ...]:
    """The rules whose kind watches ``scope`` (``endpoint`` or ``route``)."""
    return tuple(r for r in rules if ALERT_KINDS[r.kind].scope == scope)
