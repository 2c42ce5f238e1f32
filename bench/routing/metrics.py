"""From per-request results to the figures the benchmark reports (pure)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from bench.routing.stream import Result


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (nearest rank) or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def summarise(
    results: Sequence[Result], tps_cap: float | None = None
) -> dict[str, float | int | None]:
    """Delivered tps, TTFT p50/p99, error rate and cost per million output tokens.

    Delivered tok/s is the mean over all requests of each one's decode tokens/s, a failed request
    counting 0 (what the app got). Each rate is capped at ``tps_cap``: a stream whose chunks
    reached a busy client loop bunched together shows an impossible rate (400,000 tok/s measured)
    that would otherwise dominate the mean; the cap (twice the scenario's fastest provider) only
    ever cuts such artefacts.
    """
    ok = [r for r in results if r.ok]
    tps = [min(r.tps, tps_cap or r.tps) for r in ok if r.tps]
    ttft = [r.ttft_ms for r in ok if r.ttft_ms is not None]
    out_tokens = sum(r.output_tokens for r in ok)
    cost = sum(r.cost_usd for r in ok)
    return {
        "requests": len(results),
        "tps_median": statistics.median(tps) if tps else None,
        "tps_delivered": sum(tps) / len(results) if results else None,
        "capped": sum(1 for r in ok if r.tps and tps_cap and r.tps > tps_cap),
        "ttft_p50_ms": quantile(ttft, 0.5),
        "ttft_p99_ms": quantile(ttft, 0.99),
        "error_rate": 1 - len(ok) / len(results) if results else None,
        "cost_per_mtok": cost / out_tokens * 1e6 if out_tokens and cost else None,
    }


def reroute_times(
    results: Sequence[Result], provider: str, start_s: float, end_s: float, window_s: float = 2.0
) -> tuple[float | None, float | None]:
    """Seconds after an outage of ``provider`` starts until traffic stays off it (for
    ``window_s``), and seconds after it ends until traffic reaches it again (None: never)."""
    sent = sorted((r.sent_s, r.provider) for r in results)
    away = None
    t = start_s
    while t < end_s:
        window = [p for s, p in sent if t <= s < min(t + window_s, end_s)]
        if window and provider not in window:
            away = t - start_s
            break
        later = [s for s, p in sent if s >= t and p == provider]
        if not later:
            away = t - start_s
            break
        t = later[0] + 1e-6
    back = next((s - end_s for s, p in sent if s >= end_s and p == provider), None)
    return away, back


def outage_attempts(
    results: Sequence[Result], provider: str, start_s: float, end_s: float
) -> dict[str, float | int | None]:
    """What an outage of ``provider`` (run seconds ``start_s``-``end_s``) cost, from attempts:
    how long after it began attempts still went to it (``attempting_s``; 0: none did), how many
    requests made one, how many of those failed, and the added TTFT of those that recovered
    elsewhere (their median TTFT less that of requests in the outage that never tried it)."""
    inside = [r for r in results if start_s <= r.sent_s < end_s]
    hit = [r for r in inside if r.tried and provider in r.tried]
    clean = [
        r.ttft_ms
        for r in inside
        if r.ok and r.ttft_ms is not None and r.tried and provider not in r.tried
    ]
    saved = [r.ttft_ms for r in hit if r.ok and r.ttft_ms is not None]
    last = max((r.sent_s for r in hit), default=None)
    return {
        "requests": len(inside),
        "attempted_dead": len(hit),
        "failed": sum(not r.ok for r in hit),
        "attempting_s": last - start_s if last is not None else 0.0,
        "added_ttft_ms": statistics.median(saved) - statistics.median(clean)
        if saved and clean
        else None,
        "unknown_attempts": sum(r.tried is None for r in inside),
    }


def distribution(values: Sequence[float]) -> dict[str, float | int | None]:
    """Median, worst 10 % (the 10th percentile, nearest rank from below) and minimum."""
    ordered = sorted(values)
    if not ordered:
        return {"n": 0, "median": None, "worst10": None, "min": None}
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "worst10": ordered[max(0, int(0.1 * len(ordered)) - 1)],
        "min": ordered[0],
    }
