"""The noisy simulator: per-request tokens/s spread, jitter and stalls, other tenants' load."""

from __future__ import annotations

import statistics

import pytest

from signalbox.simulator.model import endpoint_truth, plan_request, request_rng
from signalbox.simulator.noise import background_load
from signalbox.simulator.scenario import Noise, load_scenario
from tests.simulator.test_model import without_background

DEMO = load_scenario("demo")
MODEL = "llama-3.1-70b"


def _spec(scenario, provider: str):
    p = scenario.provider(provider)
    return p, next(m for m in p.models if m.model == MODEL)


def _plans(truth, noise: Noise, n: int = 3000):
    return [
        plan_request(
            truth,
            request_rng(11, truth.provider, MODEL, i),
            max_tokens=None,
            output_tokens_median=200,
            output_tokens_sigma=0.2,
            noise=noise,
        )
        for i in range(n)
    ]


def _cv(values: list[float]) -> float:
    return statistics.pstdev(values) / statistics.fmean(values)


def test_per_request_tps_spread_matches_the_configured_cv() -> None:
    quiet = without_background(DEMO)
    provider, spec = _spec(quiet, "lowcost")
    truth = endpoint_truth(quiet, provider, spec, 500.0)
    assert truth.load_factor == 1.0 and truth.tps_cv == pytest.approx(spec.noise.tps_cv)
    noise = Noise(tps_cv=0.10, jitter_cv=0.0, stall_prob=0.0)
    plans = _plans(truth, noise)
    rates = [p.tps for p in plans]
    assert statistics.fmean(rates) == pytest.approx(truth.tps, rel=0.01)  # /truth: the mean
    assert 0.09 < _cv(rates) < 0.11
    # what a client measures from the chunk times (no jitter here) has the same spread
    seen = [
        (p.output_tokens - 1) / (p.token_times_s()[-1] - p.ttft_ms / 1000)
        for p in plans
        if p.output_tokens > 1
    ]
    assert 0.09 < _cv(seen) < 0.11


def test_spread_is_heavier_under_load() -> None:
    quiet = without_background(load_scenario("saturate"))
    provider, spec = _spec(quiet, "burstcloud")
    busy = endpoint_truth(quiet, provider, spec, 0.0, concurrency=2 * provider.capacity)
    assert busy.load_factor > 2
    rates = [p.tps for p in _plans(busy, Noise(tps_cv=0.10, jitter_cv=0.0, stall_prob=0.0))]
    assert _cv(rates) == pytest.approx(0.10 * busy.load_factor, rel=0.1)


def test_jitter_keeps_the_mean_and_stalls_add_hundreds_of_ms() -> None:
    quiet = without_background(DEMO)
    provider, spec = _spec(quiet, "lowcost")
    truth = endpoint_truth(quiet, provider, spec, 500.0)
    smooth = _plans(truth, Noise(tps_cv=0.0, jitter_cv=0.0, stall_prob=0.0), 300)
    jittery = _plans(truth, Noise(tps_cv=0.0, jitter_cv=0.3, stall_prob=0.0), 300)
    durations = [p.token_times_s()[-1] - p.token_times_s()[0] for p in jittery]
    exact = [p.token_times_s()[-1] - p.token_times_s()[0] for p in smooth]
    assert statistics.fmean(durations) == pytest.approx(statistics.fmean(exact), rel=0.02)
    gaps = [g for p in jittery for g in p.gaps_s[1:]]
    assert (
        0.2
        < _cv([g / s for p in jittery for g, s in zip(p.gaps_s[1:], p.chunks[1:], strict=True)])
        < 0.4
    )
    assert max(gaps) < 0.2  # no stalls configured
    stalled = _plans(truth, Noise(tps_cv=0.0, jitter_cv=0.0, stall_prob=0.01, stall_ms=300), 300)
    long_gaps = [g for p in stalled for g in p.gaps_s if g > 0.1]
    chunks = sum(len(p.chunks) - 1 for p in stalled)
    assert 0.005 < len(long_gaps) / chunks < 0.015
    assert 0.2 < statistics.median(long_gaps) < 0.45


def test_decode_tps_is_the_rate_the_chunk_schedule_delivers() -> None:
    quiet = without_background(DEMO)
    provider, spec = _spec(quiet, "lowcost")
    truth = endpoint_truth(quiet, provider, spec, 500.0)
    # without jitter or stalls it is the request's own drawn tokens/s
    for p in _plans(truth, Noise(tps_cv=0.1, jitter_cv=0.0, stall_prob=0.0), 50):
        assert p.decode_tps() == pytest.approx(p.tps)
    # with them, what a client measures from first content to last: stalls make it slower
    noisy = _plans(truth, Noise(tps_cv=0.1, jitter_cv=0.3, stall_prob=0.05, stall_ms=300), 50)
    for p in noisy:
        times = p.token_times_s()
        assert p.decode_tps() == pytest.approx((p.output_tokens - 1) / (times[-1] - times[0]))
    assert statistics.median(p.decode_tps() / p.tps for p in noisy) < 0.9
    # and one chunk leaves no interval to measure
    one = plan_request(
        truth, request_rng(1, "lowcost", MODEL, 0), max_tokens=1,
        output_tokens_median=50, output_tokens_sigma=0.0, noise=Noise(),
    )  # fmt: skip
    assert one.output_tokens == 1 and one.decode_tps() is None


def test_plans_without_noise_stream_at_exactly_the_truth() -> None:
    provider, spec = _spec(DEMO, "lowcost")
    truth = endpoint_truth(DEMO, provider, spec, 500.0)
    plan = plan_request(
        truth, request_rng(1, "lowcost", MODEL, 0), max_tokens=None,
        output_tokens_median=50, output_tokens_sigma=0.0,
    )  # fmt: skip
    assert plan.tps == truth.tps and not plan.gaps_s


def test_background_load_drifts_over_minutes_and_repeats() -> None:
    provider = DEMO.provider("lowcost")
    change = provider.background.change_s
    levels = [background_load(DEMO.seed, provider, t) for t in range(0, 3600, 30)]
    assert len({round(v, 3) for v in levels}) > 50  # it varies over the hour
    assert statistics.fmean(levels) == pytest.approx(
        provider.background.mean * provider.capacity, rel=0.35
    )
    for t in (100.0, 1000.0, 2500.0):  # smooth: a second changes it little, a period a lot
        near = abs(
            background_load(DEMO.seed, provider, t + 1) - background_load(DEMO.seed, provider, t)
        )
        assert near < 0.1 * provider.capacity
    assert background_load(DEMO.seed, provider, 42.0) == background_load(DEMO.seed, provider, 42.0)
    assert background_load(DEMO.seed + 1, provider, 42.0) != background_load(
        DEMO.seed, provider, 42.0
    )
    assert change > 60


def test_background_load_above_capacity_slows_ttft_as_the_load_curve_says() -> None:
    provider, spec = _spec(DEMO, "lowcost")
    quiet = without_background(DEMO)
    qp, qspec = _spec(quiet, "lowcost")
    times = [
        t
        for t in range(400, 3600, 10)
        if background_load(DEMO.seed, provider, t) > provider.capacity * 1.2
    ]
    assert times, "the demo's background load never exceeds capacity: the test proves nothing"
    t = float(times[0])
    bg = background_load(DEMO.seed, provider, t)
    noisy = endpoint_truth(DEMO, provider, spec, t, concurrency=3)
    clean = endpoint_truth(quiet, qp, qspec, t, concurrency=3)
    expected = 1 + provider.overload_slope * (bg + 3 - provider.capacity) / provider.capacity
    assert noisy.load_factor == pytest.approx(expected)
    assert noisy.ttft_median_ms == pytest.approx(clean.ttft_median_ms * expected)
    assert noisy.tps == pytest.approx(clean.tps / expected)
    assert noisy.to_json()["background_load"] == pytest.approx(bg, abs=1e-3)
    low = [
        t
        for t in range(400, 3600, 10)
        if background_load(DEMO.seed, provider, t) < provider.capacity * 0.5
    ]
    calm = endpoint_truth(DEMO, provider, spec, float(low[0]), concurrency=3)
    assert calm.load_factor == 1.0  # under capacity, others' load costs nothing


def test_scenario_files_can_turn_the_noise_off() -> None:
    from signalbox.simulator.scenario import parse_scenario

    text = """
[defaults.noise]
tps_cv = 0.0
stall_prob = 0.0
[[provider]]
name = "p"
capacity = 8
background = { mean = 0.0 }
[[provider.model]]
model = "m"
"""
    scenario = parse_scenario(text)
    p = scenario.providers[0]
    assert p.models[0].noise.tps_cv == 0.0 and p.models[0].noise.jitter_cv == 0.30
    assert background_load(scenario.seed, p, 100.0) == 0.0
