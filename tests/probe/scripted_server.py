"""A tiny aiohttp provider whose every byte and pause is scripted, for dialect-quirk tests.

Each script is registered under a provider name and answers ``/{name}/v1/chat/completions``,
``/{name}/v1/messages`` and Gemini's ``/{name}/v1beta/models/...``: a status, headers, and a list of (pause in seconds, bytes) writes.
``gzip=True`` compresses the stream, flushing after every write so that chunks still arrive
separately. Requests are recorded (path and headers) so tests can check what a provider received.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Script:
    """What one scripted provider answers."""

    writes: list[tuple[float, bytes]] = field(default_factory=list)
    status: int = 200
    content_type: str = "text/event-stream"
    gzip: bool = False
    hang_s: float = 0.0  # pause before sending the status line
    abort: bool = False  # drop the connection after the writes instead of ending the body


@dataclass
class Received:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """Start with ``await start()``; ``url(name, api)`` is the catalog ``base_url`` for a script."""

    def __init__(self, keepalive_timeout_s: float = 75.0) -> None:
        self.keepalive_timeout_s = keepalive_timeout_s
        self.scripts: dict[str, Script] = {}
        self.received: list[Received] = []
        self.active: dict[str, int] = {}
        self.max_active: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, name: str, api: str = "openai") -> str:
        """The provider base_url as each SDK takes it."""
        base = f"http://127.0.0.1:{self.port}/{name}"
        return f"{base}/v1" if api == "openai" else base

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/{name}/v1/chat/completions", self._handle)
        app.router.add_post("/{name}/v1/messages", self._handle)
        app.router.add_post("/{name}/v1beta/{method:.+}", self._handle)  # Gemini
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=0.2,
            keepalive_timeout=self.keepalive_timeout_s,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.active[name] = self.active.get(name, 0) + 1
        self.max_active[name] = max(self.max_active.get(name, 0), self.active[name])
        try:
            return await self._answer(request, name)
        finally:
            self.active[name] -= 1

    async def _answer(self, request: web.Request, name: str) -> web.StreamResponse:
        body = await request.read()
        self.received.append(Received(request.path, dict(request.headers), body))
        script = self.scripts[name]
        if script.hang_s:
            await asyncio.sleep(script.hang_s)
        headers = {"Content-Type": script.content_type}
        if script.gzip:
            headers["Content-Encoding"] = "gzip"
        response = web.StreamResponse(status=script.status, headers=headers)
        await response.prepare(request)
        compressor = zlib.compressobj(wbits=31) if script.gzip else None
        for pause, data in script.writes:
            if pause:
                await asyncio.sleep(pause)
            if compressor is not None:
                data = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
            await response.write(data)
        if script.abort:
            assert request.transport is not None
            request.transport.abort()
            return response
        if compressor is not None:
            await response.write(compressor.flush())
        await response.write_eof()
        return response


def openai_chunk(
    content: str | None = None,
    *,
    reasoning: str | None = None,
    finish: str | None = None,
    role: str | None = None,
) -> bytes:
    """One ``data:`` line of an OpenAI chat.completion.chunk, with its blank line."""
    import orjson

    delta: dict[str, object] = {}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def openai_usage(prompt: int, completion: int) -> bytes:
    """The final usage chunk: empty ``choices``, as OpenAI sends with ``include_usage``."""
    import orjson

    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


DONE = b"data: [DONE]\n\n"


def anthropic_event(kind: str, payload: dict[str, object]) -> bytes:
    """One Anthropic SSE event (``event:`` and ``data:`` lines)."""
    import orjson

    return (
        b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **payload}) + b"\n\n"
    )
