"""Forward decay equals brute-force recomputation, whatever the order of arrival."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalbox.records import Sample
from signalbox.stats import DecayedSeries, EndpointStats, ForwardDecay

H = 60.0

observations = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=5000 * H, allow_nan=False),  # ts: spans many rebases
        st.floats(min_value=0.5, max_value=1e5, allow_nan=False),  # value
    ),
    min_size=1,
    max_size=60,
)


def brute_force(obs: list[tuple[float, float]], now: float) -> tuple[float, float, float]:
    w = [2.0 ** (-(now - t) / H) for t, _ in obs]
    return (
        sum(w),
        sum(wi * x for wi, (_, x) in zip(w, obs, strict=True)),
        sum(wi * x * x for wi, (_, x) in zip(w, obs, strict=True)),
    )


@given(observations)
def test_decayed_weight_and_mean_match_brute_force(obs: list[tuple[float, float]]) -> None:
    series = DecayedSeries(H)
    for ts, x in obs:
        series.add(x, ts)
    now = max(t for t, _ in obs) + 3 * H
    w, wx, _ = brute_force(obs, now)
    if w < 1e-250:  # everything decayed to nothing: only the order of magnitude is meaningful
        return
    assert series.total(now) == pytest.approx(w, rel=1e-9)
    assert series.mean() == pytest.approx(wx / w, rel=1e-9)


@given(observations, st.randoms(use_true_random=False))
def test_order_of_arrival_does_not_matter(obs: list[tuple[float, float]], rnd) -> None:
    shuffled = list(obs)
    rnd.shuffle(shuffled)
    a, b = EndpointStats(H), EndpointStats(H)
    for ts, x in obs:
        a.add(Sample(ts, ok=x > 100, ttft_ms=x, tps=x / 10))
    for ts, x in shuffled:
        b.add(Sample(ts, ok=x > 100, ttft_ms=x, tps=x / 10))
    now = max(t for t, _ in obs) + 1.0
    sa, sb = a.snapshot(now), b.snapshot(now)
    assert sa.samples == pytest.approx(sb.samples, rel=1e-9, abs=1e-300)
    assert sa.error_rate == pytest.approx(sb.error_rate, rel=1e-9)
    assert sa.last_seen_ts == sb.last_seen_ts


@settings(max_examples=50)
@given(st.floats(min_value=1, max_value=1e6), st.floats(min_value=0, max_value=1e4))
def test_one_observation_halves_after_one_half_life(half_life_s: float, t0: float) -> None:
    series = DecayedSeries(half_life_s)
    series.add(1.0, t0)
    assert series.total(t0 + half_life_s) == pytest.approx(0.5)


def test_landmark_rebase_keeps_values() -> None:
    decay = ForwardDecay(1.0)
    assert not decay.needs_rebase(100.0)
    assert decay.needs_rebase(1000.0)
    scale = decay.rebase(1000.0)
    assert scale == 2.0**-1000
    assert decay.factor(1001.0) == 0.5


def test_non_positive_half_life_is_refused() -> None:
    with pytest.raises(ValueError, match="half_life_s"):
        ForwardDecay(0)


def test_variance_of_constant_series_is_zero() -> None:
    series = DecayedSeries(H)
    for i in range(10):
        series.add(7.0, float(i))
    assert series.std() == pytest.approx(0.0, abs=1e-6)
    assert math.isclose(series.mean() or 0, 7.0)
