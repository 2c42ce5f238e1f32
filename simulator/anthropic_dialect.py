"""The Anthropic messages dialect: request validation, ``event:`` SSE frames, messages and errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from signalbox.protocols.anthropic import PROTOCOL as ANTHROPIC
from signalbox.protocols.anthropic import STOP_REASONS
from signalbox.simulator.ask import anthropic_ask
from signalbox.simulator.dialect import (
    BadRequest,
    GenRequest,
    Reply,
    Route,
    check_max_tokens,
    content_chars,
    json_object,
)

if TYPE_CHECKING:  # answer imports the scenario, which imports the dialects
    from signalbox.simulator.answer import ToolCall

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
# OpenAI finish_reason -> Anthropic stop_reason (the protocol's map, read backwards)
_STOP = {openai: native for native, openai in STOP_REASONS.items() if native != "stop_sequence"}
_STOP["refusal"] = "refusal"


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


class AnthropicDialect:
    """``POST /v1/messages`` as Anthropic speaks it."""

    name = ANTHROPIC.name
    content_type = "text/event-stream"
    id_prefix = "msg_"
    routes = (Route("/v1/messages"),)
    models_path = "/v1/models"

    def parse(
        self, body: bytes, model: str | None = None, stream: bool | None = None
    ) -> GenRequest:
        """Validate the JSON body; raise :class:`BadRequest` naming the field."""
        data = json_object(body, "There was an issue with your request body: invalid JSON.")
        model = data.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("model: Field required", "model")
        max_tokens = check_max_tokens(data.get("max_tokens"), "max_tokens", required=True)
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages: must be a non-empty list", "messages")
        chars = 0
        for i, message in enumerate(messages):
            where = f"messages.{i}"
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
                raise BadRequest(f"{where}.role: must be 'user' or 'assistant'", where)
            if "content" not in message:
                raise BadRequest(f"{where}.content: Field required", where)
            chars += content_chars(message["content"], f"{where}.content")
        system = data.get("system")
        if system is not None:
            chars += content_chars(system, "system")
        stream = data.get("stream", False)
        if not isinstance(stream, bool):
            raise BadRequest("stream: Input should be a valid boolean", "stream")
        return GenRequest(model, stream, max_tokens, True, chars, anthropic_ask(data, chars))

    def auth_ok(self, headers: Any, query: Any, key: str) -> bool:
        """``x-api-key: <key>``; also ``Authorization: Bearer <key>``, which the ``anthropic`` SDK
        sends instead since its 2.x releases."""
        return (
            headers.get("x-api-key", "") == key
            or headers.get("Authorization", "") == f"Bearer {key}"
        )

    def auth_refusal(self, provider: str) -> tuple[int, dict[str, Any]]:
        """401."""
        return 401, self.error_body(401, f"Invalid or missing API key for provider '{provider}'.")

    def models_list(self, provider: str, upstream_ids: list[str]) -> dict[str, Any]:
        """``GET /v1/models`` as Anthropic answers it."""
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
            for m in upstream_ids
        ]
        return {
            "data": data,
            "has_more": False,
            "first_id": upstream_ids[0] if upstream_ids else None,
            "last_id": upstream_ids[-1] if upstream_ids else None,
        }

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        """``{"type": "error", "error": {"type", "message"}}``."""
        kind = _ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}

    def _usage(self, reply: Reply, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": reply.input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }

    def stream_head(self, reply: Reply) -> bytes:
        """``message_start``, ``content_block_start`` and a ``ping``."""
        message = {
            "id": reply.id,
            "type": "message",
            "role": "assistant",
            "model": reply.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**self._usage(reply, 1)},
        }
        return (
            _event("message_start", {"type": "message_start", "message": message})
            + _event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            + _event("ping", {"type": "ping"})
        )

    def stream_content(self, reply: Reply, text: str) -> bytes:
        """One ``content_block_delta``."""
        delta = {"type": "text_delta", "text": text}
        return _event(
            "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
        )

    def stream_refusal(self, reply: Reply, text: str) -> bytes:
        """Refusal text, as Claude writes it before ``stop_reason: "refusal"``."""
        return self.stream_content(reply, text)

    def stream_tool_call(self, reply: Reply, call: ToolCall, piece: str, first: bool) -> bytes:
        """An ``input_json_delta`` of a ``tool_use`` block at index 1; the first closes the text
        block the head opened and starts the ``tool_use`` one."""
        delta = {"type": "input_json_delta", "partial_json": piece}
        out = _event(
            "content_block_delta", {"type": "content_block_delta", "index": 1, "delta": delta}
        )
        if not first:
            return out
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        return (
            _event("content_block_stop", {"type": "content_block_stop", "index": 0})
            + _event(
                "content_block_start",
                {"type": "content_block_start", "index": 1, "content_block": block},
            )
            + out
        )

    def stream_tail(
        self, reply: Reply, finish_reason: str, output_tokens: int, call: ToolCall | None = None
    ) -> bytes:
        """``content_block_stop``, ``message_delta`` with usage, ``message_stop``."""
        delta = {"stop_reason": _STOP.get(finish_reason, "end_turn"), "stop_sequence": None}
        index = 1 if call is not None else 0
        return (
            _event("content_block_stop", {"type": "content_block_stop", "index": index})
            + _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": delta,
                    "usage": {"output_tokens": output_tokens},
                },
            )
            + _event("message_stop", {"type": "message_stop"})
        )

    def stream_error(self, reply: Reply) -> bytes:
        """An ``error`` event after HTTP 200 (Anthropic sends ``overloaded_error`` so)."""
        return _event("error", self.error_body(529, "Overloaded"))

    def malformed(self, reply: Reply) -> bytes:
        """A data line that is not JSON."""
        return b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": \n\n'

    def completion(
        self,
        reply: Reply,
        text: str,
        finish_reason: str,
        output_tokens: int,
        call: ToolCall | None = None,
    ) -> dict[str, Any]:
        """A full non-streaming message (a tool call's ``input`` is an object here)."""
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        if call is not None:
            content = [{"type": "tool_use", "id": call.id, "name": call.name, "input": call.args}]
        return {
            "id": reply.id,
            "type": "message",
            "role": "assistant",
            "model": reply.model,
            "content": content,
            "stop_reason": _STOP.get(finish_reason, "end_turn"),
            "stop_sequence": None,
            "usage": self._usage(reply, output_tokens),
        }
