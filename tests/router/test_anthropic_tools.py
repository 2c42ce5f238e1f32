"""Tool calls through Anthropic endpoints: the request translation (tools, tool_choice, tool_use
and tool_result blocks), the stream translation back to OpenAI ``delta.tool_calls``, the
measurement of tools-only answers, and the official openai SDK end to end through a router whose
upstream replays recorded Anthropic (and OpenAI) tool-call streams on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai as openai_sdk
import orjson
import pytest

from signalbox.catalog import parse_catalog
from signalbox.protocols import anthropic, openai
from signalbox.protocols.anthropic import translate_request
from signalbox.protocols.sse import SSEParser
from signalbox.protocols.wire import StreamReader, TranslationError
from signalbox.records import ErrorClass
from signalbox.router.completion import CompletionBuilder
from signalbox.router.events import AttemptFailed, Marks, fold
from tests.probe.scripted_server import DONE, Script, ScriptedServer, anthropic_event

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time"}}
USER = {"role": "user", "content": "Weather and time in Paris?"}


def request(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [USER], **fields}


# --- request: OpenAI -> Anthropic ---------------------------------------------------------


def test_function_tools_become_anthropic_tools_with_an_input_schema() -> None:
    out = translate_request(request(tools=[WEATHER, TIME]), "claude-x")
    assert out["tools"] == [
        {
            "name": "get_weather",
            "description": "The current weather in a city",
            "input_schema": WEATHER["function"]["parameters"],
        },
        {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in out  # Anthropic's default (auto) when the app said nothing


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ("none", False, {"type": "none"}),  # "none" takes no disable_parallel_tool_use
        (
            {"type": "function", "function": {"name": "get_time"}},
            None,
            {"type": "tool", "name": "get_time"},
        ),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("auto", True, {"type": "auto"}),
    ],
)
def test_tool_choice_and_parallel_tool_calls_map_to_anthropic_tool_choice(
    choice: Any, parallel: bool | None, expected: dict[str, Any]
) -> None:
    body = request(tools=[WEATHER, TIME], tool_choice=choice, parallel_tool_calls=parallel)
    out = translate_request(body, "claude-x")
    assert out["tool_choice"] == expected
    assert len(out["tools"]) == 2  # "none" keeps the tools: a history with tool_use needs them


def test_tool_calls_and_results_become_tool_use_and_tool_result_blocks() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        USER,
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {"id": "call_2", "type": "function", "function": {"name": "get_time"}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "12 C, cloudy"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
        {"role": "user", "content": "Thanks. Umbrella?"},
    ]
    out = translate_request({"model": "m", "messages": messages, "tools": [WEATHER, TIME]}, "c")
    assert out["system"] == "be brief"
    assert out["messages"] == [
        {"role": "user", "content": "Weather and time in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
            ],
        },
        {  # both results and the next user text in one user turn: Anthropic wants alternation
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "12 C, cloudy"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "noon"},
                {"type": "text", "text": "Thanks. Umbrella?"},
            ],
        },
    ]


def test_assistant_tool_call_without_text_has_no_empty_text_block() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
    messages = [USER, {"role": "assistant", "content": None, "tool_calls": [call]}]
    out = translate_request({"model": "m", "messages": messages, "tools": [TIME]}, "c")
    assert out["messages"][1]["content"] == [
        {"type": "tool_use", "id": "c1", "name": "get_time", "input": {}}
    ]


def test_tool_ids_anthropic_refuses_are_rewritten_the_same_on_both_sides() -> None:
    odd = "functions.get_time:0"
    call = {"id": odd, "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
    messages = [
        USER,
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": odd, "content": "noon"},
    ]
    out = translate_request({"model": "m", "messages": messages, "tools": [TIME]}, "c")
    use_id = out["messages"][1]["content"][0]["id"]
    assert use_id == out["messages"][2]["content"][0]["tool_use_id"]
    assert use_id.replace("_", "").replace("-", "").isalnum()
    other = translate_request(
        {
            "model": "m",
            "messages": [USER, {"role": "assistant", "tool_calls": [{**call, "id": odd + "."}]}],
            "tools": [TIME],
        },
        "c",
    )
    assert other["messages"][1]["content"][0]["id"] != use_id  # distinct ids stay distinct


def _call(arguments: Any) -> dict[str, Any]:
    return {
        "id": "c1",
        "type": "function",
        "function": {"name": "get_time", "arguments": arguments},
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"tools": [{"type": "function", "function": {"description": "x"}}]},
            "tools[0].function.name",
        ),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type"),
        ({"tools": [{"type": "function"}]}, "tools[0].function"),
        ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
        (
            {
                "tools": [WEATHER],
                "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto"}},
            },
            "tool_choice",
        ),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice.function.name",
        ),
        ({"tool_choice": "required"}, "needs 'tools'"),
        ({"functions": [{"name": "f"}]}, "'functions'"),
        (
            {"messages": [USER, {"role": "assistant", "tool_calls": [_call('{"city": ')]}]},
            "messages[1].tool_calls[0].function.arguments: not valid JSON",
        ),
        (
            {"messages": [USER, {"role": "assistant", "tool_calls": [_call("[1, 2]")]}]},
            "messages[1].tool_calls[0].function.arguments: must encode a JSON object",
        ),
        (
            {
                "messages": [
                    USER,
                    {"role": "assistant", "tool_calls": [{"type": "function", "function": {}}]},
                ]
            },
            "messages[1].tool_calls[0].function.name",
        ),
        (
            {"messages": [USER, {"role": "tool", "content": "noon"}]},
            "messages[1].tool_call_id",
        ),
    ],
)
def test_invalid_tool_requests_are_refused_naming_the_field(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(TranslationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        translate_request(request(**fields), "claude-x")


# --- stream: Anthropic -> OpenAI ----------------------------------------------------------


def start() -> bytes:
    return anthropic_event(
        "message_start",
        {
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "content": [],
                "usage": {"input_tokens": 40, "output_tokens": 1},
            }
        },
    )


def tool_start(index: int, tool_id: str, name: str) -> bytes:
    block = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
    return anthropic_event("content_block_start", {"index": index, "content_block": block})


def json_delta(index: int, partial: str) -> bytes:
    delta = {"type": "input_json_delta", "partial_json": partial}
    return anthropic_event("content_block_delta", {"index": index, "delta": delta})


def text_block(index: int, text: str) -> list[bytes]:
    return [
        anthropic_event(
            "content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}
        ),
        anthropic_event(
            "content_block_delta",
            {"index": index, "delta": {"type": "text_delta", "text": text}},
        ),
        anthropic_event("content_block_stop", {"index": index}),
    ]


def stop(reason: str = "tool_use", output_tokens: int = 30) -> list[bytes]:
    return [
        anthropic_event(
            "message_delta",
            {
                "delta": {"stop_reason": reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        ),
        anthropic_event("message_stop", {}),
    ]


# Two parallel calls, no text: what Claude sends for "weather and time?" with both tools.
TWO_TOOLS = [
    start(),
    anthropic_event("ping", {}),
    tool_start(0, "toolu_01A", "get_weather"),
    json_delta(0, ""),
    json_delta(0, '{"city": '),
    json_delta(0, '"Paris"}'),
    anthropic_event("content_block_stop", {"index": 0}),
    tool_start(1, "toolu_01B", "get_time"),
    json_delta(1, "{}"),
    anthropic_event("content_block_stop", {"index": 1}),
    *stop(),
]
# Text, then a call: the tool call's OpenAI index is 0 although its Anthropic block index is 1.
TEXT_THEN_TOOL = [
    start(),
    *text_block(0, "Let me check."),
    tool_start(1, "toolu_01C", "get_weather"),
    json_delta(1, '{"city":'),
    json_delta(1, ' "Oslo"}'),
    anthropic_event("content_block_stop", {"index": 1}),
    *stop(),
]


def claude_reader(include_usage: bool = True, builder: CompletionBuilder | None = None) -> Any:
    sink = builder.add if builder is not None else None
    return anthropic.PROTOCOL.reader("m", include_usage=include_usage, sink=sink)


def translated_chunks(
    events: list[bytes], marks: Marks, reader: StreamReader
) -> list[dict[str, Any]]:
    """Run ``events`` through the router's per-read processing, one event per read."""
    out = []
    for i, event in enumerate(events):
        data = fold(marks, reader, [event], 100 + i)
        for piece in data.split(b"\n\n"):
            if piece.startswith(b"data: {"):
                out.append(orjson.loads(piece[6:]))
    return out


def tool_deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        tc
        for c in chunks
        for choice in c["choices"]
        for tc in choice["delta"].get("tool_calls", ())
    ]


def test_parallel_tool_use_stream_becomes_indexed_openai_tool_call_deltas() -> None:
    marks = Marks()
    chunks = translated_chunks(TWO_TOOLS, marks, claude_reader())
    assert tool_deltas(chunks) == [
        {
            "index": 0,
            "id": "toolu_01A",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        },
        {"index": 0, "function": {"arguments": '{"city": '}},
        {"index": 0, "function": {"arguments": '"Paris"}'}},
        {
            "index": 1,
            "id": "toolu_01B",
            "type": "function",
            "function": {"name": "get_time", "arguments": ""},
        },
        {"index": 1, "function": {"arguments": "{}"}},
    ]
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "tool_calls"
    assert chunks[-1]["usage"]["completion_tokens"] == 30


def test_a_tools_only_answer_is_content_from_its_first_tool_call() -> None:
    marks, reader = Marks(), claude_reader()
    translated_chunks(TWO_TOOLS, marks, reader)
    assert marks.first_ns == 100 + TWO_TOOLS.index(tool_start(0, "toolu_01A", "get_weather"))
    assert marks.content_chunks == 5  # two starts and three non-empty argument pieces
    assert reader.done and marks.last_ns > marks.first_ns
    assert (reader.input_tokens, reader.output_tokens) == (40, 30)


def test_text_then_tool_stream_keeps_text_and_numbers_tool_calls_from_zero() -> None:
    marks = Marks()
    chunks = translated_chunks(TEXT_THEN_TOOL, marks, claude_reader(include_usage=False))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Let me check."
    assert {tc["index"] for tc in tool_deltas(chunks)} == {0}
    assert marks.first_ns == 100 + 2  # the text delta came first


@pytest.mark.parametrize(
    ("events", "content", "calls"),
    [
        (
            TWO_TOOLS,
            None,  # as OpenAI answers a tools-only message
            [("toolu_01A", "get_weather", {"city": "Paris"}), ("toolu_01B", "get_time", {})],
        ),
        (TEXT_THEN_TOOL, "Let me check.", [("toolu_01C", "get_weather", {"city": "Oslo"})]),
    ],
)
def test_plain_completion_assembles_tool_calls_from_the_stream(
    events: list[bytes], content: str | None, calls: list[tuple[str, str, dict]]
) -> None:
    builder = CompletionBuilder("m")
    reader = claude_reader(builder=builder)
    fold(Marks(), reader, SSEParser().feed(b"".join(events)), 1)  # everything in one read
    choice = builder.result()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == content
    got = [
        (tc["id"], tc["function"]["name"], orjson.loads(tc["function"]["arguments"]))
        for tc in choice["message"]["tool_calls"]
    ]
    assert got == calls
    assert all(tc["type"] == "function" for tc in choice["message"]["tool_calls"])


def test_arguments_for_a_tool_call_that_never_started_break_the_stream() -> None:
    with pytest.raises(AttemptFailed) as err:
        translated_chunks([start(), json_delta(3, '{"a": 1}')], Marks(), claude_reader())
    assert err.value.error_class is ErrorClass.STREAM_BROKEN


def test_openai_stream_whose_first_content_is_a_tool_call_counts_as_content() -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {"id": "c", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + orjson.dumps(body) + b"\n\n"

    marks, reader = Marks(), openai.PROTOCOL.reader("m", include_usage=True)
    fold(marks, reader, [chunk({"role": "assistant", "content": None})], 10)
    assert not marks.first_ns
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f"}}
    fold(marks, reader, [chunk({"tool_calls": [call]})], 20)
    fold(
        marks,
        reader,
        [chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]})],
        30,
    )
    fold(marks, reader, [chunk({}, "tool_calls"), DONE], 40)
    assert marks.first_ns == 20 and reader.finished and reader.done


def test_openai_finish_chunk_of_a_tool_call_is_not_counted_as_content() -> None:
    data = b'{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}'
    marks = Marks(first_ns=1)  # past the first content
    fold(marks, openai.PROTOCOL.reader("m", include_usage=True), [b"data: " + data + b"\n\n"], 40)
    assert marks.content_chunks == 0 and marks.last_ns == 0


# --- end to end: the openai SDK -> router -> a recorded upstream on loopback -------------------


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedServer]:
    """A provider that replays scripted bytes (both dialects) and records what it received."""
    server = ScriptedServer()
    await server.start()
    yield server
    await server.stop()


def catalog(server: ScriptedServer) -> Any:
    return parse_catalog(
        f'[[provider]]\nname = "claude"\nbase_url = "{server.url("claude", "anthropic")}"\n'
        'api = "anthropic"\n'
        f'[[provider]]\nname = "gpt"\nbase_url = "{server.url("gpt", "openai")}"\napi = "openai"\n'
        '[[model]]\nname = "m"\n'
        '[[model.endpoint]]\nprovider = "claude"\nupstream_model = "claude-up"\n'
        '[[model.endpoint]]\nprovider = "gpt"\nupstream_model = "gpt-up"\n'
    )


def only(provider: str) -> dict[str, Any]:
    return {"provider": {"only": [provider]}}


async def test_sdk_streams_parallel_tool_calls_from_an_anthropic_endpoint(
    scripted, router_factory
) -> None:
    scripted.scripts["claude"] = Script(writes=[(0.0, e) for e in TWO_TOOLS])
    async with router_factory(catalog(scripted)) as router:
        client = openai_sdk.AsyncOpenAI(base_url=router.url + "/v1", api_key="x", max_retries=0)
        raw = await client.chat.completions.with_raw_response.create(
            model="m",
            messages=[USER],
            tools=[WEATHER, TIME],
            tool_choice="required",
            parallel_tool_calls=True,
            stream=True,
            extra_body=only("claude"),
        )
        calls: dict[int, dict[str, str]] = {}
        finish = None
        async for chunk in raw.parse():
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
                for tc in choice.delta.tool_calls or ():
                    call = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                    call["id"] += tc.id or ""
                    call["name"] += (tc.function and tc.function.name) or ""
                    call["arguments"] += (tc.function and tc.function.arguments) or ""
        await client.close()
        assert raw.headers["x-signalbox-attempts"] == "1"  # not taken for an empty answer
        assert finish == "tool_calls"
        assert [(c["id"], c["name"], orjson.loads(c["arguments"])) for c in calls.values()] == [
            ("toolu_01A", "get_weather", {"city": "Paris"}),
            ("toolu_01B", "get_time", {}),
        ]
        sent = orjson.loads(scripted.received[-1].body)
        assert sent["tool_choice"] == {"type": "any"}
        assert [t["name"] for t in sent["tools"]] == ["get_weather", "get_time"]
        assert sent["tools"][0]["input_schema"] == WEATHER["function"]["parameters"]
        stats = router.state.live.full_snapshot("claude/m")
        assert stats.samples > 0 and stats.ttft_p50_ms is not None and stats.uptime_5m == 1.0
        assert not router.state.metrics.upstream_errors


async def test_sdk_plain_completion_with_a_tool_call_and_the_follow_up_turn(
    scripted, router_factory
) -> None:
    scripted.scripts["claude"] = Script(writes=[(0.0, e) for e in TEXT_THEN_TOOL])
    async with router_factory(catalog(scripted)) as router:
        client = openai_sdk.AsyncOpenAI(base_url=router.url + "/v1", api_key="x", max_retries=0)
        done = await client.chat.completions.create(
            model="m", messages=[USER], tools=[WEATHER], extra_body=only("claude")
        )
        message = done.choices[0].message
        assert done.choices[0].finish_reason == "tool_calls"
        assert message.content == "Let me check."
        assert message.tool_calls is not None and len(message.tool_calls) == 1
        call = message.tool_calls[0]
        assert (call.id, call.type, call.function.name) == ("toolu_01C", "function", "get_weather")
        assert orjson.loads(call.function.arguments) == {"city": "Oslo"}

        # when: the app answers the call, as the SDK shapes the next turn
        scripted.scripts["claude"] = Script(
            writes=[(0.0, e) for e in [start(), *text_block(0, "Bring a coat."), *stop("end_turn")]]
        )
        follow_up = await client.chat.completions.create(
            model="m",
            messages=[
                USER,
                message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": "4 C, rain"},
            ],
            tools=[WEATHER],
            extra_body=only("claude"),
        )
        await client.close()
        assert follow_up.choices[0].message.content == "Bring a coat."
        sent = orjson.loads(scripted.received[-1].body)
        assert sent["messages"][1:] == [
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me check."},
                    {
                        "type": "tool_use",
                        "id": "toolu_01C",
                        "name": "get_weather",
                        "input": {"city": "Oslo"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01C", "content": "4 C, rain"}
                ],
            },
        ]


async def test_openai_endpoint_tool_call_stream_is_measured_and_assembled(
    scripted, router_factory
) -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-up",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(body) + b"\n\n"

    call = {"index": 0, "id": "call_9", "type": "function"}
    scripted.scripts["gpt"] = Script(
        writes=[
            (0.0, chunk({"role": "assistant", "content": None})),
            (
                0.0,
                chunk(
                    {"tool_calls": [{**call, "function": {"name": "get_time", "arguments": ""}}]}
                ),
            ),
            (0.0, chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]})),
            (0.0, chunk({}, "tool_calls")),
            (0.0, DONE),
        ]
    )
    async with router_factory(catalog(scripted)) as router:
        client = openai_sdk.AsyncOpenAI(base_url=router.url + "/v1", api_key="x", max_retries=0)
        raw = await client.chat.completions.with_raw_response.create(
            model="m", messages=[USER], tools=[TIME], extra_body=only("gpt")
        )
        await client.close()
        done = raw.parse()
        assert raw.headers["x-signalbox-attempts"] == "1"
        assert done.choices[0].finish_reason == "tool_calls"
        assert done.choices[0].message.content is None
        call_out = done.choices[0].message.tool_calls[0]  # type: ignore[index]
        assert (call_out.id, call_out.function.name, call_out.function.arguments) == (
            "call_9",
            "get_time",
            "{}",
        )
        stats = router.state.live.full_snapshot("gpt/m")
        assert stats.samples > 0 and stats.ttft_p50_ms is not None and stats.uptime_5m == 1.0
        assert not router.state.metrics.upstream_errors


async def test_arguments_that_are_not_json_never_reach_an_anthropic_endpoint(
    scripted, router_factory
) -> None:
    scripted.scripts["claude"] = Script(writes=[(0.0, e) for e in TWO_TOOLS])
    async with router_factory(catalog(scripted)) as router:
        client = openai_sdk.AsyncOpenAI(base_url=router.url + "/v1", api_key="x", max_retries=0)
        bad = {"id": "c1", "type": "function", "function": {"name": "get_time", "arguments": "{"}}
        with pytest.raises(openai_sdk.APIStatusError) as err:
            await client.chat.completions.create(
                model="m",
                messages=[USER, {"role": "assistant", "tool_calls": [bad]}],
                tools=[TIME],
                extra_body=only("claude"),
            )
        await client.close()
        # The app's request is at fault, not the provider: 400 with the reason, nothing sent.
        assert err.value.status_code == 400
        assert err.value.code == "untranslatable_request"
        assert "messages[1].tool_calls[0].function.arguments: not valid JSON" in str(err.value)
        assert scripted.received == []
        assert router.state.live.full_snapshot("claude/m").samples == 0  # not held against it


def test_openai_tool_call_delta_after_the_first_still_counts_as_content() -> None:
    data = b'{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"a"}}]}}]}'
    marks = Marks(first_ns=1)
    fold(marks, openai.PROTOCOL.reader("m", include_usage=True), [b"data: " + data + b"\n\n"], 40)
    assert marks.content_chunks == 1 and marks.last_ns == 40
