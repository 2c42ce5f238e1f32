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


def summarise(results: Sequence[Result]) -> dict[str, float | int | None]:
    """Delivered tps, TTFT p50/p99, error rate and cost per million output tokens."""
    ok = [r for r in results if r.ok]
    tps = [r.tps for r in ok if r.tps]
    ttft = [r.ttft_ms for r in ok if r.ttft_ms is not None]
    out_tokens = sum(r.output_tokens for r in ok)
    cost = sum(r.cost_usd for r in ok)
    return {
        "requests": len(results),
        "tps_mean": statistics.fmean(tps) if tps else None,
        # what the app got: a failed request delivers nothing
        "tps_delivered": sum(tps) / len(results) if results else None,
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
