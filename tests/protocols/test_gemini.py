"""Gemini's wire protocol, pure: the OpenAI request translated (text, system, turns, tools,
generation settings), and the stream translated back (text, thoughts, function calls, finish
reasons, usage, errors)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from signalbox.protocols import gemini
from signalbox.protocols.gemini import PROTOCOL, SKIP_SIGNATURE, translate_request
from signalbox.protocols.wire import Content, MalformedEvent, StreamErrorEvent, TranslationError
from signalbox.router.completion import CompletionBuilder

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time"}}
USER = {"role": "user", "content": "Weather in Paris?"}


def call(call_id: str, name: str, arguments: str, signature: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }
    if signature:
        out["extra_content"] = {"google": {"thought_signature": signature}}
    return out


# --- where and how -----------------------------------------------------------------------------


def test_urls_follow_the_sdk_base_url_and_the_key_goes_in_a_header() -> None:
    base = "https://generativelanguage.googleapis.com"
    assert PROTOCOL.url(base, "gemini-2.5-flash", stream=True) == (
        f"{base}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert PROTOCOL.url(base, "models/gemini-2.5-flash", stream=False) == (
        f"{base}/v1beta/models/gemini-2.5-flash:generateContent"
    )
    headers = PROTOCOL.headers("k-123")
    assert headers["x-goog-api-key"] == "k-123" and "authorization" not in headers
    assert "x-goog-api-key" not in PROTOCOL.headers(None)


def test_probe_request_is_one_user_turn_with_an_output_limit() -> None:
    body = PROTOCOL.probe_request("gemini-x", "Count.", 16)
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Count."}]}]
    assert body["generationConfig"] == {"maxOutputTokens": 16, "temperature": 0}


# --- request: OpenAI -> Gemini -------------------------------------------------------------------


def test_system_and_turns_become_system_instruction_and_user_model_contents() -> None:
    out = translate_request(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "No lists."}]},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": [{"type": "text", "text": "Again"}]},
            ],
        },
        "gemini-x",
    )
    assert out["systemInstruction"] == {"parts": [{"text": "Be brief.\nNo lists."}]}
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Hello!"}]},
        {"role": "user", "parts": [{"text": "Again"}]},
    ]
    assert "generationConfig" not in out and "tools" not in out


def test_sampling_limits_and_stop_go_into_generation_config() -> None:
    out = translate_request(
        {
            "messages": [USER],
            "max_tokens": 99,
            "max_completion_tokens": 50,
            "temperature": 0.3,
            "top_p": 0.9,
            "stop": "END",
        },
        "g",
    )
    assert out["generationConfig"] == {
        "maxOutputTokens": 50,
        "temperature": 0.3,
        "topP": 0.9,
        "stopSequences": ["END"],
    }


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ({"type": "text"}, {}),
        ({"type": "json_object"}, {"responseMimeType": "application/json"}),
        (
            {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}},
            {"responseMimeType": "application/json", "responseJsonSchema": {"type": "object"}},
        ),
    ],
)
def test_response_format_maps_to_a_response_mime_type_and_schema(
    fmt: dict[str, Any], expected: dict[str, Any]
) -> None:
    out = translate_request({"messages": [USER], "response_format": fmt}, "g")
    assert out.get("generationConfig", {}) == expected


def test_a_data_url_image_becomes_inline_data() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0"}}
    out = translate_request(
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "What?"}, image]}]},
        "g",
    )
    assert out["contents"][0]["parts"] == [
        {"text": "What?"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0"}},
    ]


def test_function_tools_become_declarations_with_their_json_schema() -> None:
    out = translate_request({"messages": [USER], "tools": [WEATHER, TIME]}, "g")
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "The current weather in a city",
                    "parametersJsonSchema": WEATHER["function"]["parameters"],
                },
                {"name": "get_time"},
            ]
        }
    ]
    assert "toolConfig" not in out  # Gemini's default (AUTO), as OpenAI's


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "get_time"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_time"]},
        ),
    ],
)
def test_tool_choice_becomes_a_function_calling_config(choice: Any, expected: dict) -> None:
    out = translate_request(
        {"messages": [USER], "tools": [WEATHER, TIME], "tool_choice": choice}, "g"
    )
    assert out["toolConfig"] == {"functionCallingConfig": expected}


def test_tool_calls_and_results_become_function_call_and_response_parts() -> None:
    out = translate_request(
        {
            "messages": [
                USER,
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        call("c1", "get_weather", '{"city": "Paris"}', signature="sig-A"),
                        call("c2", "get_time", ""),
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": '{"temp_c": 21}'},
                {"role": "tool", "tool_call_id": "c2", "content": "noon"},
            ],
            "tools": [WEATHER, TIME],
        },
        "g",
    )
    model, results = out["contents"][1], out["contents"][2]
    assert model == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": "sig-A",
            },
            {"functionCall": {"name": "get_time", "args": {}}},
        ],
    }
    # both results answer one turn, each named after the call it answers
    assert results == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}},
            {"functionResponse": {"name": "get_time", "response": {"output": "noon"}}},
        ],
    }


def test_a_call_gemini_did_not_sign_carries_the_documented_placeholder() -> None:
    assistant = {"role": "assistant", "tool_calls": [call("x", "get_time", "{}")]}
    out = translate_request({"messages": [USER, assistant], "tools": [TIME]}, "g")
    assert out["contents"][1]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"messages": [USER, {"role": "tool", "tool_call_id": "nope", "content": "x"}]},
            "messages[1].tool_call_id",
        ),
        ({"messages": [USER, {"role": "tool", "content": "x"}]}, "messages[1].tool_call_id"),
        (
            {"messages": [USER, {"role": "assistant", "tool_calls": [call("c", "f", "[1]")]}]},
            "messages[1].tool_calls[0].function.arguments: must encode a JSON object",
        ),
        ({"messages": [USER], "tools": [{"type": "custom", "custom": {}}]}, "tools[0].type"),
        ({"messages": [USER], "tool_choice": "required"}, "needs 'tools'"),
        (
            {
                "messages": [USER],
                "tools": [TIME],
                "tool_choice": {"type": "function", "function": {"name": "x"}},
            },
            "tool_choice.function.name",
        ),
        ({"messages": [USER], "n": 2}, "n: only one choice"),
        ({"messages": [USER], "response_format": {"type": "grammar"}}, "response_format.type"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "messages[0].content[0].type",
        ),
        ({"messages": [USER], "functions": [{"name": "f"}]}, "'functions'"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    ],
)
def test_requests_gemini_cannot_take_are_refused_naming_the_field(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(TranslationError) as err:
        translate_request(fields, "g")
    assert message in str(err.value)


# --- stream: Gemini -> OpenAI --------------------------------------------------------------------


def event(parts: list[dict[str, Any]] | None, finish: str | None = None, **usage: int) -> bytes:
    candidate: dict[str, Any] = {"index": 0}
    if parts is not None:
        candidate["content"] = {"role": "model", "parts": parts}
    if finish:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [candidate], "responseId": "r1"}
    if usage:
        body["usageMetadata"] = usage
    return b"data: " + orjson.dumps(body) + b"\r\n\r\n"


def chunks(out: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(p[6:]) for p in out.split(b"\n\n") if p.startswith(b"data: {")]


def test_text_streams_as_openai_chunks_and_the_finish_ends_the_stream() -> None:
    reader = PROTOCOL.reader("gemini-pro", include_usage=True)
    kind, out = reader.read(event([{"text": "Hel"}], promptTokenCount=7))
    first = chunks(out)[0]
    assert kind is Content.ANSWER
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": "Hel"}
    assert first["model"] == "gemini-pro" and first["id"] == "chatcmpl-r1"
    kind, out = reader.read(
        event([{"text": "lo"}], "STOP", promptTokenCount=7, candidatesTokenCount=2)
    )
    last = chunks(out)
    assert [c["choices"][0]["finish_reason"] for c in last if c["choices"]] == [None, "stop"]
    assert last[-1]["usage"] == {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    assert out.endswith(b"data: [DONE]\n\n")
    assert reader.finished and reader.done
    assert (reader.input_tokens, reader.output_tokens) == (7, 2)


def test_thought_parts_are_reasoning_and_count_as_output_tokens() -> None:
    reader = PROTOCOL.reader("g", include_usage=True)
    kind, out = reader.read(event([{"text": "Let me think", "thought": True}]))
    assert kind is Content.REASONING
    assert chunks(out)[0]["choices"][0]["delta"]["reasoning_content"] == "Let me think"
    kind, _ = reader.read(event([{"text": "42"}]))
    assert kind is Content.ANSWER
    _, out = reader.read(
        event([], "STOP", promptTokenCount=3, candidatesTokenCount=1, thoughtsTokenCount=40)
    )
    usage = chunks(out)[-1]["usage"]
    assert usage["completion_tokens"] == 41
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 40}


def test_function_calls_arrive_whole_as_tool_calls_with_ids_and_signatures() -> None:
    builder = CompletionBuilder("g")
    reader = PROTOCOL.reader("g", include_usage=True, sink=builder.add)
    parts = [
        {
            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
            "thoughtSignature": "s1",
        },
        {"functionCall": {"name": "get_time", "args": {}}},
    ]
    kind, out = reader.read(event(parts, "STOP"))
    assert kind is Content.ANSWER
    calls = chunks(out)[0]["choices"][0]["delta"]["tool_calls"]
    assert [(c["index"], c["function"]["name"]) for c in calls] == [
        (0, "get_weather"),
        (1, "get_time"),
    ]
    assert orjson.loads(calls[0]["function"]["arguments"]) == {"city": "Paris"}
    assert calls[0]["id"] != calls[1]["id"] and all(c["id"] for c in calls)
    assert calls[0]["extra_content"] == {"google": {"thought_signature": "s1"}}
    choice = builder.result()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"  # Gemini says STOP; OpenAI says tool_calls
    assert (
        choice["message"]["tool_calls"][0]["extra_content"]["google"]["thought_signature"] == "s1"
    )
    # the answer's calls, sent back next turn, carry the signature Gemini wants to see again
    again = translate_request(
        {"messages": [USER, choice["message"]], "tools": [WEATHER, TIME]}, "g"
    )
    assert again["contents"][1]["parts"][0]["thoughtSignature"] == "s1"


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("OTHER", "stop"),
    ],
)
def test_finish_reasons_map_to_openai_ones(finish: str, expected: str) -> None:
    reader = PROTOCOL.reader("g", include_usage=False)
    reader.read(event([{"text": "a"}]))
    _, out = reader.read(event(None, finish))
    finishes = [c["choices"][0]["finish_reason"] for c in chunks(out)]
    assert finishes == [expected]
    assert reader.finished and reader.done and reader.finish_reason == expected


def test_a_blocked_prompt_ends_the_stream_as_content_filter() -> None:
    reader = PROTOCOL.reader("g", include_usage=False)
    raw = b'data: {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}\n\n'
    kind, out = reader.read(raw)
    assert kind is Content.NONE and reader.done
    assert chunks(out)[-1]["choices"][0]["finish_reason"] == "content_filter"
    assert reader.finish_reason == "content_filter"


def test_an_error_object_in_the_stream_is_a_stream_error_with_its_message() -> None:
    reader = PROTOCOL.reader("g", include_usage=True)
    raw = b'data: {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}\r\n\r\n'
    with pytest.raises(StreamErrorEvent, match=r"The model is overloaded\."):
        reader.read(raw)


def test_data_that_is_not_json_is_a_malformed_event() -> None:
    reader = PROTOCOL.reader("g", include_usage=True)
    reader.read(event([{"text": "a"}]))
    with pytest.raises(MalformedEvent):
        reader.read(b'data: {"candidates": [{"content": {"parts": [{"text": \r\n\r\n')


def test_the_probe_reader_builds_no_bytes() -> None:
    reader = PROTOCOL.reader("g", include_usage=True, relay=False)
    assert reader.read(event([{"text": "a"}], "STOP")) == (Content.ANSWER, b"")
    assert reader.done


def test_error_bodies_give_their_message_also_inside_a_list() -> None:
    body = gemini.error_body(429, "Resource has been exhausted.")
    assert body == {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted.",
            "status": "RESOURCE_EXHAUSTED",
        }
    }
    assert PROTOCOL.error_message(orjson.dumps(body)) == "Resource has been exhausted."
    assert PROTOCOL.error_message(orjson.dumps([body])) == "Resource has been exhausted."
