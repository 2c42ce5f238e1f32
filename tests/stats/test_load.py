"""The load curve: per load level, what requests delivered relative to all requests."""

from __future__ import annotations

import pytest

from signalbox.stats.load import MAX_LEVEL, LoadCurve, level_of

T0 = 1_800_000_000.0


@pytest.mark.parametrize(
    ("in_flight", "level"),
    [(0, 0), (1, 1), (2, 2), (3, 2), (4, 3), (7, 3), (8, 4), (10**6, MAX_LEVEL)],
)
def test_levels_are_powers_of_two(in_flight: int, level: int) -> None:
    assert level_of(in_flight) == level


def test_a_saturating_endpoint_predicts_slower_at_higher_load() -> None:
    curve = LoadCurve(half_life_s=60)
    for i in range(10):
        curve.add(T0 + i, 0, ttft_ms=100.0, tps=160.0)
        curve.add(T0 + i, 3, ttft_ms=400.0, tps=40.0)
    idle_ttft, idle_tps = curve.factors(0, T0 + 10)
    busy_ttft, busy_tps = curve.factors(3, T0 + 10)
    # the overall geometric means are 200 ms and 80 tok/s
    assert idle_ttft == pytest.approx(0.5) and idle_tps == pytest.approx(2.0)
    assert busy_ttft == pytest.approx(2.0) and busy_tps == pytest.approx(0.5)
    # a level with no data borrows the nearest lower one: 2 from 0, 6 from 3
    assert curve.factors(2, T0 + 10) == pytest.approx((0.5, 2.0))
    assert curve.factors(6, T0 + 10) == pytest.approx((2.0, 0.5))


def test_no_data_or_too_little_says_nothing() -> None:
    curve = LoadCurve(half_life_s=60)
    assert curve.factors(3, T0) == (1.0, 1.0)
    curve.add(T0, 3, ttft_ms=400.0, tps=40.0)  # one observation: below the weight a level needs
    assert curve.factors(3, T0) == (1.0, 1.0)


def test_old_load_data_decays_away() -> None:
    curve = LoadCurve(half_life_s=10)
    for i in range(10):
        curve.add(T0 + i, 0, ttft_ms=100.0, tps=160.0)
        curve.add(T0 + i, 3, ttft_ms=400.0, tps=40.0)
    # ten half-lives later the level's weight is far below what it needs to speak
    assert curve.factors(3, T0 + 110) == (1.0, 1.0)


def test_landmark_moves_keep_the_factors() -> None:
    curve = LoadCurve(half_life_s=0.01)  # gains overflow quickly: forces rebases
    for i in range(400):
        ts = T0 + i * 0.01
        curve.add(ts, 0, ttft_ms=100.0, tps=160.0)
        curve.add(ts, 3, ttft_ms=400.0, tps=40.0)
    assert curve.factors(3, T0 + 3.99) == pytest.approx((2.0, 0.5))
