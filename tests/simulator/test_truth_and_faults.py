"""``GET /truth`` and ``POST /admin/fault`` over HTTP, and seeded runs that repeat."""

from __future__ import annotations

import httpx
import pytest

from signalbox.simulator.testing import SimulatorThread
from tests.simulator.conftest import CHAT_BODY


def test_truth_lists_every_provider_and_model_with_its_figures(sim: SimulatorThread) -> None:
    truth = sim.truth()
    assert truth["scenario"] == "fast" and truth["t"] >= 0 and truth["started_at"]
    assert set(truth["providers"]) == {"alpha", "bravo", "charlie", "delta"}
    entry = truth["providers"]["alpha"]["models"]["llama-3.1-70b"]
    assert entry["ttft_median_ms"] == 5.0 and entry["tps"] == 2000.0
    assert entry["price_input_per_mtok"] == 0.6
    assert entry["error_rate"] == 0.0 and entry["active_events"] == []
    assert truth["providers"]["bravo"]["requires_key"] is True
    assert truth["providers"]["alpha"]["concurrency"] == 0


def test_truth_at_a_given_time_shows_scheduled_events() -> None:
    with SimulatorThread("demo") as demo:
        during = demo.truth(at=90.0)["providers"]["cortexcloud"]["models"]["llama-3.1-70b"]
        after = demo.truth(at=200.0)["providers"]["cortexcloud"]["models"]["llama-3.1-70b"]
    assert during["outage"] and during["active_events"]
    assert not after["outage"]


def test_truth_rejects_a_bad_time(client: httpx.Client) -> None:
    assert client.get("/truth", params={"at": "soon"}).status_code == 400
    assert client.get("/truth", params={"at": "-1"}).status_code == 400


def test_slow_fault_shows_in_truth_and_clears(sim: SimulatorThread) -> None:
    sim.fault("delta", "slow", factor=4)
    entry = sim.truth()["providers"]["delta"]["models"]["qwen-2.5-72b"]
    assert entry["ttft_median_ms"] == 20.0 and entry["tps"] == 500.0
    assert entry["active_events"]
    sim.clear_faults()
    assert sim.truth()["providers"]["delta"]["models"]["qwen-2.5-72b"]["ttft_median_ms"] == 5.0


def test_fault_on_one_model_leaves_the_other_alone(sim: SimulatorThread) -> None:
    sim.fault("delta", "outage", model="qwen-2.5-72b")
    models = sim.truth()["providers"]["delta"]["models"]
    assert models["qwen-2.5-72b"]["outage"] and not models["llama-3.1-70b"]["outage"]


def test_fault_with_duration_expires(sim: SimulatorThread) -> None:
    sim.fault("delta", "outage", duration_s=5)
    now = sim.truth()["t"]
    assert sim.truth(at=now + 1)["providers"]["delta"]["models"]["qwen-2.5-72b"]["outage"]
    assert not sim.truth(at=now + 6)["providers"]["delta"]["models"]["qwen-2.5-72b"]["outage"]


def test_clear_fault_of_one_provider_keeps_others(sim: SimulatorThread) -> None:
    sim.fault("delta", "outage")
    sim.fault("alpha", "outage")
    sim.fault("delta", "clear")
    providers = sim.truth()["providers"]
    assert providers["alpha"]["models"]["qwen-2.5-72b"]["outage"]
    assert not providers["delta"]["models"]["qwen-2.5-72b"]["outage"]


@pytest.mark.parametrize(
    "payload",
    [
        {"provider": "alpha"},
        {"provider": "alpha", "kind": "explode"},
        {"provider": "nobody", "kind": "outage"},
        {"provider": "alpha", "kind": "outage", "model": "gpt-9"},
        {"provider": "alpha", "kind": "slow", "factor": "big"},
        {"provider": "alpha", "kind": "error_rate", "rate": 2},
        {"provider": "alpha", "kind": "error_rate", "error": "meteor"},
        {"provider": "alpha", "kind": "outage", "duration_s": -1},
        [1, 2],
    ],
)
def test_bad_fault_gets_400(client: httpx.Client, payload: object) -> None:
    response = client.post("/admin/fault", json=payload)
    assert response.status_code == 400
    assert response.json()["error"]["message"]


def test_bad_fault_json_gets_400(client: httpx.Client) -> None:
    assert client.post("/admin/fault", content=b"{").status_code == 400


def _run(seed: int) -> list[tuple[str, str]]:
    out = []
    with SimulatorThread("fast", seed=seed) as sim, httpx.Client(base_url=sim.base_url) as client:
        for _ in range(5):
            response = client.post("/alpha/v1/chat/completions", json=CHAT_BODY)
            content = response.json()["choices"][0]["message"]["content"]
            out.append((response.headers["x-simulator-ttft-ms"], content))
    return out


def test_streams_carry_the_rate_their_chunk_schedule_delivers() -> None:
    seen = []
    body = {**CHAT_BODY, "stream": True}
    with SimulatorThread("fast") as sim, httpx.Client(base_url=sim.base_url) as client:
        for _ in range(5):
            with client.stream("POST", "/alpha/v1/chat/completions", json=body) as response:
                response.read()
                headers = response.headers
                seen.append(
                    (float(headers["x-simulator-tps"]), float(headers["x-simulator-decode-tps"]))
                )
    assert all(decode > 0 for _, decode in seen)
    # the shipped scenarios jitter their chunks, so the schedule's rate is not the drawn one
    assert any(abs(decode - tps) > 1e-3 * tps for tps, decode in seen)


def test_runs_repeat_with_the_same_seed() -> None:
    assert _run(5) == _run(5)
    assert _run(5) != _run(6)


LOADED = """
name = "loaded"
[[provider]]
name = "small"
capacity = 2
overload_slope = 1.0
background = { mean = 0.0 }  # the router's own load alone, for exact figures
[[provider.model]]
model = "m"
ttft_median_ms = 5.0
ttft_sigma = 0.0
tps = 20.0
output_tokens_median = 200
"""


def test_streams_above_capacity_show_as_load_in_truth() -> None:
    from signalbox.simulator.scenario import parse_scenario

    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}
    with SimulatorThread(parse_scenario(LOADED)) as sim, httpx.Client(timeout=10) as client:
        url = f"{sim.base_url}/small/v1/chat/completions"
        streams = [client.stream("POST", url, json=body) for _ in range(4)]
        try:
            for stream in streams:
                assert stream.__enter__().status_code == 200
            entry = sim.truth()["providers"]["small"]
            assert entry["concurrency"] == 4
            assert entry["models"]["m"]["load_factor"] == 2.0
            assert entry["models"]["m"]["tps"] == 10.0
        finally:
            for stream in streams:
                stream.__exit__(None, None, None)
