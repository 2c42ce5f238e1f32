"""The load curve: per load level, what the router's own requests that started there delivered,
relative to what all of them delivered."""

from __future__ import annotations

import pytest

from signalbox.stats.load import MAX_LEVEL, LoadCurve, level_of

T0 = 1_800_000_000.0


@pytest.mark.parametrize(
    ("in_flight", "level"),
    [
        (0, 0),
        (3, 3),
        (4, 4),
        (5, 5),
        (7, 7),
        (8, 8),
        (9, 8),
        (10, 9),
        (15, 11),
        (16, 12),
        (19, 12),
        (20, 13),
        (32, 16),
        (1023, 35),
        (1024, MAX_LEVEL),
        (10**6, MAX_LEVEL),
    ],
)
def test_levels_are_exact_up_to_seven_then_four_per_doubling(in_flight: int, level: int) -> None:
    assert level_of(in_flight) == level


def test_levels_never_decrease_with_load() -> None:
    levels = [level_of(n) for n in range(5000)]
    assert levels == sorted(levels)
    assert levels[-1] == MAX_LEVEL


def test_a_saturating_endpoint_predicts_slower_at_higher_load() -> None:
    curve = LoadCurve(half_life_s=60)
    for i in range(10):
        curve.add(T0 + i, 0, ttft_ms=100.0, tps=160.0)
        curve.add(T0 + i, 3, ttft_ms=400.0, tps=40.0)
    # the overall geometric means are 200 ms and 80 tok/s
    assert curve.factors(0, T0 + 10) == pytest.approx((0.5, 2.0))
    assert curve.factors(3, T0 + 10) == pytest.approx((2.0, 0.5))
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
    # ten half-lives later the levels' weight is far below what they need to speak
    assert curve.factors(3, T0 + 110) == (1.0, 1.0)


def test_landmark_moves_keep_the_factors() -> None:
    curve = LoadCurve(half_life_s=0.01)  # gains overflow quickly: forces rebases
    for i in range(400):
        ts = T0 + i * 0.01
        curve.add(ts, 0, ttft_ms=100.0, tps=160.0)
        curve.add(ts, 3, ttft_ms=400.0, tps=40.0)
    assert curve.factors(3, T0 + 3.99) == pytest.approx((2.0, 0.5))


def test_a_level_with_too_little_data_is_pooled_with_the_levels_below() -> None:
    curve = LoadCurve(half_life_s=60)
    for _ in range(4):
        curve.add(T0, 0, ttft_ms=100.0, tps=160.0)
    curve.add(T0, 5, ttft_ms=400.0, tps=40.0)
    curve.add(T0, 6, ttft_ms=400.0, tps=40.0)
    # level 6 alone has one observation: with level 5's it speaks, and says slow
    # (overall: 160^(4/6) * 40^(2/6) = 100.8 tok/s)
    assert curve.factors(6, T0)[1] == pytest.approx(40.0 / 100.8, rel=1e-3)
    # level 5 has one and nothing between it and level 0: pooled with the idle level, optimistic
    assert curve.factors(6, T0)[1] < curve.factors(5, T0)[1] < curve.factors(0, T0)[1]
