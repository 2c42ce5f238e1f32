"""Real dialect quirks, byte for byte, against a scripted provider on loopback."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest

from signalbox.probe.runner import Timeouts, make_client, probe_target
from signalbox.records import ErrorClass, Observation
from tests.probe.conftest import make_target
from tests.probe.scripted_server import (
    DONE,
    Script,
    ScriptedServer,
    anthropic_event,
    openai_chunk,
    openai_usage,
)

TIMEOUTS = Timeouts(connect_s=2, ttft_s=5, total_s=10)
ROLE = openai_chunk("", role="assistant")


async def probe(
    server: ScriptedServer, name: str, script: Script, api: str = "openai"
) -> Observation:
    server.scripts[name] = script
    async with make_client() as client:
        return await probe_target(
            client, make_target(server.url(name, api), api=api, name=name), timeouts=TIMEOUTS
        )


async def test_events_split_across_reads_are_reassembled(scripted: ScriptedServer) -> None:
    body = (
        ROLE
        + openai_chunk("Hello")
        + openai_chunk(" world", finish="stop")
        + openai_usage(9, 2)
        + DONE
    )
    writes = [(0.002, body[i : i + 7]) for i in range(0, len(body), 7)]
    obs = await probe(scripted, "split", Script(writes))
    assert obs.ok, obs.error_class
    assert (obs.input_tokens, obs.output_tokens, obs.tokens_estimated) == (9, 2, False)


async def test_crlf_line_endings_and_ping_comments_are_handled(scripted: ScriptedServer) -> None:
    crlf = (ROLE + openai_chunk("Hi") + openai_chunk("!", finish="stop") + DONE).replace(
        b"\n", b"\r\n"
    )
    writes = [(0, b": ping\r\n\r\n"), (0.02, b": ping\r\n\r\n"), (0.02, crlf)]
    obs = await probe(scripted, "crlf", Script(writes))
    assert obs.ok, obs.error_class


async def test_pings_role_only_and_usage_chunks_do_not_count_as_first_token(
    scripted: ScriptedServer,
) -> None:
    # given a role chunk and pings for 150 ms before the first content
    writes = [(0, ROLE), (0.05, b": ping\n\n"), (0.05, openai_chunk("")), (0.05, b": ping\n\n")]
    writes += [(0.05, openai_chunk("A")), (0, openai_chunk("B", finish="stop"))]
    writes += [(0, openai_usage(5, 2)), (0, DONE)]
    obs = await probe(scripted, "late", Script(writes))
    # then TTFT counts from the request to the content chunk, after all of them
    assert obs.ok
    assert obs.ttft_ms is not None and obs.ttft_ms >= 190


async def test_usage_in_a_final_chunk_with_empty_choices_sets_token_counts(
    scripted: ScriptedServer,
) -> None:
    writes = [(0, ROLE), (0, openai_chunk("a")), (0.01, openai_chunk("b", finish="length"))]
    writes += [(0, openai_usage(123, 45)), (0, DONE)]
    obs = await probe(scripted, "usage", Script(writes))
    assert (obs.input_tokens, obs.output_tokens, obs.tokens_estimated) == (123, 45, False)
    assert obs.cost_usd == pytest.approx((123 * 1.0 + 45 * 2.0) / 1e6)
    assert obs.tps is not None


async def test_reasoning_content_counts_for_ttft_and_the_answer_for_ttfa(
    scripted: ScriptedServer,
) -> None:
    writes = [
        (0, ROLE),
        (0.01, openai_chunk(reasoning="thinking")),
        (0.01, openai_chunk(reasoning="more")),
    ]
    writes += [(0.1, openai_chunk("Answer", finish="stop")), (0, openai_usage(3, 3)), (0, DONE)]
    obs = await probe(scripted, "reason", Script(writes))
    assert obs.ok
    assert obs.ttft_ms is not None and obs.ttfa_ms is not None
    assert obs.ttfa_ms > obs.ttft_ms


async def test_a_provider_ignoring_stream_options_gets_estimated_tokens(
    scripted: ScriptedServer,
) -> None:
    writes = [
        (0, ROLE),
        (0, openai_chunk("one")),
        (0.01, openai_chunk(" two")),
        (0.01, openai_chunk(" three", finish="stop")),
        (0, DONE),
    ]
    obs = await probe(scripted, "nousage", Script(writes))
    assert obs.ok
    assert obs.output_tokens == 3 and obs.tokens_estimated
    assert obs.input_tokens is not None and obs.cost_usd is not None


async def test_http_200_then_an_error_event_is_a_stream_error(scripted: ScriptedServer) -> None:
    error = b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    obs = await probe(scripted, "errev", Script([(0, ROLE), (0, openai_chunk("x")), (0.01, error)]))
    assert (obs.ok, obs.error_class, obs.http_status) == (False, ErrorClass.STREAM_ERROR, 200)


async def test_an_event_error_typed_event_is_a_stream_error(scripted: ScriptedServer) -> None:
    error = b'event: error\ndata: {"message": "boom"}\n\n'
    obs = await probe(scripted, "errev2", Script([(0, ROLE), (0, error)]))
    assert obs.error_class is ErrorClass.STREAM_ERROR


async def test_a_gzip_compressed_stream_is_decoded(scripted: ScriptedServer) -> None:
    writes = [
        (0, ROLE),
        (0.01, openai_chunk("zip")),
        (0.01, openai_chunk("ped", finish="stop")),
        (0, openai_usage(4, 2)),
        (0, DONE),
    ]
    obs = await probe(scripted, "gz", Script(writes, gzip=True))
    assert obs.ok, obs.error_class
    assert obs.output_tokens == 2


async def test_a_stream_without_finish_reason_or_done_is_truncated(
    scripted: ScriptedServer,
) -> None:
    obs = await probe(scripted, "trunc", Script([(0, ROLE), (0, openai_chunk("half"))]))
    assert obs.error_class is ErrorClass.TRUNCATED


async def test_a_connection_cut_mid_stream_is_stream_broken(scripted: ScriptedServer) -> None:
    obs = await probe(scripted, "cut", Script([(0, ROLE), (0, openai_chunk("half"))], abort=True))
    assert obs.error_class is ErrorClass.STREAM_BROKEN


async def test_a_malformed_chunk_is_stream_broken(scripted: ScriptedServer) -> None:
    obs = await probe(scripted, "bad", Script([(0, ROLE), (0, b'data: {"choices": [\n\n')]))
    assert obs.error_class is ErrorClass.STREAM_BROKEN


async def test_a_finished_stream_without_content_is_empty(scripted: ScriptedServer) -> None:
    obs = await probe(
        scripted, "empty", Script([(0, ROLE), (0, openai_chunk(None, finish="stop")), (0, DONE)])
    )
    assert obs.error_class is ErrorClass.EMPTY


async def test_a_refusal_that_says_nothing_is_ok_with_no_output(scripted: ScriptedServer) -> None:
    # given a stream that ends without text because the model refused (OpenAI's content_filter)
    script = Script([(0, ROLE), (0, openai_chunk(None, finish="content_filter")), (0, DONE)])
    obs = await probe(scripted, "refused", script)
    # then it is the model's answer, as the router takes it: no failure, no output, no TTFT
    assert obs.ok and obs.error_class is None
    assert obs.output_tokens == 0 and obs.input_tokens is not None
    assert obs.ttft_ms is None and obs.tps is None


async def test_an_anthropic_refusal_with_no_text_is_ok(scripted: ScriptedServer) -> None:
    writes = [
        (0, anthropic_event("message_start", {"message": {"usage": {"input_tokens": 12}}})),
        (
            0,
            anthropic_event(
                "message_delta",
                {"delta": {"stop_reason": "refusal"}, "usage": {"output_tokens": 0}},
            ),
        ),
        (0, anthropic_event("message_stop", {})),
    ]
    obs = await probe(scripted, "claude-refuses", Script(writes), api="anthropic")
    assert obs.ok, obs.error_class
    assert (obs.input_tokens, obs.output_tokens, obs.tokens_estimated) == (12, 0, False)


async def test_tool_call_deltas_count_as_content(scripted: ScriptedServer) -> None:
    tool = {
        "choices": [
            {
                "index": 0,
                "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{"}}]},
                "finish_reason": None,
            }
        ]
    }
    writes = [
        (0, ROLE),
        (0, b"data: " + orjson.dumps(tool) + b"\n\n"),
        (0, openai_chunk(None, finish="tool_calls")),
        (0, DONE),
    ]
    obs = await probe(scripted, "tool", Script(writes))
    assert obs.ok and obs.ttft_ms is not None


async def test_anthropic_stream_with_ping_thinking_and_usage(scripted: ScriptedServer) -> None:
    writes = [
        (
            0,
            anthropic_event(
                "message_start", {"message": {"usage": {"input_tokens": 17, "output_tokens": 1}}}
            ),
        ),
        (0, anthropic_event("ping", {})),
        (
            0,
            anthropic_event(
                "content_block_start", {"index": 0, "content_block": {"type": "thinking"}}
            ),
        ),
        (
            0.01,
            anthropic_event(
                "content_block_delta",
                {"index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}},
            ),
        ),
        (
            0.05,
            anthropic_event(
                "content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "Hi"}}
            ),
        ),
        (
            0.01,
            anthropic_event(
                "content_block_delta",
                {"index": 1, "delta": {"type": "text_delta", "text": " there"}},
            ),
        ),
        (
            0,
            anthropic_event(
                "message_delta",
                {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 6}},
            ),
        ),
        (0, anthropic_event("message_stop", {})),
    ]
    obs = await probe(scripted, "claude", Script(writes), api="anthropic")
    assert obs.ok, obs.error_class
    assert (obs.input_tokens, obs.output_tokens, obs.tokens_estimated) == (17, 6, False)
    assert obs.ttfa_ms is not None and obs.ttft_ms is not None and obs.ttfa_ms > obs.ttft_ms


async def test_anthropic_error_event_after_200_is_a_stream_error(scripted: ScriptedServer) -> None:
    writes = [
        (0, anthropic_event("message_start", {"message": {"usage": {"input_tokens": 1}}})),
        (
            0,
            anthropic_event(
                "error", {"error": {"type": "overloaded_error", "message": "Overloaded"}}
            ),
        ),
    ]
    obs = await probe(scripted, "claude-err", Script(writes), api="anthropic")
    assert obs.error_class is ErrorClass.STREAM_ERROR


async def test_anthropic_stream_without_message_stop_or_stop_reason_is_truncated(
    scripted: ScriptedServer,
) -> None:
    writes = [
        (0, anthropic_event("message_start", {"message": {"usage": {"input_tokens": 1}}})),
        (
            0,
            anthropic_event(
                "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "x"}}
            ),
        ),
    ]
    obs = await probe(scripted, "claude-trunc", Script(writes), api="anthropic")
    assert obs.error_class is ErrorClass.TRUNCATED


def gemini_event(parts: list[dict], finish: str | None = None, **usage: int) -> bytes:
    candidate: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    body = (
        {"candidates": [candidate], "usageMetadata": usage}
        if usage
        else {"candidates": [candidate]}
    )
    return b"data: " + orjson.dumps(body) + b"\r\n\r\n"


async def test_gemini_thoughts_are_reasoning_and_usage_counts_them(
    scripted: ScriptedServer,
) -> None:
    # given a Gemini stream that thinks for 60 ms before answering, CRLF-separated, split anywhere
    body = gemini_event([{"text": "Answer.", "thought": True}], promptTokenCount=17)
    late = gemini_event([{"text": "Hi"}]) + gemini_event(
        [{"text": " there"}],
        "STOP",
        promptTokenCount=17,
        candidatesTokenCount=2,
        thoughtsTokenCount=30,
    )
    writes = [(0, body[:9]), (0, body[9:]), (0.06, late[:-1]), (0, late[-1:])]
    obs = await probe(scripted, "gem", Script(writes), api="gemini")
    # then TTFT is the first thought, TTFA the first answer, and thoughts count as output
    assert obs.ok, obs.error_class
    assert obs.ttfa_ms is not None and obs.ttft_ms is not None
    assert obs.ttfa_ms >= obs.ttft_ms + 50
    assert (obs.input_tokens, obs.output_tokens, obs.tokens_estimated) == (17, 32, False)
    received = scripted.received[-1]
    assert received.path == "/gem/v1beta/models/m-up:streamGenerateContent"
    assert "x-goog-api-key" not in {k.lower() for k in received.headers}  # no key, none sent


async def test_gemini_stream_without_a_finish_reason_is_truncated(scripted: ScriptedServer) -> None:
    writes = [(0, gemini_event([{"text": "x"}]))]
    obs = await probe(scripted, "gem-trunc", Script(writes), api="gemini")
    assert obs.error_class is ErrorClass.TRUNCATED


@pytest.mark.parametrize(
    ("status", "expected"),
    [(400, ErrorClass.HTTP_4XX), (429, ErrorClass.RATE_LIMITED), (502, ErrorClass.HTTP_5XX)],
)
async def test_error_statuses_are_classified(
    scripted: ScriptedServer, status: int, expected: ErrorClass
) -> None:
    obs = await probe(
        scripted,
        f"s{status}",
        Script([(0, b'{"error": {}}')], status=status, content_type="application/json"),
    )
    assert (obs.error_class, obs.http_status) == (expected, status)


async def test_no_first_token_within_the_ttft_deadline_is_timeout_ttft(
    scripted: ScriptedServer,
) -> None:
    scripted.scripts["slow"] = Script([(0, ROLE), (2.0, openai_chunk("late"))])
    async with make_client() as client:
        target = make_target(scripted.url("slow"), name="slow")
        obs = await probe_target(
            client, target, timeouts=Timeouts(connect_s=1, ttft_s=0.2, total_s=5)
        )
    assert obs.error_class is ErrorClass.TIMEOUT_TTFT


async def test_a_stream_stalling_after_content_is_timeout_total(scripted: ScriptedServer) -> None:
    scripted.scripts["stall"] = Script(
        [(0, ROLE), (0, openai_chunk("a")), (2.0, openai_chunk("b"))]
    )
    async with make_client() as client:
        target = make_target(scripted.url("stall"), name="stall")
        obs = await probe_target(
            client, target, timeouts=Timeouts(connect_s=1, ttft_s=0.2, total_s=0.5)
        )
    assert obs.error_class is ErrorClass.TIMEOUT_TOTAL
    assert obs.ttft_ms is not None


async def test_a_refused_connection_is_a_connect_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with make_client() as client:
        target = make_target(f"http://127.0.0.1:{port}/v1")
        obs = await probe_target(client, target, timeouts=TIMEOUTS)
    assert (obs.error_class, obs.http_status) == (ErrorClass.CONNECT, None)


async def test_connect_time_is_recorded_for_a_new_connection_only(scripted: ScriptedServer) -> None:
    scripted.scripts["conn"] = Script(
        [(0, openai_chunk("a")), (0, openai_chunk("b", finish="stop")), (0, DONE)]
    )
    async with make_client() as client:
        target = make_target(scripted.url("conn"), name="conn")
        first = await probe_target(client, target, timeouts=TIMEOUTS)
        second = await probe_target(client, target, timeouts=TIMEOUTS)
    assert first.connect_ms is not None and first.connect_ms > 0
    assert second.connect_ms is None


def test_the_client_sets_tcp_nodelay_explicitly() -> None:
    import socket

    client = make_client()
    pool = client._transport._pool  # type: ignore[attr-defined]
    assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) in pool._socket_options
    assert isinstance(client, httpx.AsyncClient)


async def test_a_pooled_connection_closed_while_idle_does_not_fail_the_next_probe() -> None:
    server = ScriptedServer(keepalive_timeout_s=0.05)
    await server.start()
    try:
        server.scripts["idle"] = Script([(0, openai_chunk("a", finish="stop")), (0, DONE)])
        async with make_client() as client:
            target = make_target(server.url("idle"), name="idle")
            first = await probe_target(client, target, timeouts=TIMEOUTS)
            await asyncio.sleep(0.2)  # the server closes the idle keep-alive connection
            second = await probe_target(client, target, timeouts=TIMEOUTS)
    finally:
        await server.stop()
    assert first.ok and second.ok, second.error_class
