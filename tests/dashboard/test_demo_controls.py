"""The demo's "break a provider" control asks the simulator for a fault, and only exists in a demo."""

from __future__ import annotations

import json

from sqlalchemy import Engine

from signalbox.dashboard.context import DashContext
from signalbox.dashboard.demo_controls import FAULTS, send_fault
from signalbox.dashboard.pages import overview
from signalbox.simulator.scenario import load_scenario
from signalbox.simulator.testing import SimulatorThread


def test_break_button_applies_a_fault_on_the_simulator() -> None:
    scenario = load_scenario("demo")
    provider = scenario.providers[0].name
    with SimulatorThread(scenario) as sim:
        message = send_fault(sim.base_url, provider, FAULTS["demo-slow"][1])
        assert message.startswith("Applied") and provider in message
        assert any(provider in fault for fault in sim.truth()["faults"])
        refused = send_fault(sim.base_url, "nobody", FAULTS["demo-outage"][1])
        assert refused.startswith("The simulator refused") and "nobody" in refused


def test_unreachable_simulator_is_a_sentence_not_an_error() -> None:
    assert "did not answer" in send_fault("http://127.0.0.1:1", "x", FAULTS["demo-clear"][1])


def test_control_is_shown_only_when_a_simulator_is_configured(engine: Engine) -> None:
    plain = json.dumps(
        overview.layout(DashContext(engine=engine), {}).to_plotly_json(), default=str
    )
    demo_ctx = DashContext(engine=engine, simulator_url="http://127.0.0.1:1")
    demo = json.dumps(overview.layout(demo_ctx, {}).to_plotly_json(), default=str)
    assert "break a provider" not in plain
    assert "break a provider" in demo


def test_clicking_a_fault_button_runs_the_callback_against_the_simulator(engine: Engine) -> None:
    from signalbox.dashboard.app import create_app
    from signalbox.dashboard.demo_controls import PROVIDER, RESULT

    scenario = load_scenario("demo")
    provider = scenario.providers[1].name
    with SimulatorThread(scenario) as sim:
        client = create_app(engine, simulator_url=sim.base_url).server.test_client()
        payload = {
            "output": f"{RESULT}.children",
            "outputs": {"id": RESULT, "property": "children"},
            "inputs": [
                {"id": bid, "property": "n_clicks", "value": int(bid == "demo-outage")}
                for bid in FAULTS
            ],
            "state": [{"id": PROVIDER, "property": "value", "value": provider}],
            "changedPropIds": ["demo-outage.n_clicks"],
        }
        response = client.post("/_dash-update-component", json=payload)
        assert response.status_code == 200
        assert "Applied: fault outage" in json.dumps(response.get_json())
        assert any("outage" in f and provider in f for f in sim.truth()["faults"])
