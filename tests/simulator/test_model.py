"""Pure behaviour: truth at time t (cycle, events, faults, load) and seeded request plans."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from signalbox.simulator.faults import Fault
from signalbox.simulator.model import chunk_texts, endpoint_truth, plan_request, request_rng
from signalbox.simulator.scenario import load_scenario

DEMO = load_scenario("demo")
SATURATE = load_scenario("saturate")


def without_background(scenario):
    """The scenario with other tenants' load off: the load curve alone, for exact checks."""
    providers = [
        p.model_copy(update={"background": p.background.model_copy(update={"mean": 0.0})})
        for p in scenario.providers
    ]
    return scenario.model_copy(update={"providers": providers})


def _truth(scenario, provider: str, model: str, t: float, **kw):
    p = scenario.provider(provider)
    spec = next(m for m in p.models if m.model == model)
    return endpoint_truth(scenario, p, spec, t, **kw)


def _fastest(t: float) -> str:
    serving = [p for p in DEMO.providers if p.find_model("llama-3.1-70b")]
    tps = {p.name: _truth(DEMO, p.name, "llama-3.1-70b", t).tps for p in serving}
    return max(tps, key=tps.__getitem__)


def test_daily_cycle_changes_the_fastest_provider() -> None:
    winners = {_fastest(t) for t in range(400, 1000, 15)}  # after the early events
    assert len(winners) >= 3


def test_outage_is_on_only_inside_its_window() -> None:
    assert not _truth(DEMO, "cortexcloud", "llama-3.1-70b", 59.0).outage
    inside = _truth(DEMO, "cortexcloud", "llama-3.1-70b", 90.0)
    assert inside.outage and inside.error_rate == 1.0 and inside.active_events
    assert not _truth(DEMO, "cortexcloud", "llama-3.1-70b", 120.0).outage


def test_degradation_ramps_then_ends() -> None:
    cycle = DEMO.provider("swiftinfer").cycle

    def slowdown(t: float) -> float:
        truth = _truth(DEMO, "swiftinfer", "llama-3.1-70b", t)
        return truth.ttft_median_ms / (380.0 * cycle.factor(t))

    assert abs(slowdown(89.0) - 1.0) < 1e-9
    assert 1.9 < slowdown(150.0) < 2.1  # half way up the 120 s ramp to x3
    assert abs(slowdown(300.0) - 3.0) < 1e-9
    assert abs(slowdown(331.0) - 1.0) < 1e-9


def test_error_burst_adds_its_error_kind() -> None:
    before = _truth(DEMO, "lowcost", "qwen-2.5-72b", 399.0).errors["rate_limit_429"]
    during = _truth(DEMO, "lowcost", "qwen-2.5-72b", 410.0).errors["rate_limit_429"]
    assert during > before + 0.5


def test_load_above_capacity_slows_ttft_and_tps() -> None:
    quiet = without_background(SATURATE)
    idle = _truth(quiet, "burstcloud", "llama-3.1-70b", 0.0, concurrency=4)
    busy = _truth(quiet, "burstcloud", "llama-3.1-70b", 0.0, concurrency=8)
    assert idle.load_factor == 1.0
    assert busy.load_factor == 3.0  # slope 2, 100 % over capacity
    assert busy.ttft_median_ms == 3 * idle.ttft_median_ms
    assert busy.tps == idle.tps / 3


def test_faults_slow_and_break_an_endpoint() -> None:
    slow = Fault("lowcost", None, "slow", factor=2.0)
    base = _truth(DEMO, "lowcost", "llama-3.1-70b", 500.0)
    slowed = _truth(DEMO, "lowcost", "llama-3.1-70b", 500.0, faults=[slow])
    assert slowed.ttft_median_ms == 2 * base.ttft_median_ms
    broken = _truth(
        DEMO, "lowcost", "llama-3.1-70b", 500.0, faults=[Fault("lowcost", None, "outage")]
    )
    assert broken.outage


def test_plans_repeat_with_the_same_seed_and_differ_with_another() -> None:
    truth = _truth(DEMO, "lowcost", "llama-3.1-70b", 500.0)
    kw = {"max_tokens": 100, "output_tokens_median": 80, "output_tokens_sigma": 0.5}
    a = [plan_request(truth, request_rng(1, "lowcost", "m", i), **kw) for i in range(20)]
    b = [plan_request(truth, request_rng(1, "lowcost", "m", i), **kw) for i in range(20)]
    c = [plan_request(truth, request_rng(2, "lowcost", "m", i), **kw) for i in range(20)]
    assert a == b
    assert a != c


@given(
    seed=st.integers(0, 10_000),
    max_tokens=st.one_of(st.none(), st.integers(1, 500)),
    chunk_max=st.integers(1, 6),
)
def test_plan_chunks_add_up_to_output_tokens(
    seed: int, max_tokens: int | None, chunk_max: int
) -> None:
    truth = _truth(DEMO, "lowcost", "llama-3.1-70b", 500.0)
    plan = plan_request(
        truth,
        request_rng(seed, "p", "m", 0),
        max_tokens=max_tokens,
        output_tokens_median=100,
        output_tokens_sigma=0.5,
        chunk_max=chunk_max,
    )
    assert sum(plan.chunks) == plan.output_tokens
    assert max_tokens is None or plan.output_tokens <= max_tokens
    if plan.chunks:
        assert plan.chunks[0] == 1
        assert all(1 <= c <= chunk_max for c in plan.chunks)
        times = plan.token_times_s()
        assert times[0] == plan.ttft_ms / 1000
        assert times == sorted(times)
        text = "".join(chunk_texts(plan))
        assert len(text.split()) == plan.output_tokens
