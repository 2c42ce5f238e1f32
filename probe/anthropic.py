"""The Anthropic Messages dialect: request shape, stream events, the probe function.

Events: ``message_start`` (input usage), ``content_block_delta`` with ``text_delta``,
``thinking_delta`` (reasoning) or ``input_json_delta`` (tool call), ``message_delta`` (stop reason,
output usage), ``message_stop``; ``ping`` keep-alives; ``error`` after HTTP 200 (e.g. overloaded).
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

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicDialect:
    """Builds ``POST {base_url}/v1/messages`` streaming requests and reads their events."""

    def build(
        self, endpoint: EndpointRef, shape: ProbeShape, api_key: str | None
    ) -> tuple[str, dict[str, str], bytes]:
        """(URL, headers, body) of one streaming message for ``shape``."""
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "anthropic-version": ANTHROPIC_VERSION,
        }
        if api_key:
            headers["x-api-key"] = api_key
        body = {
            "model": endpoint.spec.upstream_model,
            "max_tokens": shape.max_tokens,
            "messages": [{"role": "user", "content": shape.prompt_text()}],
            "temperature": 0,
            "stream": True,
        }
        return endpoint.provider.request_url(), headers, orjson.dumps(body)

    def on_event(self, event: SSEEvent, state: StreamState) -> Content:
        """Update ``state`` from one event; say whether it carried generated content."""
        try:
            payload: Any = orjson.loads(event.data) if event.data else {}
        except orjson.JSONDecodeError:
            if event.event == "error":
                raise StreamErrorEvent("error event") from None
            raise MalformedEvent("event data is not JSON") from None
        if not isinstance(payload, dict):
            raise MalformedEvent("event data is not a JSON object")
        kind = payload.get("type") or event.event
        if kind == "error" or event.event == "error":
            raise StreamErrorEvent("error event")
        if kind == "content_block_delta":
            delta = payload.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta" and delta.get("text"):
                return Content.ANSWER
            if dtype == "input_json_delta" and delta.get("partial_json"):
                return Content.ANSWER
            if dtype == "thinking_delta" and delta.get("thinking"):
                return Content.REASONING
            return Content.NONE
        if kind == "message_start":
            usage = (payload.get("message") or {}).get("usage") or {}
            self._usage(usage, state)
        elif kind == "message_delta":
            if (payload.get("delta") or {}).get("stop_reason"):
                state.finished = True
            self._usage(payload.get("usage") or {}, state)
        elif kind == "message_stop":
            state.done = True
        return Content.NONE

    @staticmethod
    def _usage(usage: dict[str, Any], state: StreamState) -> None:
        if isinstance(usage.get("input_tokens"), int):
            state.input_tokens = usage["input_tokens"]
        if isinstance(usage.get("output_tokens"), int):
            state.output_tokens = usage["output_tokens"]


DIALECT = AnthropicDialect()


async def probe(
    client: httpx.AsyncClient,
    target: Target,
    *,
    timeouts: Timeouts,
    lag: LagWindow | None = None,
) -> Observation:
    """Probe one Anthropic-dialect endpoint x shape with a streaming message."""
    return await run(client, target, DIALECT, timeouts=timeouts, lag=lag)
