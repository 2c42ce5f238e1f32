"""Anthropic Messages behind the OpenAI front (pure): translate the request, and translate the
event stream into OpenAI ``chat.completion.chunk`` events."""

from __future__ import annotations

import time
from typing import Any

import orjson

from router.sse import parse_json

DEFAULT_MAX_TOKENS = 4096
_STOP = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


class TranslationError(ValueError):
    """The OpenAI request cannot be expressed for an Anthropic endpoint."""


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def translate_request(body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
    """An Anthropic Messages request (streaming) equivalent to an OpenAI chat request."""
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for m in body.get("messages") or []:
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(_text(m.get("content")))
        elif role in ("user", "assistant"):
            text = _text(m.get("content"))
            if messages and messages[-1]["role"] == role:  # Anthropic wants alternating turns
                messages[-1]["content"] += "\n" + text
            else:
                messages.append({"role": role, "content": text})
        else:
            raise TranslationError(
                f"message role '{role}' is not supported for Anthropic endpoints"
            )
    if body.get("tools"):
        raise TranslationError("tools are not translated for Anthropic endpoints yet")
    out: dict[str, Any] = {
        "model": upstream_model,
        "messages": messages,
        "max_tokens": body.get("max_completion_tokens")
        or body.get("max_tokens")
        or DEFAULT_MAX_TOKENS,
        "stream": True,
    }
    if system:
        out["system"] = "\n".join(system)
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    return out


class StreamTranslator:
    """Anthropic SSE events in, OpenAI chunk events out; tracks usage and the end."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self.model = model
        self.include_usage = include_usage
        self.id = "chatcmpl-sbx"
        self.created = int(time.time())
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.finished = False  # message_stop seen
        self.error: str | None = None

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(body) + b"\n\n"

    def translate(self, name: bytes | None, data: bytes | None) -> tuple[bytes, bool]:
        """OpenAI event bytes for one Anthropic event, and whether they carry content."""
        if data is None:
            return b"", False
        event = parse_json(data)
        if not isinstance(event, dict):
            self.error = "malformed event"
            return b"", False
        kind = event.get("type") or (name.decode() if name else "")
        if kind == "message_start":
            message = event.get("message") or {}
            self.id = "chatcmpl-" + str(message.get("id", "sbx"))
            usage = message.get("usage") or {}
            self.input_tokens = usage.get("input_tokens")
            return self._chunk({"role": "assistant", "content": ""}), False
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                return self._chunk({"content": delta["text"]}), True
            if delta.get("type") == "thinking_delta" and delta.get("thinking"):
                return self._chunk({"reasoning_content": delta["thinking"]}), True
            return b"", False
        if kind == "message_delta":
            usage = event.get("usage") or {}
            if usage.get("output_tokens") is not None:
                self.output_tokens = usage["output_tokens"]
            stop = (event.get("delta") or {}).get("stop_reason")
            return (self._chunk({}, _STOP.get(stop, "stop")) if stop else b""), False
        if kind == "message_stop":
            self.finished = True
            out = b""
            if self.include_usage:
                usage = {
                    "prompt_tokens": self.input_tokens or 0,
                    "completion_tokens": self.output_tokens or 0,
                    "total_tokens": (self.input_tokens or 0) + (self.output_tokens or 0),
                }
                body = {
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": usage,
                }
                out = b"data: " + orjson.dumps(body) + b"\n\n"
            return out + b"data: [DONE]\n\n", False
        if kind == "error":
            err = event.get("error") or {}
            self.error = str(err.get("message") or err.get("type") or "error event")
        return b"", False
