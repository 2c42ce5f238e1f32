"""Decayed quantiles agree with numpy's weighted quantile within one bucket."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from signalbox.records import Sample
from signalbox.stats import BucketSpec, DecayedHistogram, EndpointStats

SPEC = BucketSpec()
H = 30.0


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=600, allow_nan=False),
            st.floats(min_value=0.05, max_value=1e6, allow_nan=False),
        ),
        min_size=1,
        max_size=80,
    ),
    st.sampled_from([0.5, 0.9, 0.99]),
)
def test_quantile_matches_numpy_weighted_quantile(obs: list[tuple[float, float]], q: float) -> None:
    stats = EndpointStats(H)
    for ts, x in obs:
        stats.add(Sample(ts, ok=True, ttft_ms=x))
    now = 600.0
    values = np.array([x for _, x in obs])
    weights = np.array([2.0 ** (-(now - t) / H) for t, _ in obs])
    if weights.sum() < 1e-300:
        return
    expected = float(np.quantile(values, q, weights=weights, method="inverted_cdf"))
    got = stats.ttft.quantile_bucket(q)
    assert got is not None
    assert abs(got - SPEC.index(expected)) <= 1


def test_quantiles_in_one_pass_equal_single_quantiles() -> None:
    hist = DecayedHistogram(SPEC)
    for i in range(1, 500):
        hist.add(float(i), 1.0)
    assert hist.quantiles((0.5, 0.9, 0.99)) == tuple(hist.quantile(q) for q in (0.5, 0.9, 0.99))


def test_quantile_error_is_within_half_a_bucket() -> None:
    hist = DecayedHistogram(SPEC)
    hist.add(123.0, 1.0)
    got = hist.quantile(0.5)
    assert got is not None
    assert abs(got / 123.0 - 1) < SPEC.growth - 1


def test_empty_histogram_has_no_quantiles() -> None:
    hist = DecayedHistogram(SPEC)
    assert hist.quantile(0.5) is None
    assert hist.quantiles((0.5, 0.9)) == (None, None)


def test_values_outside_the_range_clamp_to_end_buckets() -> None:
    assert SPEC.index(0.0) == 0
    assert SPEC.index(-5.0) == 0
    assert SPEC.index(1e12) == SPEC.n - 1
