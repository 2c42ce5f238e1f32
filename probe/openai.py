"""The OpenAI-compatible chat-completions dialect: request shape, stream events, the probe function.

Quirks handled: usage arrives in a final chunk whose ``choices`` is empty (when
``stream_options.include_usage`` is honoured; providers that ignore it give none, and tokens are
then counted); reasoning arrives as ``reasoning_content`` (DeepSeek, vLLM) or ``reasoning``
(OpenRouter); an error can arrive as ``data: {"error": ...}`` or as ``event: error`` after HTTP 200.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from signalbox.catalog import EndpointRef, ProbeShape
from signalbox.probe.classify import MalformedEvent, StreamErrorEvent
from signalbox.probe.loop_lag import LagWindow
from signalbox.probe.runner import Content, StreamState, Target, Timeouts, run
from signalbox.probe.sse import SSEEvent
from signalbox.records import Observation


class OpenAIDialect:
    """Builds ``POST {base_url}/chat/completions`` streaming requests and reads their chunks."""

    def build(
        self, endpoint: EndpointRef, shape: ProbeShape, api_key: str | None
    ) -> tuple[str, dict[str, str], bytes]:
        """(URL, headers, body) of one streaming chat completion for ``shape``."""
        headers = {"content-type": "application/json", "accept": "text/event-stream"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        body = {
            "model": endpoint.spec.upstream_model,
            "messages": [{"role": "user", "content": shape.prompt_text()}],
            "max_tokens": shape.max_tokens,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        return endpoint.provider.request_url(), headers, orjson.dumps(body)

    def on_event(self, event: SSEEvent, state: StreamState) -> Content:
        """Update ``state`` from one chunk; say whether it carried generated content."""
        data = event.data.strip()
        if data == "[DONE]":
            state.done = True
            return Content.NONE
        if not data:  # an empty keep-alive event
            return Content.NONE
        try:
            chunk: Any = orjson.loads(data)
        except orjson.JSONDecodeError:
            if event.event == "error":
                raise StreamErrorEvent("error event") from None
            raise MalformedEvent("chunk is not JSON") from None
        if not isinstance(chunk, dict):
            raise MalformedEvent("chunk is not a JSON object")
        if event.event == "error" or chunk.get("error") is not None:
            raise StreamErrorEvent("error event")
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            if isinstance(usage.get("prompt_tokens"), int):
                state.input_tokens = usage["prompt_tokens"]
            if isinstance(usage.get("completion_tokens"), int):
                state.output_tokens = usage["completion_tokens"]
        kind = Content.NONE
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise MalformedEvent("choices is not a list")
        for choice in choices:
            if not isinstance(choice, dict):
                raise MalformedEvent("choice is not an object")
            if choice.get("finish_reason"):
                state.finished = True
            delta = choice.get("delta") or {}
            if delta.get("content") or delta.get("tool_calls"):
                kind = Content.ANSWER
            elif kind is Content.NONE and (
                delta.get("reasoning_content") or delta.get("reasoning")
            ):
                kind = Content.REASONING
        return kind


DIALECT = OpenAIDialect()


async def probe(
    client: httpx.AsyncClient,
    target: Target,
    *,
    timeouts: Timeouts,
    lag: LagWindow | None = None,
) -> Observation:
    """Probe one OpenAI-compatible endpoint x shape with a streaming chat completion."""
    return await run(client, target, DIALECT, timeouts=timeouts, lag=lag)
