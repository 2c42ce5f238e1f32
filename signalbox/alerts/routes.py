"""Rules on routes: each route's decayed escalation rate from the ``route_decision`` table, then
one lifecycle step per (rule, route).

A decision escalated when a trigger fired (``trigger`` set) or its outcome says ``escalated``.
The rate is decayed like the endpoint statistics (docs/architecture.md §4), with the rule's
``half_life_s``: decisions are counted in buckets of a quarter of a half-life over the last
:data:`LOOKBACK_HALF_LIVES` half-lives, in one indexed, grouped query that reads no row into
Python (the table grows with traffic), and each bucket weighs its mean decay weight.
``samples`` is then the effective number of decisions, held against the rule's ``min_samples``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Engine, and_, case, func, or_, select

from signalbox.alerts.lifecycle import FIRING, OpenAlert, Step, advance, retire
from signalbox.alerts.rules import RuleInput, evaluate
from signalbox.catalog import AlertRule
from signalbox.schema import RouteDecision

LOOKBACK_HALF_LIVES = 8  # older decisions weigh under 0.4 %
BUCKETS_PER_HALF_LIFE = 4
_RD = RouteDecision.__table__


def bucket_weight(k: int) -> float:
    """The mean decay weight ``2^(-age/H)`` over bucket ``k`` (ages ``k·b`` to ``(k+1)·b`` half-lives,
    ``b = 1/BUCKETS_PER_HALF_LIFE``)."""
    b = 1.0 / BUCKETS_PER_HALF_LIFE
    return 2.0 ** (-k * b) * (1.0 - 2.0**-b) / (b * math.log(2.0))


def _escalated() -> ColumnElement[bool]:
    return or_(_RD.c.trigger.is_not(None), _RD.c.outcome == "escalated")


def route_counts(
    engine: Engine, half_life_s: float, now: float
) -> dict[str, list[tuple[int, int]]]:
    """Per route, (decisions, escalated) in each bucket, newest first (a decision stamped after
    ``now``, a clock ahead of ours, counts as the newest)."""
    now_dt = datetime.fromtimestamp(now, UTC)
    width = timedelta(seconds=half_life_s / BUCKETS_PER_HALF_LIFE)
    n = LOOKBACK_HALF_LIVES * BUCKETS_PER_HALF_LIFE
    cols = []
    for k in range(n):
        inside = _RD.c.ts >= now_dt - (k + 1) * width
        if k:
            inside = and_(inside, _RD.c.ts < now_dt - k * width)
        cols.append(func.sum(case((inside, 1), else_=0)))
        cols.append(func.sum(case((and_(inside, _escalated()), 1), else_=0)))
    stmt = (
        select(_RD.c.route, *cols)
        .where(_RD.c.ts >= now_dt - n * width)
        .group_by(_RD.c.route)
        .order_by(_RD.c.route)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return {
        row[0]: [(int(row[1 + 2 * k] or 0), int(row[2 + 2 * k] or 0)) for k in range(n)]
        for row in rows
    }


def route_input(route: str, buckets: Sequence[tuple[int, int]], now: float) -> RuleInput:
    """The input a route rule reads: effective decisions and the decayed escalation rate."""
    w = sum(bucket_weight(k) * total for k, (total, _) in enumerate(buckets))
    e = sum(bucket_weight(k) * esc for k, (_, esc) in enumerate(buckets))
    return RuleInput(
        now=now,
        samples=w,
        error_rate=0.0,
        ttft_p50_ms=None,
        tps_p50=None,
        last_ok_ts=None,
        watched_since_ts=None,
        escalation_rate=e / w if w > 0 else None,
        route=route,
    )


def route_steps(
    engine: Engine,
    rules: Sequence[AlertRule],
    open_alerts: Mapping[tuple[str, str], OpenAlert],
    now: float,
) -> list[Step]:
    """Evaluate every route rule on every route with recent decisions or an open alert; retire
    the open alerts of rules that left the catalog."""
    now_dt = datetime.fromtimestamp(now, UTC)
    names = {r.name for r in rules}
    steps = [
        retire(alert, f"rule {rule} left the catalog")
        for (rule, _route), alert in open_alerts.items()
        if rule not in names
    ]
    counts_by_half_life = {h: route_counts(engine, h, now) for h in {r.half_life_s for r in rules}}
    for rule in rules:
        counts = counts_by_half_life[rule.half_life_s]
        routes = set(counts) | {route for (name, route) in open_alerts if name == rule.name}
        for route in sorted(routes):
            current = open_alerts.get((rule.name, route))
            inp = route_input(route, counts.get(route, []), now)
            firing = current is not None and current.state == FIRING
            evaluation = evaluate(rule, inp, firing=firing)
            steps.append(advance(current, evaluation, rule, None, now_dt, route=route))
    return steps
