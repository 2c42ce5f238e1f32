"""Streaming through a route: a held stream sends one model's answer only (never part of one
and then another's); an unheld stream switches models only before its first byte, and then
only on failure; the OpenAI SDK reads both, and a per-request ``models`` list falls back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import openai
import orjson
import pytest

from tests.probe.scripted_server import Script, openai_chunk
from tests.router.routes_harness import GOOD, Env, answer, ask, routes_env


@pytest.fixture(scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    async with routes_env(tmp_path_factory.mktemp("routes-stream")) as running:
        yield running


def _events(raw: bytes) -> list[bytes]:
    return [e[6:] for e in raw.split(b"\n\n") if e.startswith(b"data: ")]


def _text(raw: bytes) -> str:
    out = []
    for data in _events(raw):
        if data == b"[DONE]":
            continue
        for choice in orjson.loads(data).get("choices") or ():
            out.append((choice.get("delta") or {}).get("content") or "")
    return "".join(out)


async def _stream(env: Env, body: dict) -> tuple[dict[str, str], bytes]:
    async with env.http.stream(
        "POST", "/v1/chat/completions", json={**body, "stream": True}
    ) as response:
        assert response.status_code == 200
        return dict(response.headers), await response.aread()


async def test_a_held_stream_that_escalates_sends_only_the_escalated_answer(env: Env) -> None:
    env.script(answer("SMALL-PART cut", finish="length"))
    headers, raw = await _stream(env, ask("all"))
    assert _text(raw) == GOOD
    assert b"SMALL-PART" not in raw
    assert _events(raw).count(b"[DONE]") == 1
    assert headers["x-signalbox-path"] == "small,large"
    assert headers["x-signalbox-trigger"] == "finish_length"


async def test_an_app_that_leaves_while_its_stream_is_held_costs_no_error(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    # given a held stream whose first token comes in 0.25 s (inside the route's 300 ms deadline)
    env.script(answer('{"ok": true}', pause_s=0.25))
    host, port = env.router.url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    body = orjson.dumps({**ask("all", response_format={"type": "json_object"}), "stream": True})
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: router\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.close()  # when the app leaves before its answer is sent
    await writer.wait_closed()
    await asyncio.sleep(1.0)  # the answer arrives, validates, and finds no one to send to
    # then nothing is logged as an unhandled error, and the next app is served
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    env.script(answer('{"ok": true}'))
    _, raw = await _stream(env, ask("all", response_format={"type": "json_object"}))
    assert _text(raw) == '{"ok": true}'


async def test_a_held_stream_that_validates_is_sent_as_it_came(env: Env) -> None:
    env.script(answer('{"ok": true}'))
    headers, raw = await _stream(env, ask("all", response_format={"type": "json_object"}))
    assert _text(raw) == '{"ok": true}'
    assert _events(raw)[-1] == b"[DONE]"
    assert headers["x-signalbox-path"] == "small"
    assert headers["x-signalbox-trigger"] == "none"


async def test_an_unheld_stream_ignores_answer_triggers_that_a_plain_request_applies(
    env: Env,
) -> None:
    env.script(answer("cut sho", finish="length"))
    headers, raw = await _stream(env, ask("nobuf"))
    assert _text(raw) == "cut sho"
    assert headers["x-signalbox-trigger"] == "none"
    plain = await env.post(ask("nobuf"))
    assert plain.headers["x-signalbox-trigger"] == "finish_length"


async def test_an_unheld_stream_falls_back_to_the_next_model_before_the_first_byte(
    env: Env,
) -> None:
    env.script(Script(status=500, content_type="application/json", writes=[(0.0, b"{}")]))
    headers, raw = await _stream(env, ask("nobuf"))
    assert _text(raw) == GOOD
    assert headers["x-signalbox-path"] == "small,large"
    assert headers["x-signalbox-trigger"] == "failure"


async def test_an_unheld_stream_never_switches_models_after_the_first_byte(env: Env) -> None:
    cut = Script(
        writes=[(0.0, openai_chunk(role="assistant")), (0.0, openai_chunk("SMALL-PART"))],
        abort=True,
    )
    env.script(cut)
    headers, raw = await _stream(env, ask("nobuf"))
    assert "SMALL-PART" in _text(raw)
    assert GOOD not in _text(raw)
    assert b'"error"' in raw  # the break is said, in OpenAI's shape
    assert headers["x-signalbox-path"] == "small"


async def test_the_openai_sdk_reads_a_route_streaming_and_not(env: Env) -> None:
    env.script(answer("cut", finish="length"))
    client = openai.AsyncOpenAI(base_url=env.router.url + "/v1", api_key="x", max_retries=0)
    raw = await client.chat.completions.with_raw_response.create(
        model="all", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().choices[0].message.content == GOOD
    assert raw.headers["x-signalbox-trigger"] == "finish_length"
    stream = await client.chat.completions.create(
        model="all@cost",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    parts, usage = [], None
    async for chunk in stream:
        parts += [c.delta.content or "" for c in chunk.choices]
        usage = chunk.usage or usage
    assert "".join(parts) == GOOD
    assert usage is not None and usage.completion_tokens == 5
    await client.close()


async def test_a_models_list_falls_back_across_models_with_the_sdk(env: Env) -> None:
    down = Script(status=503, content_type="application/json", writes=[(0.0, b"{}")])
    env.script(down)
    client = openai.AsyncOpenAI(base_url=env.router.url + "/v1", api_key="x", max_retries=0)
    raw = await client.chat.completions.with_raw_response.create(
        model="small",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"models": ["small", "large"]},
    )
    assert raw.parse().choices[0].message.content == GOOD
    assert raw.headers["x-signalbox-route"] == "(request)"
    assert raw.headers["x-signalbox-path"] == "small,large"
    assert raw.headers["x-signalbox-trigger"] == "failure"
    stream = await client.chat.completions.create(
        model="small",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        extra_body={"models": ["large"]},
    )
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == GOOD
    await client.close()


async def test_a_models_list_naming_an_unknown_model_is_a_404(env: Env) -> None:
    response = await env.post({**ask("small"), "models": ["small", "nope"]})
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "models"
    bad = await env.post({**ask("small"), "models": "large"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "models"


async def test_routes_are_listed_as_models(env: Env) -> None:
    client = openai.AsyncOpenAI(base_url=env.router.url + "/v1", api_key="x", max_retries=0)
    ids = [m.id async for m in client.models.list()]
    await client.close()
    assert set(ids[:3]) == {"large", "small", "tiny"}
    assert {"all", "plain", "fit", "tight", "nobuf"} <= set(ids[3:])
