"""The router in front of Gemini endpoints, through the official openai SDK: streaming, plain
completions, fallback from a failing Gemini endpoint, an error mid-stream, and function tools
both ways (a recorded Gemini function-call stream replayed on loopback)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import orjson
import pytest

from signalbox.catalog import parse_catalog
from signalbox.simulator.catalog import catalog_toml
from signalbox.simulator.scenario import parse_scenario
from signalbox.simulator.testing import SimulatorThread
from tests.probe.scripted_server import Script, ScriptedServer

SCENARIO = """
name = "gemini-router"
seed = 9
[defaults]
ttft_median_ms = 5.0
ttft_sigma = 0.1
tps = 2000.0
output_tokens_median = 24
output_tokens_sigma = 0.2
[[provider]]
name = "golf"
dialect = "gemini"
api_key = "AIza-sim-golf"
[[provider.model]]
model = "flash"
upstream = "gemini-2.5-flash"
[[provider]]
name = "hotel"
dialect = "openai"
[[provider.model]]
model = "flash"
upstream = "google/gemini-2.5-flash"
"""
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gsim() -> Iterator[SimulatorThread]:
    with SimulatorThread(parse_scenario(SCENARIO)) as sim:
        yield sim


@pytest.fixture
def sim(gsim: SimulatorThread) -> Iterator[SimulatorThread]:
    gsim.clear_faults()
    yield gsim
    gsim.clear_faults()


def only(*providers: str) -> dict[str, Any]:
    return {"provider": {"order": list(providers), "only": list(providers)}}


def client_of(router: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=router.url + "/v1", api_key="x", max_retries=0)


def catalog(sim: SimulatorThread) -> Any:
    return parse_catalog(catalog_toml(sim.scenario, sim.base_url))


async def test_stream_through_a_gemini_endpoint_is_measured(sim, router_factory) -> None:
    async with router_factory(catalog(sim), sim) as router:
        client = client_of(router)
        raw = await client.chat.completions.with_raw_response.create(
            model="flash",
            messages=[{"role": "system", "content": "be brief"}, *HI],
            stream=True,
            stream_options={"include_usage": True},
            extra_body=only("golf"),
        )
        assert raw.headers["x-signalbox-provider"] == "golf"
        text, usage, finish = "", None, None
        async for chunk in raw.parse():
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
            usage = chunk.usage or usage
        await client.close()
        assert text and finish in ("stop", "length")
        assert usage is not None and usage.completion_tokens == len(text.split())
        stats = router.state.live.full_snapshot("golf/flash")
        assert stats.samples > 0 and stats.ttft_p50_ms is not None and stats.uptime_5m == 1.0


async def test_plain_completion_from_a_gemini_endpoint(sim, router_factory) -> None:
    async with router_factory(catalog(sim), sim) as router:
        client = client_of(router)
        done = await client.chat.completions.create(
            model="flash", messages=HI, max_tokens=12, extra_body=only("golf")
        )
        await client.close()
        assert done.choices[0].message.content
        assert done.choices[0].finish_reason in ("stop", "length")
        assert done.usage is not None and 1 <= done.usage.completion_tokens <= 12
        assert done.model == "flash"


@pytest.mark.parametrize(
    ("error", "error_class"),
    [("http_503", "http_5xx"), ("rate_limit_429", "rate_limited"), ("empty_answer", "empty")],
)
async def test_a_failing_gemini_endpoint_falls_back_to_the_next(
    sim, router_factory, error, error_class
) -> None:
    sim.fault("golf", "error_rate", rate=1.0, error=error)
    async with router_factory(catalog(sim), sim) as router:
        client = client_of(router)
        raw = await client.chat.completions.with_raw_response.create(
            model="flash", messages=HI, extra_body={"provider": {"order": ["golf", "hotel"]}}
        )
        await client.close()
        assert raw.parse().choices[0].message.content
        assert raw.headers["x-signalbox-provider"] == "hotel"
        assert raw.headers["x-signalbox-attempts"] == "2"
        assert router.state.metrics.upstream_errors[("golf", error_class)] == 1


async def test_an_invalid_gemini_key_is_the_endpoints_fault_not_the_apps(
    sim, router_factory
) -> None:
    # given Google's answer to a bad key: 400 INVALID_ARGUMENT (reason API_KEY_INVALID)
    env = {"SIM_GOLF_KEY": "AIza-wrong"}
    async with router_factory(catalog(sim), sim, environ=env) as router:
        client = client_of(router)
        raw = await client.chat.completions.with_raw_response.create(
            model="flash", messages=HI, extra_body={"provider": {"order": ["golf", "hotel"]}}
        )
        await client.close()
        # then the router falls back instead of passing the 400 on as the app's mistake
        assert raw.headers["x-signalbox-provider"] == "hotel"
        assert router.state.metrics.upstream_errors[("golf", "http_4xx")] == 1


async def test_a_gemini_error_after_the_first_byte_ends_the_stream_with_an_error_event(
    sim, router_factory
) -> None:
    sim.fault("golf", "error_rate", rate=1.0, error="stream_error")
    async with router_factory(catalog(sim), sim) as router:
        client = client_of(router)
        stream = await client.chat.completions.create(
            model="flash", messages=HI, stream=True, max_tokens=64, extra_body=only("golf")
        )
        with pytest.raises(openai.APIError, match="mid-stream"):
            async for _ in stream:
                pass
        await client.close()
        assert router.state.metrics.upstream_errors[("golf", "stream_error")] == 1


async def test_route_names_the_gemini_api(sim, router_factory) -> None:
    async with router_factory(catalog(sim), sim) as router, httpx.AsyncClient() as http:
        resp = await http.get(router.url + "/v1/route", params={"model": "flash", "only": "golf"})
        assert resp.json()["endpoint"]["api"] == "gemini"
        spec = (await http.get(router.url + "/openapi.json")).json()
        route = spec["components"]["schemas"]["Route"]["properties"]["endpoint"]
        assert "gemini" in route["properties"]["api"]["enum"]


# --- tools: a recorded Gemini function-call stream on loopback -------------------------------


def gemini_event(body: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(body) + b"\r\n\r\n"


# What Gemini sends for "weather and time in Paris?" with both tools: both calls whole in one
# chunk, the first signed, with the finish reason and usage.
TWO_CALLS = gemini_event(
    {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {
                            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                            "thoughtSignature": "c2lnLUE=",
                        },
                        {"functionCall": {"name": "get_time", "args": {}}},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 12},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "r-1",
    }
)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time"}}
ASK = [{"role": "user", "content": "Weather and time in Paris?"}]


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedServer]:
    server = ScriptedServer()
    await server.start()
    server.scripts["gem"] = Script(writes=[(0.0, TWO_CALLS)])
    yield server
    await server.stop()


def scripted_catalog(server: ScriptedServer) -> Any:
    return parse_catalog(
        f'[[provider]]\nname = "gem"\nbase_url = "{server.url("gem", "gemini")}"\n'
        'api = "gemini"\n[[model]]\nname = "m"\n'
        '[[model.endpoint]]\nprovider = "gem"\nupstream_model = "gemini-2.5-flash"\n'
    )


async def test_sdk_streams_gemini_function_calls_as_tool_call_deltas(
    scripted, router_factory
) -> None:
    async with router_factory(scripted_catalog(scripted)) as router:
        client = client_of(router)
        stream = await client.chat.completions.create(
            model="m", messages=ASK, tools=[WEATHER, TIME], stream=True
        )
        calls: dict[int, dict[str, Any]] = {}
        finish = None
        async for chunk in stream:
            for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                calls[tc.index] = {
                    "id": tc.id,
                    "name": tc.function.name,
                    "args": tc.function.arguments,
                }
            if chunk.choices and chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
        await client.close()
    assert finish == "tool_calls"
    assert [(c["name"], orjson.loads(c["args"])) for c in calls.values()] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {}),
    ]
    assert all(c["id"] for c in calls.values())
    sent = orjson.loads(scripted.received[0].body)
    assert scripted.received[0].path == "/gem/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    declared = sent["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declared] == ["get_weather", "get_time"]
    assert declared[0]["parametersJsonSchema"]["additionalProperties"] is False


async def test_plain_completion_with_gemini_calls_and_the_follow_up_turn(
    scripted, router_factory
) -> None:
    async with router_factory(scripted_catalog(scripted)) as router:
        client = client_of(router)
        done = await client.chat.completions.create(
            model="m", messages=ASK, tools=[WEATHER, TIME], tool_choice="required"
        )
        message = done.choices[0].message
        assert done.choices[0].finish_reason == "tool_calls"
        assert message.content is None
        assert [tc.function.name for tc in message.tool_calls or []] == ["get_weather", "get_time"]
        # the app answers both calls and sends the assistant turn back as the SDK gave it
        results = [
            {"role": "tool", "tool_call_id": tc.id, "content": reply}
            for tc, reply in zip(message.tool_calls or [], ['{"temp_c": 21}', "noon"], strict=True)
        ]
        await client.chat.completions.create(
            model="m",
            messages=[*ASK, message.model_dump(exclude_none=True), *results],
            tools=[WEATHER, TIME],
        )
        await client.close()
    first, follow_up = (orjson.loads(r.body) for r in scripted.received)
    assert first["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    model_turn, results_turn = follow_up["contents"][1], follow_up["contents"][2]
    assert model_turn["role"] == "model"
    assert model_turn["parts"][0] == {
        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
        "thoughtSignature": "c2lnLUE=",  # Gemini's own signature came back with its call
    }
    assert results_turn == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}},
            {"functionResponse": {"name": "get_time", "response": {"output": "noon"}}},
        ],
    }
