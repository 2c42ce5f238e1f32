"""Capability over HTTP: each dialect renders every flaw as its provider would, streaming and not,
at the configured rates, repeatably given the seed; through the official SDKs too."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from signalbox.simulator.scenario import parse_scenario
from signalbox.simulator.testing import SimulatorThread
from tests.simulator.conftest import sse_data

CURVES = (
    "{ truncated = [0.0, 0.15], empty = [0.0, 0.1], refused = [0.0, 0.15], "
    "invalid_json = [0.0, 0.3], invalid_tool_args = [0.0, 0.4] }"
)
SCENARIO = f"""
name = "capability-test"
seed = 5
[defaults]
ttft_median_ms = 1.0
ttft_sigma = 0.0
tps = 50000.0
output_tokens_median = 30
output_tokens_sigma = 0.2
capability = {CURVES}
[[provider]]
name = "oa"
dialect = "openai"
[[provider.model]]
model = "m"
[[provider]]
name = "an"
dialect = "anthropic"
[[provider.model]]
model = "m"
[[provider]]
name = "ge"
dialect = "gemini"
[[provider.model]]
model = "m"
"""
RATES_AT_1 = {
    "truncated": 0.15,
    "empty": 0.1,
    "refused": 0.15,
    "invalid_json": 0.3,
    "invalid_tool_args": 0.4,
}
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
    "required": ["answer", "confidence"],
}
PARAMS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
PROMPT = [{"role": "user", "content": "Answer in JSON."}]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(parse_scenario(SCENARIO)) as running:
        yield running


@pytest.fixture
def client(sim: SimulatorThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, timeout=10) as c:
        yield c


# -- one request per dialect, its answer normalised: (finish, text, refused, tool args) ----------


def _openai(client: httpx.Client, d: float, stream: bool, tools: bool) -> tuple[Any, ...]:
    body: dict[str, Any] = {
        "model": "m",
        "messages": PROMPT,
        "stream": stream,
        "metadata": {"difficulty": str(d)},  # OpenAI metadata holds strings
    }
    if tools:
        body["tools"] = [{"type": "function", "function": {"name": "f", "parameters": PARAMS}}]
    else:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "a", "schema": SCHEMA},
        }
    r = client.post("/oa/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    if not stream:
        choice = r.json()["choices"][0]
        msg = choice["message"]
        calls = msg.get("tool_calls") or []
        args = calls[0]["function"]["arguments"] if calls else None
        return r, choice["finish_reason"], msg["content"] or "", bool(msg["refusal"]), args
    text, refusal, args, finish = "", "", None, None
    for p in sse_data(r.text)[:-1]:
        delta = json.loads(p)["choices"][0]
        finish = delta["finish_reason"] or finish
        text += delta["delta"].get("content") or ""
        refusal += delta["delta"].get("refusal") or ""
        for call in delta["delta"].get("tool_calls") or []:
            args = (args or "") + call["function"]["arguments"]
    return r, finish, text, bool(refusal), args


def _anthropic(client: httpx.Client, d: float, stream: bool, tools: bool) -> tuple[Any, ...]:
    body: dict[str, Any] = {
        "model": "m",
        "max_tokens": 500,
        "messages": PROMPT,
        "stream": stream,
        "metadata": {"difficulty": d},
    }
    if tools:
        body["tools"] = [{"name": "f", "input_schema": PARAMS}]
    else:
        body["output_format"] = {"type": "json_schema", "schema": SCHEMA}
    r = client.post("/an/v1/messages", json=body)
    assert r.status_code == 200, r.text
    if not stream:
        data = r.json()
        text = "".join(b["text"] for b in data["content"] if b["type"] == "text")
        uses = [b for b in data["content"] if b["type"] == "tool_use"]
        args = uses[0]["input"] if uses else None
        return r, data["stop_reason"], text, data["stop_reason"] == "refusal", args
    text, args, stop = "", None, None
    for p in sse_data(r.text):
        event = json.loads(p)
        if event["type"] == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                text += delta["text"]
            else:
                args = (args or "") + delta["partial_json"]
        elif event["type"] == "message_delta":
            stop = event["delta"]["stop_reason"]
    return r, stop, text, stop == "refusal", args


def _gemini(client: httpx.Client, d: float, stream: bool, tools: bool) -> tuple[Any, ...]:
    body: dict[str, Any] = {
        "contents": [{"role": "user", "parts": [{"text": "Answer in JSON."}]}],
        "labels": {"difficulty": str(d)},
    }
    if tools:
        body["tools"] = [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": PARAMS}]}]
    else:
        body["generationConfig"] = {
            "responseMimeType": "application/json",
            "responseJsonSchema": SCHEMA,
        }
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    r = client.post(f"/ge/v1beta/models/m:{method}", json=body)
    assert r.status_code == 200, r.text
    events = [json.loads(p) for p in sse_data(r.text)] if stream else [r.json()]
    text, args, finish = "", None, None
    for event in events:
        candidate = event["candidates"][0]
        finish = candidate.get("finishReason") or finish
        for part in (candidate.get("content") or {}).get("parts", []):
            text += part.get("text", "")
            if "functionCall" in part:
                args = part["functionCall"]["args"]
    return r, finish, text, finish == "SAFETY", args


DIALECTS: dict[str, Callable[..., tuple[Any, ...]]] = {
    "openai": _openai,
    "anthropic": _anthropic,
    "gemini": _gemini,
}
LENGTH = {"length", "max_tokens", "MAX_TOKENS"}


def _json_ok(text: str, schema: dict[str, Any]) -> bool:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(value, dict) and all(k in value for k in schema["required"])


def _flaw_seen(finish: Any, text: str, refused: bool, args: Any, tools: bool) -> str | None:
    """What a client sees, classified as the router's triggers would."""
    if refused:
        return "refused"
    if finish in LENGTH:
        return "truncated"
    if tools:
        if args is None:
            return "empty"
        ok = _json_ok(args, PARAMS) if isinstance(args, str) else "city" in args
        return None if ok else "invalid_tool_args"
    if not text:
        return "empty"
    return None if _json_ok(text, SCHEMA) else "invalid_json"


def _run(client: httpx.Client, dialect: str, n: int, d: float, stream: bool, tools: bool) -> dict:
    counts: dict[str | None, int] = {}
    for _ in range(n):
        r, finish, text, refused, args = DIALECTS[dialect](client, d, stream, tools)
        seen = _flaw_seen(finish, text, refused, args, tools)
        assert (seen or "none") == r.headers["x-simulator-flaw"], (finish, text, args)
        counts[seen] = counts.get(seen, 0) + 1
    return {k: v / n for k, v in counts.items()}


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_json_answers_show_each_flaw_at_its_configured_rate(
    client: httpx.Client, dialect: str, stream: bool
) -> None:
    n = 240
    rates = _run(client, dialect, n, 1.0, stream, tools=False)
    for flaw in ("truncated", "empty", "refused", "invalid_json"):
        p = RATES_AT_1[flaw]
        assert abs(rates.get(flaw, 0.0) - p) <= 4 * math.sqrt(p * (1 - p) / n), (flaw, rates)


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_tool_calls_show_bad_arguments_at_their_configured_rate(
    client: httpx.Client, dialect: str, stream: bool
) -> None:
    n = 160
    rates = _run(client, dialect, n, 1.0, stream, tools=True)
    p = RATES_AT_1["invalid_tool_args"]
    assert abs(rates.get("invalid_tool_args", 0.0) - p) <= 4 * math.sqrt(p * (1 - p) / n), rates


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_easy_requests_get_sound_json_every_time(client: httpx.Client, dialect: str) -> None:
    assert _run(client, dialect, 60, 0.0, False, tools=False) == {None: 1.0}


def test_difficulty_falls_back_to_prompt_length(client: httpx.Client) -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x" * 8000}],  # past hard_prompt_chars: d = 1
        "response_format": {"type": "json_object"},
    }
    flaws = [client.post("/oa/v1/chat/completions", json=body).headers["x-simulator-flaw"]]
    flaws += [
        client.post("/oa/v1/chat/completions", json=body).headers["x-simulator-flaw"]
        for _ in range(99)
    ]
    assert sum(f != "none" for f in flaws) >= 40  # 70 % expected at difficulty 1


def test_a_bad_difficulty_is_a_400_naming_the_field(client: httpx.Client) -> None:
    body = {"model": "m", "messages": PROMPT, "metadata": {"difficulty": "very"}}
    r = client.post("/oa/v1/chat/completions", json=body)
    assert r.status_code == 400
    assert "metadata.difficulty" in r.json()["error"]["message"]


def test_flaws_repeat_given_the_seed() -> None:
    def sequence() -> list[str]:
        with (
            SimulatorThread(parse_scenario(SCENARIO)) as sim,
            httpx.Client(base_url=sim.base_url, timeout=10) as c,
        ):
            return [_openai(c, 0.8, False, False)[0].headers["x-simulator-flaw"] for _ in range(60)]

    first = sequence()
    assert first == sequence()
    assert len(set(first)) > 1


# -- the official SDKs accept what the simulator sends ------------------------------------------


def _until(flaw: str, send: Callable[[], Any], header: Callable[[Any], str]) -> Any:
    for _ in range(200):
        result = send()
        if header(result) == flaw:
            return result
    raise AssertionError(f"no {flaw} in 200 requests")


def test_openai_sdk_reads_a_refusal_and_a_tool_call(sim: SimulatorThread) -> None:
    client = openai.OpenAI(base_url=f"{sim.base_url}/oa/v1", api_key="unused", max_retries=0)
    create = client.chat.completions.with_raw_response.create

    def send() -> Any:
        return create(model="m", messages=PROMPT, metadata={"difficulty": "1"})

    raw = _until("refused", send, lambda r: r.headers["x-simulator-flaw"])
    message = raw.parse().choices[0].message
    assert message.refusal and message.content is None
    tools: Any = [{"type": "function", "function": {"name": "f", "parameters": PARAMS}}]
    raw = _until(
        "none",
        lambda: create(model="m", messages=PROMPT, tools=tools),
        lambda r: r.headers["x-simulator-flaw"],
    )
    completion = raw.parse()
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "f" and "city" in json.loads(call.function.arguments)
    assert completion.choices[0].finish_reason == "tool_calls"


def test_anthropic_sdk_streams_a_tool_call_and_a_refusal(sim: SimulatorThread) -> None:
    client = anthropic.Anthropic(base_url=f"{sim.base_url}/an", api_key="unused", max_retries=0)
    tools: Any = [{"name": "f", "input_schema": PARAMS}]

    def call() -> Any:
        with client.messages.stream(model="m", max_tokens=200, messages=PROMPT, tools=tools) as s:
            return s.get_final_message()

    message = _until("tool_use", call, lambda m: m.stop_reason)
    uses = [b for b in message.content if b.type == "tool_use"]
    assert message.stop_reason == "tool_use" and "city" in uses[0].input

    def send() -> Any:
        with client.messages.stream(
            model="m", max_tokens=200, messages=PROMPT, metadata={"difficulty": 1.0}
        ) as s:
            return s.get_final_message()

    refused = _until("refusal", send, lambda m: m.stop_reason)
    assert refused.content[0].text.startswith("I'm sorry")


def test_google_genai_sdk_reads_a_function_call(sim: SimulatorThread) -> None:
    client = genai.Client(
        api_key="unused", http_options=genai_types.HttpOptions(base_url=f"{sim.base_url}/ge")
    )
    tool = genai_types.Tool(
        function_declarations=[
            genai_types.FunctionDeclaration(name="f", parameters_json_schema=PARAMS)
        ]
    )
    config = genai_types.GenerateContentConfig(
        tools=[tool],
        automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True),
    )

    def send() -> Any:
        return client.models.generate_content(model="m", contents="Call f.", config=config)

    response = _until("none", send, lambda r: r.sdk_http_response.headers["x-simulator-flaw"])
    calls = response.function_calls or []
    assert calls and calls[0].name == "f" and "city" in (calls[0].args or {})
