"""OpenAI chat completions: ``POST {base_url}/chat/completions`` (``base_url`` includes ``/v1``).

The router's native shape: a request passes through with the upstream model set and usage asked
for, and each event is relayed byte for byte. Every event is parsed (orjson; measured cheaper than
the byte tests it replaced) so a chunk that is not JSON is never relayed: it is a malformed event.

Quirks handled: usage arrives in a final chunk whose ``choices`` is empty (when
``stream_options.include_usage`` is honoured; providers that ignore it give none, and tokens are
then counted); reasoning arrives as ``reasoning_content`` (DeepSeek, vLLM) or ``reasoning``
(OpenRouter); an error can arrive as ``data: {"error": ...}`` or as ``event: error`` after HTTP 200;
empty ``data:`` keep-alives are neither content nor relayed.
"""

from __future__ import annotations

from typing import Any

import orjson

from signalbox.protocols.sse import event_data, event_name
from signalbox.protocols.wire import (
    ChunkSink,
    Content,
    MalformedEvent,
    StreamErrorEvent,
)

DONE = b"[DONE]"


def error_text(err: Any) -> str:
    """The message of an OpenAI ``error`` value (an object or a string)."""
    if isinstance(err, dict):
        return str(err.get("message") or err.get("type") or "error event")[:300]
    return str(err)[:300]


class OpenAIReader:
    """One OpenAI stream: usage, finish and ``[DONE]`` tracked; events relayed as they came."""

    __slots__ = (
        "done",
        "finish_reason",
        "finished",
        "include_usage",
        "input_tokens",
        "output_tokens",
        "sink",
    )

    def __init__(self, include_usage: bool, sink: ChunkSink | None) -> None:
        self.include_usage = include_usage
        self.sink = sink
        self.finished = False
        self.finish_reason: str | None = None
        self.done = False
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None

    def read(self, raw: bytes) -> tuple[Content, bytes]:
        """Fold one event; return its content kind and the bytes to relay."""
        data = event_data(raw)
        if data is None:
            return Content.NONE, raw  # comments (": ping"): keep-alives for the app too
        if data == DONE:
            self.done = True
            return Content.NONE, raw
        try:
            chunk: Any = orjson.loads(data)
        except orjson.JSONDecodeError:
            if event_name(raw) == b"error":
                raise StreamErrorEvent("error event") from None
            if not data.strip():
                return Content.NONE, b""  # an empty keep-alive event: SDKs would fail on it
            raise MalformedEvent("malformed event: data is not JSON") from None
        if not isinstance(chunk, dict):
            raise MalformedEvent("malformed event: data is not a JSON object")
        err = chunk.get("error")
        # Servers write the event line first: only an event that does not start with its data
        # can be named (an "event:" line after the data line is not looked for on this path).
        if err is not None or (raw[:5] != b"data:" and event_name(raw) == b"error"):
            raise StreamErrorEvent(error_text(err))
        kind = Content.NONE
        choices = chunk.get("choices")
        if choices:
            if not isinstance(choices, list):
                raise MalformedEvent("malformed event: choices is not a list")
            for choice in choices:
                if not isinstance(choice, dict):
                    raise MalformedEvent("malformed event: a choice is not an object")
                if choice.get("finish_reason"):
                    self.finished = True
                    self.finish_reason = str(choice["finish_reason"])
                delta = choice.get("delta")
                if not isinstance(delta, dict):
                    continue
                # a refusal (OpenAI's structured-output field) is the answer, not an empty one
                if delta.get("content") or delta.get("tool_calls") or delta.get("refusal"):
                    kind = Content.ANSWER
                elif kind is Content.NONE and (
                    delta.get("reasoning_content") or delta.get("reasoning")
                ):
                    kind = Content.REASONING
        if self.sink is not None:
            self.sink(chunk)
        usage = chunk.get("usage")
        if usage and isinstance(usage, dict):
            if isinstance(usage.get("prompt_tokens"), int):
                self.input_tokens = usage["prompt_tokens"]
            if isinstance(usage.get("completion_tokens"), int):
                self.output_tokens = usage["completion_tokens"]
            if not self.include_usage and not choices:
                return kind, b""  # the usage-only chunk the app did not ask for
        return kind, raw


class OpenAIProtocol:
    """The OpenAI chat-completions wire format."""

    name = "openai"
    base_path = "/v1"

    def url(self, base_url: str, upstream_model: str, *, stream: bool) -> str:
        """``{base_url}/chat/completions``, streamed or not (the body says which)."""
        return f"{base_url}/chat/completions"

    def headers(self, api_key: str | None) -> dict[str, str]:
        """JSON in, SSE out, ``Authorization: Bearer``."""
        headers = {"content-type": "application/json", "accept": "text/event-stream"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        return headers

    def probe_request(self, upstream_model: str, prompt: str, max_tokens: int) -> dict[str, Any]:
        """One streaming chat completion, usage asked for."""
        return {
            "model": upstream_model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }

    def request(self, body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
        """The app's request as it is, for the upstream model, streamed, usage asked for."""
        payload = {k: v for k, v in body.items() if k != "provider"}
        payload["model"] = upstream_model
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
        return payload

    def reader(
        self, model: str, *, include_usage: bool, relay: bool = True, sink: ChunkSink | None = None
    ) -> OpenAIReader:
        """A reader relaying events byte for byte (``model`` is the upstream's own)."""
        return OpenAIReader(include_usage, sink)

    def error_message(self, body: bytes) -> str | None:
        """``{"error": {"message": ...}}`` or ``{"error": "..."}``; else the text itself."""
        return error_message(body)

    def provider_refusal(self, status: int, body: bytes) -> bool:
        """Never: a bad key is a 401, which no one takes for the app's fault."""
        return False


def error_message(body: bytes) -> str | None:
    """The message of an error body in OpenAI's shape (which Anthropic's and Gemini's share:
    ``{"error": {"message": ...}}``), else the start of the body's text."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        err = parsed.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
        if isinstance(err, str):
            return err[:300]
    return body.decode("utf-8", "replace").strip()[:200] or None


PROTOCOL = OpenAIProtocol()
