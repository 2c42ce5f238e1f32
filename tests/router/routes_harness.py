"""A router in front of scripted upstreams, with routes across three models, for the routing
tests (``test_routes_*.py``): each test scripts what each model answers.

Models: ``small`` (provider ``ps``, cheap), ``large`` (``pl``, 10x the price) and ``tiny``
(``pt``: a 200-token context window and no tools). Routes:

- ``all``: small, then large; every trigger on, the stream held for validation;
- ``plain``: small, then large; only the failure triggers (streams pass straight through);
- ``fit``: tiny, then large; the context-window and tools triggers (on by default);
- ``tight``: tiny alone;
- ``nobuf``: small, then large on finish_length or failure, streams not held.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from signalbox.catalog import parse_catalog
from tests.probe.scripted_server import DONE, Script, ScriptedServer, openai_chunk, openai_usage
from tests.router.conftest import RunningRouter, running_router

GOOD = "a fine answer from large"

ROUTES = """
[[route]]
name = "all"
default = "small"
escalate = ["large"]
buffer_for_validation = true
[route.triggers]
prompt_tokens_above = 1000
hint = true
finish_length = true
empty = true
refusal = true
invalid_json = true
invalid_tool_args = true
failure = true
first_token_deadline_ms = 300

[[route]]
name = "plain"
default = "small"
escalate = ["large"]
[route.triggers]
failure = true

[[route]]
name = "fit"
default = "tiny"
escalate = ["large"]

[[route]]
name = "tight"
default = "tiny"

[[route]]
name = "nobuf"
default = "small"
escalate = ["large"]
[route.triggers]
finish_length = true
failure = true
"""


def catalog_text(server: ScriptedServer) -> str:
    """The three models on the scripted server, and the routes."""
    lines = []
    for provider in ("ps", "pl", "pt"):
        lines += ["[[provider]]", f'name = "{provider}"', f'base_url = "{server.url(provider)}"']
    for model, provider, price, extra in (
        ("small", "ps", 1.0, ""),
        ("large", "pl", 10.0, ""),
        ("tiny", "pt", 1.0, "context_window = 200\nsupports_tools = false"),
    ):
        lines += ["[[model]]", f'name = "{model}"', extra]
        lines += [
            "[[model.endpoint]]",
            f'provider = "{provider}"',
            f'upstream_model = "{model}-v1"',
            f"price_input_per_mtok = {price}",
            f"price_output_per_mtok = {price}",
        ]
    return "\n".join(lines) + "\n" + ROUTES


def answer(
    text: str | None = "hello from the model",
    *,
    finish: str = "stop",
    tool_args: str | None = None,
    pause_s: float = 0.0,
) -> Script:
    """An OpenAI stream: role, the text in two chunks (or a tool call), a finish, usage, DONE."""
    writes: list[tuple[float, bytes]] = [(pause_s, openai_chunk(role="assistant"))]
    if tool_args is not None:
        call = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "lookup", "arguments": tool_args},
        }
        chunk = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}],
        }
        writes.append((0.0, b"data: " + orjson.dumps(chunk) + b"\n\n"))
    elif text:
        half = len(text) // 2 or 1
        writes += [(0.0, openai_chunk(text[:half])), (0.0, openai_chunk(text[half:]))]
    writes += [(0.0, openai_chunk(finish=finish)), (0.0, openai_usage(12, 5)), (0.0, DONE)]
    return Script(writes=writes)


def ask(model: str, content: str = "hi", **extra: Any) -> dict[str, Any]:
    """A chat request body."""
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


TOOLS = [
    {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
    }
]


@dataclass
class Env:
    """The scripted upstreams and the router."""

    server: ScriptedServer
    router: RunningRouter
    http: httpx.AsyncClient

    def script(self, small: Script, large: Script | None = None) -> None:
        """What small (and tiny) and large answer next."""
        self.server.scripts["ps"] = small
        self.server.scripts["pt"] = small
        self.server.scripts["pl"] = large or answer(GOOD)

    async def post(self, body: dict[str, Any], **headers: str) -> httpx.Response:
        """One chat request."""
        return await self.http.post("/v1/chat/completions", json=body, headers=headers)


@asynccontextmanager
async def routes_env(tmp: Path, **router_kwargs: Any) -> AsyncIterator[Env]:
    """Scripted upstreams and a router over them, until the block ends."""
    server = ScriptedServer()
    await server.start()
    catalog = parse_catalog(catalog_text(server))
    try:
        async with (
            running_router(tmp, catalog, **router_kwargs) as router,
            httpx.AsyncClient(base_url=router.url, timeout=30) as http,
        ):
            yield Env(server, router, http)
    finally:
        await server.stop()
