"""Against the simulator: both dialects succeed, and each simulated failure gets its error class."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from signalbox.catalog import parse_catalog
from signalbox.probe.runner import Target, Timeouts, make_client, probe_target
from signalbox.probe.targets import build_targets
from signalbox.records import ErrorClass
from signalbox.simulator.catalog import api_key_environment, catalog_toml
from signalbox.simulator.scenario import parse_scenario
from signalbox.simulator.testing import SimulatorThread
from tests.probe.fleet import DIALECTS, provider_name, scenario_toml

TIMEOUTS = Timeouts(connect_s=2, ttft_s=0.5, total_s=5)

EXPECTED = {
    "http_500": ErrorClass.HTTP_5XX,
    "http_503": ErrorClass.HTTP_5XX,
    "rate_limit_429": ErrorClass.RATE_LIMITED,
    "hang": ErrorClass.TIMEOUT_TTFT,
    "cut_stream": ErrorClass.STREAM_BROKEN,
    "malformed_event": ErrorClass.STREAM_BROKEN,
    "empty_answer": ErrorClass.EMPTY,
    "stream_error": ErrorClass.STREAM_ERROR,
}


@pytest.fixture(scope="module")
def fleet() -> Iterator[dict[str, Target]]:
    """A running simulator and a probe target per provider, keyed by provider name."""
    scenario = parse_scenario(scenario_toml())
    with SimulatorThread(scenario) as sim:
        catalog = parse_catalog(catalog_toml(scenario, sim.base_url, max_tokens=8))
        ids = {(r.provider.name, r.model): i for i, r in enumerate(catalog.endpoints(), start=1)}
        targets = build_targets(catalog, ids, api_key_environment(scenario))
        yield {t.endpoint.provider.name: t for t in targets}


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_healthy_provider_gives_a_complete_observation(
    fleet: dict[str, Target], dialect: str
) -> None:
    async with make_client() as client:
        obs = await probe_target(client, fleet[provider_name(dialect, "ok")], timeouts=TIMEOUTS)
    assert obs.ok and obs.error_class is None and obs.http_status == 200
    assert obs.ttft_ms is not None and obs.ttft_ms > 0
    assert obs.tps is not None and obs.e2e_ms is not None and obs.itl_ms is not None
    assert obs.output_tokens == 8 and not obs.tokens_estimated
    assert obs.input_tokens is not None and obs.cost_usd is not None and obs.cost_usd > 0
    assert obs.probe_shape == "short"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("kind", sorted(EXPECTED))
async def test_each_simulated_failure_gets_its_error_class(
    fleet: dict[str, Target], dialect: str, kind: str
) -> None:
    async with make_client() as client:
        obs = await probe_target(client, fleet[provider_name(dialect, kind)], timeouts=TIMEOUTS)
    assert not obs.ok
    assert obs.error_class is EXPECTED[kind]
    if kind.startswith(("http_", "rate_")):
        assert obs.http_status == int(kind[-3:])


async def test_a_wrong_api_key_is_an_http_4xx(fleet: dict[str, Target]) -> None:
    import dataclasses

    target = dataclasses.replace(fleet[provider_name("openai", "ok")], api_key="sk-wrong")
    async with make_client() as client:
        obs = await probe_target(client, target, timeouts=TIMEOUTS)
    assert (obs.error_class, obs.http_status) == (ErrorClass.HTTP_4XX, 401)
