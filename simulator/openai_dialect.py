"""The OpenAI chat-completions dialect: request validation, SSE chunks, completions and errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from signalbox.protocols.openai import PROTOCOL as OPENAI
from signalbox.simulator.ask import openai_ask
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
    400: ("invalid_request_error", "invalid_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_exceeded", "rate_limit_exceeded"),
    500: ("server_error", "internal_error"),
    503: ("server_error", "service_unavailable"),
}
# A refusal ends as a normal stop; the refusal itself rides in the ``refusal`` field.
_FINISH = {"refusal": "stop"}


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class OpenAIDialect:
    """``POST /v1/chat/completions`` as OpenAI speaks it."""

    name = OPENAI.name
    content_type = "text/event-stream"
    id_prefix = "chatcmpl-"
    routes = (Route("/v1/chat/completions"),)
    models_path = "/v1/models"

    def parse(
        self, body: bytes, model: str | None = None, stream: bool | None = None
    ) -> GenRequest:
        """Validate the JSON body; raise :class:`BadRequest` naming the field."""
        data = json_object(body, "We could not parse the JSON body of your request.")
        model = data.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("model: you must provide a model parameter", "model")
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages: must be a non-empty array", "messages")
        chars = 0
        for i, message in enumerate(messages):
            where = f"messages[{i}]"
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise BadRequest(f"{where}: must be an object with a 'role'", where)
            chars += content_chars(message.get("content"), f"{where}.content")
        max_tokens = check_max_tokens(data.get("max_tokens"), "max_tokens", required=False)
        if "max_completion_tokens" in data:
            max_tokens = check_max_tokens(
                data["max_completion_tokens"], "max_completion_tokens", required=False
            )
        stream = data.get("stream", False)
        if stream is None:
            stream = False
        if not isinstance(stream, bool):
            raise BadRequest("stream: Input should be a valid boolean", "stream")
        options = data.get("stream_options")
        if options is not None and not isinstance(options, dict):
            raise BadRequest("stream_options: must be an object", "stream_options")
        include_usage = bool(options and options.get("include_usage"))
        return GenRequest(model, stream, max_tokens, include_usage, chars, openai_ask(data, chars))

    def auth_ok(self, headers: Any, query: Any, key: str) -> bool:
        """``Authorization: Bearer <key>``."""
        return headers.get("Authorization", "") == f"Bearer {key}"

    def auth_refusal(self, provider: str) -> tuple[int, dict[str, Any]]:
        """401."""
        return 401, self.error_body(401, f"Invalid or missing API key for provider '{provider}'.")

    def models_list(self, provider: str, upstream_ids: list[str]) -> dict[str, Any]:
        """``GET /v1/models``."""
        return {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": provider}
                for m in upstream_ids
            ],
        }

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        """``{"error": {"message", "type", "param", "code"}}``."""
        kind, code = _ERROR_TYPES.get(status, ("server_error", "error"))
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def _chunk(self, reply: Reply, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": reply.id,
            "object": "chat.completion.chunk",
            "created": reply.created,
            "model": reply.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def _usage(self, reply: Reply, output_tokens: int) -> dict[str, int]:
        return {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": reply.input_tokens + output_tokens,
        }

    def stream_head(self, reply: Reply) -> bytes:
        """The role-only first chunk."""
        return _sse(self._chunk(reply, {"role": "assistant", "content": ""}, None))

    def stream_content(self, reply: Reply, text: str) -> bytes:
        """One content delta."""
        return _sse(self._chunk(reply, {"content": text}, None))

    def stream_refusal(self, reply: Reply, text: str) -> bytes:
        """One refusal delta."""
        return _sse(self._chunk(reply, {"refusal": text}, None))

    def stream_tool_call(self, reply: Reply, call: ToolCall, piece: str, first: bool) -> bytes:
        """A ``tool_calls`` delta: the first names the call, the others add to its arguments."""
        entry: dict[str, Any] = {"index": 0, "function": {"arguments": piece}}
        if first:
            entry = {
                "index": 0,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": piece},
            }
        return _sse(self._chunk(reply, {"tool_calls": [entry]}, None))

    def stream_tail(
        self, reply: Reply, finish_reason: str, output_tokens: int, call: ToolCall | None = None
    ) -> bytes:
        """The finish chunk, the usage chunk when asked, then ``[DONE]``."""
        out = _sse(self._chunk(reply, {}, _FINISH.get(finish_reason, finish_reason)))
        if reply.include_usage:
            usage = self._chunk(reply, {}, None)
            usage["choices"] = []
            usage["usage"] = self._usage(reply, output_tokens)
            out += _sse(usage)
        return out + b"data: [DONE]\n\n"

    def stream_error(self, reply: Reply) -> bytes:
        """An error event after HTTP 200, as OpenAI sends when generation fails mid-way."""
        body = self.error_body(500, "The server had an error while processing your request.")
        return _sse(body)

    def malformed(self, reply: Reply) -> bytes:
        """A data line that is not JSON."""
        return b'data: {"id": "' + reply.id.encode() + b'", "choices": [{"delta": \n\n'

    def completion(
        self,
        reply: Reply,
        text: str,
        finish_reason: str,
        output_tokens: int,
        call: ToolCall | None = None,
    ) -> dict[str, Any]:
        """A full non-streaming chat completion."""
        refused = finish_reason == "refusal"
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if refused or call else text,
            "refusal": text if refused else None,
        }
        if call is not None:
            function = {"name": call.name, "arguments": call.arguments}
            message["tool_calls"] = [{"id": call.id, "type": "function", "function": function}]
        return {
            "id": reply.id,
            "object": "chat.completion",
            "created": reply.created,
            "model": reply.model,
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": _FINISH.get(finish_reason, finish_reason),
                }
            ],
            "usage": self._usage(reply, output_tokens),
        }
