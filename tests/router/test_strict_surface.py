"""The HTTP surface is strict and quiet (issue #19): known fields checked and named, a wrong
content type refused, nothing long echoed back, parser-level errors in OpenAI's shape with one
warning line, and every 405 saying what is allowed."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from tests.router.conftest import sim_catalog

MODEL = "llama-3.1-70b"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def error_of(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": -0.1}, "top_p"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": 0}, "n"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stop": 7}, "stop"),
        ({"stream": "yes"}, "stream"),
        ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
        ({"presence_penalty": 9}, "presence_penalty"),
        (
            {"tools": [{"type": "function", "function": {"name": "bad name!"}}]},
            "tools[0].function.name",
        ),
        ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        (
            {"messages": [{"role": "user", "content": [{"text": "no type"}]}]},
            "messages[0].content[0]",
        ),
        ({"provider": ["alpha"]}, "provider"),
        ({"messages": [{"role": "tool", "content": "42"}]}, "messages[0].tool_call_id"),
        ({"messages": [{"role": "system", "content": None}]}, "messages[0].content"),
        ({"tool_choice": "required"}, "tool_choice"),
        (
            {
                "tools": [{"type": "function", "function": {"name": "lookup"}}],
                "tool_choice": {"type": "function", "function": {"name": "other"}},
            },
            "tool_choice.function.name",
        ),
    ],
)
async def test_a_known_field_of_the_wrong_type_or_range_is_a_400_naming_it(
    sim, router_factory, extra: dict, param: str
) -> None:
    async with (
        router_factory(sim_catalog(sim), sim) as router,
        httpx.AsyncClient(base_url=router.url, timeout=10) as http,
    ):
        resp = await http.post("/v1/chat/completions", json={**CHAT, **extra})
        error = error_of(resp, 400)
        assert error["param"] == param and error["message"].startswith(param), error


async def test_every_known_field_well_formed_is_accepted(sim, router_factory) -> None:
    body = {
        **CHAT,
        "temperature": 0.2,
        "top_p": 0.9,
        "n": 1,
        "stop": ["\n\n"],
        "presence_penalty": 0.1,
        "frequency_penalty": 0,
        "seed": 7,
        "user": "u-1",
        "stream": False,
        "stream_options": None,
        "response_format": {"type": "text"},
        "metadata": {"team": "search"},
    }
    async with (
        router_factory(sim_catalog(sim), sim) as router,
        httpx.AsyncClient(base_url=router.url, timeout=10) as http,
    ):
        resp = await http.post("/v1/chat/completions", json=body)
        assert resp.status_code == 200, resp.text
        assert resp.json()["choices"][0]["message"]["content"]


async def test_a_body_that_is_not_sent_as_json_is_a_415(sim, router_factory) -> None:
    async with (
        router_factory(sim_catalog(sim), sim) as router,
        httpx.AsyncClient(base_url=router.url, timeout=10) as http,
    ):
        import orjson

        data = orjson.dumps(CHAT)
        resp = await http.post(
            "/v1/chat/completions", content=data, headers={"Content-Type": "text/plain"}
        )
        assert error_of(resp, 415)["code"] == "unsupported_media_type"
        # a client that names no content type is taken at its word: JSON
        resp = await http.post("/v1/chat/completions", content=data)
        assert resp.status_code == 200, resp.text


async def test_a_huge_model_name_is_not_echoed_back(sim, router_factory) -> None:
    async with (
        router_factory(sim_catalog(sim), sim) as router,
        httpx.AsyncClient(base_url=router.url, timeout=10) as http,
    ):
        body = await http.post("/v1/chat/completions", json={**CHAT, "model": "m" * 100_000})
        # in a query, as long as a request line may be
        query = await http.get("/v1/endpoints", params={"model": "m" * 5_000})
        for resp, length in ((body, 100_000), (query, 5_000)):
            error = error_of(resp, 404)
            assert len(resp.content) < 1000 and f"({length} characters)" in error["message"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/v1/models", "/v1/endpoints"])
async def test_a_405_says_which_methods_are_allowed(sim, router_factory, path: str) -> None:
    async with (
        router_factory(sim_catalog(sim), sim) as router,
        httpx.AsyncClient(base_url=router.url, timeout=10) as http,
    ):
        resp = await http.request("DELETE", path)
        assert error_of(resp, 405)["code"] == "method_not_allowed"
        assert set(resp.headers["Allow"].split(", ")) >= {"GET"}


async def _raw(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data


async def test_requests_the_parser_refuses_get_openai_errors_and_one_warning_line(
    sim, router_factory, caplog: pytest.LogCaptureFixture
) -> None:
    long_line = b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    nul_header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n"
    async with router_factory(sim_catalog(sim), sim) as router:
        with caplog.at_level(logging.DEBUG):
            answers = [await _raw(router.url, long_line) for _ in range(5)]
            answers.append(await _raw(router.url, nul_header))
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.") and b" 400 " in head.split(b"\r\n")[0]
        assert b"application/json" in head
        assert b'"code":"malformed_request"' in body and b"aaaa" not in body
    # one warning for the burst (the rest are counted into the next one), never a traceback
    warnings = [r for r in caplog.records if r.name == "signalbox.router.server"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
