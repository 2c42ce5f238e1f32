"""A provider whose circuit opened comes back as soon as it recovers: the prober, told by the
router that the circuit is open, probes it, and the probe's success closes the circuit long
before the cooldown (five minutes here) would have let a trial through."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from signalbox.simulator.catalog import api_key_environment, catalog_toml
from signalbox.simulator.testing import SimulatorThread
from tests.fleet.procs import Service, poll, query, service_env, start_service
from tests.fleet.test_routers import free_port

MODEL = "llama-3.1-70b"
# Scheduled probes every 10 minutes and a 5-minute cooldown: within this test only a probe the
# router asked for can see the recovery.
BREAKER = "\n[routing.breaker]\ncooldown_s = 300.0\nmax_cooldown_s = 600.0\n"


def _states(client: httpx.Client, router: str) -> dict[str, str]:
    """Each provider's state for MODEL on the router's /v1/endpoints ({} until it answers)."""
    try:
        payload = client.get(f"{router}/v1/endpoints").json()
    except httpx.TransportError:
        return {}
    return {i["provider"]: i["state"] for i in payload["data"] if i["model"] == MODEL}


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_an_open_circuit_closes_on_a_probe_the_router_asked_for_once_the_provider_recovers(
    fresh_pg_url: str, tmp_path: Path
) -> None:
    with SimulatorThread("fast") as sim:
        catalog = tmp_path / "catalog.toml"
        text = catalog_toml(sim.scenario, sim.base_url, probe_interval_s=600.0, probe_jitter_s=0.0)
        catalog.write_text(text + BREAKER)
        port = free_port()
        router = f"http://127.0.0.1:{port}"
        keys = api_key_environment(sim.scenario)
        env = service_env(fresh_pg_url, catalog, tmp_path / "data", SIGNALBOX_API_KEYS="", **keys)
        services: list[Service] = []
        try:
            services.append(start_service("router", ["router", "--port", str(port)], env, tmp_path))
            services.append(
                start_service("probe", ["probe", "--router-url", router], env, tmp_path)
            )
            with httpx.Client(timeout=10) as client:
                poll(lambda: "alpha" in _states(client, router), 60, "the router lists alpha")

                # given alpha down, and app requests that may only use alpha opening its circuit
                sim.fault("alpha", "outage")
                body = {
                    "model": MODEL,
                    "messages": [{"role": "user", "content": "hi"}],
                    "max_tokens": 8,
                    "provider": {"only": ["alpha"]},
                }
                for _ in range(6):
                    response = client.post(f"{router}/v1/chat/completions", json=body)
                    assert response.status_code >= 500
                    assert "error" in response.json()
                poll(
                    lambda: _states(client, router)["alpha"] == "open", 10, "alpha's circuit opens"
                )

                # when alpha recovers
                sim.fault("alpha", "clear")
                recovered = time.monotonic()

                # then a probe closes the circuit within a poll and a probe, not 300 s later
                poll(
                    lambda: _states(client, router)["alpha"] == "healthy",
                    45,
                    "alpha's circuit closes after it recovered",
                    every_s=0.5,
                )
                assert time.monotonic() - recovered < 45
                response = client.post(f"{router}/v1/chat/completions", json=body)
                assert response.status_code == 200
                assert response.headers["x-signalbox-provider"] == "alpha"
            probes = query(
                fresh_pg_url,
                "SELECT count(*) FROM observation o JOIN endpoint e ON e.id = o.endpoint_id "
                "JOIN provider p ON p.id = e.provider_id "
                "WHERE p.name = 'alpha' AND o.source = 'probe' AND o.ok",
            )
            assert probes[0][0] >= 1
            for service in services:
                assert "Traceback" not in service.log()
        finally:
            for service in services:
                service.stop()
