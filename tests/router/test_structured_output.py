"""``response_format`` reaches every protocol: JSON asked through the OpenAI-compatible front comes
back as JSON from Anthropic-dialect and Gemini-dialect providers too (translated to Anthropic's
``output_config.format`` and Gemini's ``responseMimeType``), so a route's ``invalid_json`` trigger
judges the model, not a lost field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from signalbox.catalog import parse_catalog
from signalbox.protocols.anthropic import translate_request
from signalbox.protocols.wire import TranslationError
from signalbox.simulator.catalog import catalog_toml
from signalbox.simulator.scenario import parse_scenario
from signalbox.simulator.testing import SimulatorThread
from tests.router.conftest import answer_text, running_router

SCENARIO = """
name = "structured"
seed = 5
[defaults]
ttft_median_ms = 1.0
ttft_sigma = 0.0
tps = 50000.0
output_tokens_median = 20
[[provider]]
name = "claudeish"
dialect = "anthropic"
api_key = "sk-ant-sim"
[[provider.model]]
model = "m-anthropic"
[[provider]]
name = "geminiish"
dialect = "gemini"
api_key = "AIza-sim"
[[provider.model]]
model = "m-gemini"
"""
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "city": {"type": "string"}},
    "required": ["name", "city"],
}
MESSAGES = [{"role": "user", "content": "Name and city of: Ada, London."}]


def test_anthropic_translation_carries_the_json_format() -> None:
    plain = translate_request({"messages": MESSAGES, "response_format": {"type": "text"}}, "c")
    assert "output_config" not in plain
    as_object = translate_request(
        {"messages": MESSAGES, "response_format": {"type": "json_object"}}, "c"
    )
    assert as_object["output_config"] == {
        "format": {"type": "json_schema", "schema": {"type": "object"}}
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}
    with_schema = translate_request({"messages": MESSAGES, "response_format": fmt}, "c")
    assert with_schema["output_config"]["format"]["schema"] == SCHEMA
    with pytest.raises(TranslationError, match=r"response_format\.type"):
        translate_request({"messages": MESSAGES, "response_format": {"type": "yaml"}}, "c")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(parse_scenario(SCENARIO)) as running:
        yield running


@pytest.mark.parametrize("model", ["m-anthropic", "m-gemini"])
@pytest.mark.parametrize("stream", [False, True])
async def test_json_asked_through_the_router_comes_back_as_json(
    sim: SimulatorThread, tmp_path: Path, model: str, stream: bool
) -> None:
    catalog = parse_catalog(catalog_toml(sim.scenario, sim.base_url))
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}
    async with (
        running_router(tmp_path, catalog, sim) as router,
        httpx.AsyncClient(base_url=router.url, timeout=30) as http,
    ):
        for response_format in ({"type": "json_object"}, fmt):
            body = {
                "model": model,
                "messages": MESSAGES,
                "response_format": response_format,
                "stream": stream,
            }
            response = await http.post("/v1/chat/completions", json=body)
            assert response.status_code == 200, response.text
            text = answer_text(response, stream)
            answer = orjson.loads(text)
            assert isinstance(answer, dict), text
            if response_format is fmt:
                assert {"name", "city"} <= set(answer), answer
