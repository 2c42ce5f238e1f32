"""The figures of bench_routes.py: one request's outcome, an arm's summary (pooled over runs),
the target and the markdown table. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROUTE = "support"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request as the app saw it."""

    ok: bool
    latency_ms: float
    status: int
    path: str | None
    trigger: str | None
    hard: bool


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def summarise(outcomes: list[Outcome], cost_usd: float, attempts: int) -> dict[str, Any]:
    """The arm's figures."""
    n = len(outcomes)
    ok = sum(o.ok for o in outcomes)
    latencies = [o.latency_ms for o in outcomes]
    escalated = sum(1 for o in outcomes if o.trigger not in (None, "none"))
    hard = [o for o in outcomes if o.hard]
    return {
        "requests": n,
        "successes": ok,
        "success_rate": ok / n if n else float("nan"),
        "success_rate_hard": sum(o.ok for o in hard) / len(hard) if hard else None,
        "cost_usd": cost_usd,
        "cost_per_success_usd": cost_usd / ok if ok else None,
        "upstream_attempts": attempts,
        "escalation_rate": escalated / n if n else None,
        "latency_p50_ms": quantile(latencies, 0.5),
        "latency_p99_ms": quantile(latencies, 0.99),
        "statuses": {
            str(s): sum(o.status == s for o in outcomes) for s in {o.status for o in outcomes}
        },
    }


def verdict(arms: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The target: route success within 1 point of always-large at <= 40 % of its cost."""
    route, large = arms.get("route"), arms.get("large")
    if not route or not large or not route["successes"] or not large["cost_per_success_usd"]:
        return None
    gap = large["success_rate"] - route["success_rate"]
    share = route["cost_per_success_usd"] / large["cost_per_success_usd"]
    return {
        "success_gap_points": round(100 * gap, 2),
        "cost_share_of_large": round(share, 4),
        "met": gap <= 0.01 and share <= 0.40,
    }


def table(arms: dict[str, dict[str, Any]]) -> str:
    """The markdown table for the README."""
    lines = [
        "| arm | success | hard success | cost per 1k successes | escalated | p50 | p99 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    names = {"small": "always small", "large": "always large", "route": f"route `{ROUTE}`"}
    for arm, s in arms.items():
        cost = s["cost_per_success_usd"]
        hard = s["success_rate_hard"]
        esc = s["escalation_rate"] if arm == "route" else None
        lines.append(
            f"| {names[arm]} | {s['success_rate']:.1%} | "
            + (f"{hard:.1%}" if hard is not None else "-")
            + " | "
            + (f"${cost * 1000:.3f}" if cost else "-")
            + " | "
            + (f"{esc:.1%}" if esc is not None else "-")
            + f" | {s['latency_p50_ms']:.0f} ms | {s['latency_p99_ms']:.0f} ms |"
        )
    return "\n".join(lines)
