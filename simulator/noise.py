"""Seeded noise of real providers: other tenants' load over time, and one request's spread.

Pure functions of (seed, provider, time or request), so ``/truth?at=T`` and every run repeat.
"""

from __future__ import annotations

import math
import random

from signalbox.simulator.scenario import Noise, ProviderSpec


def lognormal_mean_one(rng: random.Random, cv: float) -> float:
    """A lognormal draw of mean 1 and coefficient of variation ``cv`` (1 when ``cv`` is 0)."""
    if cv <= 0:
        return 1.0
    sigma = math.sqrt(math.log1p(cv * cv))
    return math.exp(sigma * rng.gauss(0.0, 1.0) - sigma * sigma / 2)


def _knot(seed: int, provider: ProviderSpec, k: int) -> float:
    bg = provider.background
    z = random.Random(f"{seed}:{provider.name}:background:{k}").gauss(0.0, 1.0)
    return bg.mean * math.exp(bg.spread * z - bg.spread * bg.spread / 2)


def background_load(seed: int, provider: ProviderSpec, t: float) -> float:
    """Other tenants' in-flight requests on ``provider`` at scenario time ``t``.

    A draw every ``change_s`` (a fraction of capacity), eased with a cosine between draws so the
    load drifts over minutes instead of jumping; 0 for a provider with no capacity limit.
    """
    bg = provider.background
    if provider.capacity is None or bg.mean <= 0:
        return 0.0
    x = t / bg.change_s
    k = math.floor(x)
    w = (1 - math.cos(math.pi * (x - k))) / 2
    level = (1 - w) * _knot(seed, provider, k) + w * _knot(seed, provider, k + 1)
    return level * provider.capacity


def chunk_gaps_s(
    rng: random.Random, noise: Noise, chunks: tuple[int, ...], tps: float
) -> tuple[float, ...]:
    """Seconds between consecutive chunks (the first one's 0: it arrives at the TTFT).

    A chunk of ``n`` tokens takes ``n / tps`` on average, times a mean-one jitter; now and then a
    stall of hundreds of milliseconds is added, as a real stream's pauses are.
    """
    gaps = [0.0] if chunks else []
    stall_sigma = 0.5
    for size in chunks[1:]:
        gap = size / tps * lognormal_mean_one(rng, noise.jitter_cv)
        if noise.stall_prob > 0 and rng.random() < noise.stall_prob:
            gap += noise.stall_ms / 1000.0 * math.exp(stall_sigma * rng.gauss(0.0, 1.0))
        gaps.append(gap)
    return tuple(gaps)
