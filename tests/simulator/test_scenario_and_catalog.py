"""Scenario files: built-ins load, bad ones are refused with paths; ``catalog_toml`` parses."""

from __future__ import annotations

from pathlib import Path

import pytest

from signalbox.catalog import parse_catalog
from signalbox.protocols import PROTOCOLS, protocol
from signalbox.simulator.catalog import api_key_env, api_key_environment, catalog_toml
from signalbox.simulator.dialects import DIALECTS
from signalbox.simulator.scenario import ScenarioError, builtin_names, load_scenario, parse_scenario


def test_builtin_scenarios_include_the_promised_ones() -> None:
    assert {"demo", "drift", "outages", "degrade", "saturate", "fast", "routes"} <= set(
        builtin_names()
    )


@pytest.mark.parametrize(
    "name", ["demo", "drift", "outages", "degrade", "saturate", "fast", "routes"]
)
def test_every_builtin_scenario_gives_a_valid_catalog(name: str) -> None:
    scenario = load_scenario(name)
    catalog = parse_catalog(catalog_toml(scenario, "http://127.0.0.1:8701"))
    assert len(list(catalog.endpoints())) == sum(len(p.models) for p in scenario.providers)


def test_demo_has_two_open_models_on_four_providers_and_gemini_natively_and_via_a_gateway() -> None:
    scenario = load_scenario("demo")
    catalog = parse_catalog(catalog_toml(scenario, "http://127.0.0.1:8701"))
    assert {m.name for m in catalog.models} == {"llama-3.1-70b", "qwen-2.5-72b", "gemini-2.5-flash"}
    assert all(len(catalog.model(m).endpoints) == 4 for m in ("llama-3.1-70b", "qwen-2.5-72b"))
    assert any(p.api == "anthropic" for p in catalog.providers)
    gemini = catalog.model("gemini-2.5-flash").endpoints
    assert {catalog.provider(e.provider).api for e in gemini} == {"gemini", "openai"}
    assert (
        catalog.provider("gemini").base_url == "http://127.0.0.1:8701/gemini"
    )  # as the SDK takes it
    early = [e for e in scenario.events if e.start_s < 180 and e.end_s < 600]
    assert {e.kind for e in early} >= {"outage", "degrade"}


def test_catalog_points_each_dialect_where_its_sdk_expects() -> None:
    catalog = parse_catalog(catalog_toml(load_scenario("fast"), "http://127.0.0.1:9999/"))

    def request_url(name: str) -> str:
        provider = catalog.provider(name)
        return protocol(provider.api).url(provider.base_url, "m", stream=True)

    assert request_url("alpha") == ("http://127.0.0.1:9999/alpha/v1/chat/completions")
    assert request_url("charlie") == "http://127.0.0.1:9999/charlie/v1/messages"
    assert catalog.provider("bravo").api_key_env == "SIM_BRAVO_KEY"
    assert catalog.provider("alpha").api_key_env is None
    spec = catalog.model("llama-3.1-70b").endpoints[0]
    assert spec.upstream_model == "meta-llama/Llama-3.1-70B-Instruct"
    assert spec.price_input_per_mtok == 0.6


def test_the_simulator_speaks_every_registered_protocol() -> None:
    assert set(DIALECTS) == set(PROTOCOLS)
    assert all(name == d.name for name, d in DIALECTS.items())


def test_key_environment_names_every_keyed_provider() -> None:
    env = api_key_environment(load_scenario("fast"))
    assert env == {"SIM_BRAVO_KEY": "sk-sim-bravo", "SIM_CHARLIE_KEY": "sk-ant-sim-charlie"}
    assert api_key_env("my-cloud.ai") == "SIM_MY_CLOUD_AI_KEY"


def test_defaults_are_merged_into_every_model() -> None:
    scenario = parse_scenario(
        """
        [defaults]
        tps = 42.0
        errors = { http_500 = 0.1 }
        [[provider]]
        name = "p"
        [[provider.model]]
        model = "m"
        errors = { http_503 = 0.2 }
        """
    )
    spec = scenario.providers[0].models[0]
    assert spec.tps == 42.0 and spec.errors.http_500 == 0.1 and spec.errors.http_503 == 0.2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[provider]]\nname = 'p'\ndialect = 'grpc'", "provider[0].dialect"),
        ("[[provider]]\nname = 'p'\n[[provider.model]]\nmodel = 'm'\ntps = -1", "tps"),
        (
            "[[provider]]\nname = 'p'\n[[provider.model]]\nmodel = 'm'\n"
            "errors = { http_500 = 0.7, hang = 0.7 }",
            "sum to more than 1",
        ),
        (
            "[[event]]\nkind = 'outage'\nprovider = 'ghost'\nstart_s = 1\nend_s = 2",
            "unknown provider",
        ),
        (
            "[[provider]]\nname = 'p'\n[[event]]\nkind = 'outage'\nprovider = 'p'\n"
            "start_s = 5\nend_s = 2",
            "end_s must be after start_s",
        ),
        ("name = 'x'\nbogus = 1", "bogus"),
        ("this is = not toml =", "(toml)"),
    ],
)
def test_invalid_scenario_is_refused_naming_the_problem(text: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text)
    assert expected in str(info.value)


def test_unknown_scenario_name_lists_builtin_ones() -> None:
    with pytest.raises(ScenarioError, match="demo"):
        load_scenario("no-such-scenario")


def test_scenario_file_loads_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("name = 'mine'\n[[provider]]\nname = 'solo'\n[[provider.model]]\nmodel = 'm'\n")
    assert load_scenario(path).provider("solo") is not None
