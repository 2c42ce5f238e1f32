"""Pure pieces of the pass-through: SSE splitting, content detection, Anthropic translation,
completion assembly, attempt measurement and the first-token deadline."""

from __future__ import annotations

import orjson
import pytest

from signalbox.catalog import parse_catalog
from signalbox.protocols import anthropic, openai
from signalbox.protocols.anthropic import translate_request
from signalbox.protocols.sse import SSEParser, event_data
from signalbox.protocols.wire import Content, TranslationError
from signalbox.records import ErrorClass, Sample
from signalbox.router.completion import CompletionBuilder
from signalbox.router.events import AttemptFailed, Marks, fold, observation
from signalbox.router.fallback import first_token_deadline_s
from signalbox.router.live import LiveState
from signalbox.stats import EndpointStats


def chunk(delta: dict, finish: str | None = None) -> bytes:
    body = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + orjson.dumps(body) + b"\n\n"


def content_kind(data: bytes) -> Content:
    """What the OpenAI reader makes of one event holding ``data``."""
    kind, _ = openai.PROTOCOL.reader("m", include_usage=True).read(b"data: " + data + b"\n\n")
    return kind


def test_splitter_reassembles_events_across_reads_and_crlf() -> None:
    s = SSEParser()
    assert s.feed(b'data: {"a"') == []
    assert s.feed(b": 1}\r\n\r\n: ping\n\ndata: [DO") == [b'data: {"a": 1}\n\n', b": ping\n\n"]
    assert s.feed(b"NE]\n\n") == [b"data: [DONE]\n\n"]
    assert event_data(b": ping\n\n") is None
    assert event_data(b"event: x\ndata: a\ndata: b\n\n") == b"a\nb"


@pytest.mark.parametrize(
    ("delta", "content"),
    [
        ({"role": "assistant", "content": ""}, False),
        ({"content": None}, False),
        ({"content": "hi"}, True),
        ({"reasoning_content": "hmm"}, True),
        ({"tool_calls": [{"index": 0, "function": {"arguments": "{"}}]}, True),
    ],
)
def test_content_detection_parsed_and_by_bytes_agree(delta: dict, content: bool) -> None:
    event = chunk(delta)
    assert (content_kind(event[6:-2]) is not Content.NONE) is content


@pytest.mark.parametrize(
    "data",
    [
        b'{"choices":[{"delta":{"content":"x"}}]}',
        b'{"choices": [{"delta": {"content": "x"}}]}',
        b'{"choices":[{"delta":{"role":"assistant","content":"","x":"y"},"finish_reason":null}]}',
        b'{"choices": [{"delta": {"content": ""}, "finish_reason": "stop"}]}',
    ],
)
def test_content_and_finish_detection_tolerate_json_spacing(data: bytes) -> None:
    parsed = orjson.loads(data)
    delta = parsed["choices"][0]["delta"]
    assert (content_kind(data) is Content.ANSWER) is bool(delta.get("content"))
    finish = bool(parsed["choices"][0].get("finish_reason"))
    reader = openai.PROTOCOL.reader("m", include_usage=False)
    assert reader.read(b"data: " + data + b"\n\n")[1]  # relayed: no usage to drop
    assert reader.finished is finish and reader.output_tokens is None
    _, relayed = reader.read(b'data: {"choices": [], "usage": {"completion_tokens": 1}}\n\n')
    assert relayed == b"" and reader.output_tokens == 1


def test_role_chunk_is_held_until_first_content_and_usage_is_read() -> None:
    marks, reader = Marks(), openai.PROTOCOL.reader("m", include_usage=False)
    out = fold(marks, reader, [chunk({"role": "assistant", "content": ""})], 10)
    assert marks.first_ns == 0 and out
    fold(marks, reader, [chunk({"content": "a"}), chunk({"content": "b"})], 20)
    assert marks.first_ns == 20 and marks.content_chunks == 2
    usage = b'data: {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7}}\n\n'
    out = fold(marks, reader, [chunk({}, "stop"), usage, b"data: [DONE]\n\n"], 30)
    assert b"usage" not in out  # the app did not ask for usage
    got = (reader.input_tokens, reader.output_tokens, reader.finished, reader.done)
    assert got == (5, 7, True, True)


def test_error_event_before_content_is_a_stream_error() -> None:
    reader = openai.PROTOCOL.reader("m", include_usage=True)
    with pytest.raises(AttemptFailed) as err:
        fold(Marks(), reader, [b'data: {"error": {"message": "overloaded"}}\n\n'], 1)
    assert err.value.error_class is ErrorClass.STREAM_ERROR


def test_anthropic_request_translation() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "user", "content": "again"},
        ],
        "max_tokens": 12,
        "stop": "END",
        "temperature": 0.2,
    }
    out = translate_request(body, "claude-x")
    assert out["system"] == "be brief"
    assert out["messages"] == [{"role": "user", "content": "hi\nagain"}]
    assert (out["max_tokens"], out["stop_sequences"], out["stream"]) == (12, ["END"], True)
    with pytest.raises(TranslationError):
        translate_request({**body, "tools": [{"type": "function"}]}, "claude-x")


def test_anthropic_stream_translation() -> None:
    tr = anthropic.PROTOCOL.reader("m", include_usage=True)

    def event(name: bytes, data: bytes) -> bytes:
        return b"event: " + name + b"\ndata: " + data + b"\n\n"

    start = b'{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":9}}}'
    content, out = tr.read(event(b"message_start", start))
    assert b'"role":"assistant"' in out and not content
    content, out = tr.read(
        event(
            b"content_block_delta",
            b'{"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}}',
        )
    )
    assert content and b'"content":"Hi"' in out
    tr.read(
        event(
            b"message_delta",
            b'{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":3}}',
        )
    )
    _, out = tr.read(event(b"message_stop", b'{"type":"message_stop"}'))
    assert tr.done and b'"completion_tokens":3' in out and out.endswith(b"data: [DONE]\n\n")
    assert tr.finish_reason == "length"


def test_an_anthropic_refusal_with_no_text_reads_as_content_filter() -> None:
    tr = anthropic.PROTOCOL.reader("m", include_usage=False)

    def event(name: bytes, data: bytes) -> bytes:
        return b"event: " + name + b"\ndata: " + data + b"\n\n"

    start = b'{"type":"message_start","message":{"id":"msg_2","usage":{"input_tokens":9}}}'
    stop = b'{"type":"message_delta","delta":{"stop_reason":"refusal"},"usage":{"output_tokens":0}}'
    kinds = [
        tr.read(event(b"message_start", start))[0],
        tr.read(event(b"message_delta", stop))[0],
        tr.read(event(b"message_stop", b'{"type":"message_stop"}'))[0],
    ]
    assert not any(kinds)  # nothing said
    assert tr.finished and tr.finish_reason == "content_filter"


def test_completion_builder_merges_content_and_tool_calls() -> None:
    b = CompletionBuilder("m")
    b.add({"id": "c1", "choices": [{"index": 0, "delta": {"content": "Hel"}}]})
    b.add(
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "content": "lo",
                        "tool_calls": [
                            {"index": 0, "id": "t", "function": {"name": "f", "arguments": '{"a"'}}
                        ],
                    },
                }
            ]
        }
    )
    b.add(
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]},
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {"total_tokens": 3},
        }
    )
    result = b.result()
    message = result["choices"][0]["message"]
    assert message["content"] == "Hello"
    assert message["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1}'}
    assert result["choices"][0]["finish_reason"] == "tool_calls" and result["usage"]


def test_attempt_marks_become_probe_compatible_metrics() -> None:
    catalog = parse_catalog(
        '[[provider]]\nname = "p"\nbase_url = "http://x/v1"\n[[model]]\nname = "m"\n[[model.endpoint]]\nprovider = "p"\nupstream_model = "u"\nprice_input_per_mtok = 1.0\nprice_output_per_mtok = 2.0\n'
    )
    info = LiveState(catalog).endpoints["p/m"]
    marks = Marks(
        sent_ns=1_000_000,
        first_ns=101_000_000,
        last_ns=1_101_000_000,
        content_chunks=11,
        input_tokens=10,
        output_tokens=21,
    )
    obs = observation(info, 7, 1_800_000_000.0, marks, None, 1_201_000_000)
    assert obs.ttft_ms == 100.0
    assert obs.tps == pytest.approx(20.0)  # (21 - 1) tokens over 1 s, TTFT excluded
    assert obs.itl_ms == pytest.approx(100.0)
    assert obs.e2e_ms == 1200.0
    assert obs.cost_usd == pytest.approx((10 * 1.0 + 21 * 2.0) / 1e6)
    assert obs.ok and obs.source == "traffic" and not obs.tokens_estimated


def test_first_token_deadline_is_a_capped_multiple_of_p99() -> None:
    stats = EndpointStats(60)
    assert first_token_deadline_s(stats.snapshot(0), 20.0, None) == 20.0
    for i in range(50):
        stats.add(Sample(float(i), True, ttft_ms=500.0))
    snap = stats.snapshot(50)
    assert first_token_deadline_s(snap, 20.0, None) == pytest.approx(2.0, rel=0.05)
    assert first_token_deadline_s(snap, 1.5, None) == 1.5
    assert first_token_deadline_s(snap, 20.0, 250) == 0.25


def test_a_traffic_stream_that_arrived_in_one_burst_has_no_decode_speed() -> None:
    from signalbox.protocols.sse import SSEParser

    # the first content, then 40 more events in a single read: a stalled upstream that flushed
    reader = openai.PROTOCOL.reader("m", include_usage=True)
    marks = Marks(sent_ns=1_000_000_000)
    chunk = b'data: {"choices": [{"index": 0, "delta": {"content": "x"}}]}\n\n'
    parser = SSEParser()
    fold(marks, reader, parser.feed(chunk), 1_200_000_000)
    fold(marks, reader, parser.feed(chunk * 40), 1_201_000_000)
    catalog = parse_catalog(
        '[[provider]]\nname = "p"\nbase_url = "http://x/v1"\n[[model]]\nname = "m"\n'
        '[[model.endpoint]]\nprovider = "p"\nupstream_model = "u"\n'
    )
    info = LiveState(catalog).endpoints["p/m"]
    obs = observation(info, 7, 1_800_000_000.0, marks, None, 1_202_000_000)
    assert obs.ok and obs.ttft_ms == pytest.approx(200.0)
    assert obs.tps is None and obs.itl_ms is None
