"""Google's Gemini API dialect: ``/v1beta/models/{model}:streamGenerateContent`` (server-sent events,
as ``?alt=sse`` asks) and ``:generateContent`` (and the same under ``/v1``), request validation,
response chunks and errors.

Every event is a whole ``GenerateContentResponse`` (``data: {...}`` and a CRLF blank line, as
Google sends them; no event names, no comments, which the ``google-genai`` SDK would not parse);
``usageMetadata`` rides on every chunk and is complete on the last, which carries the
``finishReason``. Errors are ``{"error": {"code", "message", "status"}}``, in the stream too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from signalbox.protocols.gemini import API_KEY_INVALID, FINISH_REASONS
from signalbox.protocols.gemini import PROTOCOL as GEMINI
from signalbox.protocols.gemini import error_body as gemini_error_body
from signalbox.simulator.ask import gemini_ask
from signalbox.simulator.dialect import (
    BadRequest,
    GenRequest,
    Reply,
    Route,
    check_max_tokens,
    json_object,
)

if TYPE_CHECKING:  # answer imports the scenario, which imports the dialects
    from signalbox.simulator.answer import ToolCall

# OpenAI finish_reason -> Gemini finishReason (the protocol's map, read backwards)
_FINISH = {o: native for native, o in FINISH_REASONS.items() if o in ("stop", "length")}
# A blocked answer has no content and ``SAFETY``; a function call ends with ``STOP``.
_FINISH |= {"refusal": "SAFETY", "tool_calls": "STOP"}


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\r\n\r\n"


def _parts_chars(parts: Any, where: str) -> int:
    """Characters of the text parts of a ``parts`` list (validated: a non-empty list of objects)."""
    if not isinstance(parts, list) or not parts:
        raise BadRequest(f"{where}: must be a non-empty list of parts", where)
    chars = 0
    for j, part in enumerate(parts):
        if not isinstance(part, dict) or not part:
            raise BadRequest(f"{where}[{j}]: must be a Part object", where)
        text = part.get("text")
        if text is not None and not isinstance(text, str):
            raise BadRequest(f"{where}[{j}].text: must be a string", where)
        chars += len(text or "")
    return chars


class GeminiDialect:
    """``POST /v1beta/models/{model}:streamGenerateContent`` and ``:generateContent``."""

    name = GEMINI.name
    content_type = "text/event-stream"
    id_prefix = "resp-"
    # Google serves both API versions; the google-genai SDK asks for v1 since its 2.x releases
    # (v1beta before), and Signalbox's protocol for v1beta.
    routes = tuple(
        Route(f"/{version}/models/{{model}}:{method}", stream=stream)
        for version in ("v1beta", "v1")
        for method, stream in (("streamGenerateContent", True), ("generateContent", False))
    )
    models_path = "/v1beta/models"

    def parse(
        self, body: bytes, model: str | None = None, stream: bool | None = None
    ) -> GenRequest:
        """Validate a ``GenerateContentRequest``; raise :class:`BadRequest` naming the field."""
        data = json_object(body, "Invalid JSON payload received.")
        contents = data.get("contents")
        if not isinstance(contents, list) or not contents:
            raise BadRequest("contents: must be a non-empty list", "contents")
        chars = 0
        for i, content in enumerate(contents):
            where = f"contents[{i}]"
            if not isinstance(content, dict):
                raise BadRequest(f"{where}: must be a Content object", where)
            if content.get("role") not in (None, "user", "model"):
                raise BadRequest(f"{where}.role: must be 'user' or 'model'", where)
            chars += _parts_chars(content.get("parts"), f"{where}.parts")
        system = data.get("systemInstruction")
        if system is not None:
            if not isinstance(system, dict):
                raise BadRequest("systemInstruction: must be a Content object", "systemInstruction")
            chars += _parts_chars(system.get("parts"), "systemInstruction.parts")
        config = data.get("generationConfig") or {}
        if not isinstance(config, dict):
            raise BadRequest("generationConfig: must be an object", "generationConfig")
        max_tokens = check_max_tokens(
            config.get("maxOutputTokens"), "generationConfig.maxOutputTokens", required=False
        )
        return GenRequest(
            model or "", bool(stream), max_tokens, True, chars, gemini_ask(data, chars)
        )

    def auth_ok(self, headers: Any, query: Any, key: str) -> bool:
        """``x-goog-api-key: <key>``, or ``?key=<key>`` (which the REST docs also show)."""
        return headers.get("x-goog-api-key", "") == key or query.get("key", "") == key

    def auth_refusal(self, provider: str) -> tuple[int, dict[str, Any]]:
        """400 INVALID_ARGUMENT with the ``API_KEY_INVALID`` reason, as Google answers a bad key."""
        body = self.error_body(400, "API key not valid. Please pass a valid API key.")
        body["error"]["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": API_KEY_INVALID,
                "domain": "googleapis.com",
            }
        ]
        return 400, body

    def models_list(self, provider: str, upstream_ids: list[str]) -> dict[str, Any]:
        """``GET /v1beta/models``."""
        methods = ["generateContent", "streamGenerateContent"]
        return {
            "models": [
                {"name": f"models/{m}", "displayName": m, "supportedGenerationMethods": methods}
                for m in upstream_ids
            ]
        }

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        """``{"error": {"code", "message", "status"}}``."""
        return gemini_error_body(status, message)

    def _response(
        self,
        reply: Reply,
        text: str,
        finish_reason: str | None = None,
        output_tokens: int | None = None,
        call: ToolCall | None = None,
    ) -> dict[str, Any]:
        part: dict[str, Any] = {"text": text}
        if call is not None:
            part = {"functionCall": {"name": call.name, "args": call.args}}
        candidate: dict[str, Any] = {"content": {"parts": [part], "role": "model"}}
        if finish_reason == "refusal":
            candidate = {}  # a blocked candidate carries no content
        if finish_reason is not None:
            candidate["finishReason"] = _FINISH.get(finish_reason, "STOP")
        candidate["index"] = 0
        usage: dict[str, Any] = {"promptTokenCount": reply.input_tokens}
        if output_tokens is not None:
            usage["candidatesTokenCount"] = output_tokens
        usage["totalTokenCount"] = reply.input_tokens + (output_tokens or 0)
        return {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": reply.model,
            "responseId": reply.id,
        }

    def stream_head(self, reply: Reply) -> bytes:
        """Nothing: Gemini's first event already carries the first content."""
        return b""

    def stream_content(self, reply: Reply, text: str) -> bytes:
        """One response chunk with a text part."""
        return _sse(self._response(reply, text))

    def stream_refusal(self, reply: Reply, text: str) -> bytes:
        """Nothing: a blocked answer has no content, only the ``SAFETY`` finish."""
        return b""

    def stream_tool_call(self, reply: Reply, call: ToolCall, piece: str, first: bool) -> bytes:
        """The whole ``functionCall`` in the first chunk (Gemini streams calls whole, with
        ``args`` an object); nothing after."""
        return _sse(self._response(reply, "", call=call)) if first else b""

    def stream_tail(
        self, reply: Reply, finish_reason: str, output_tokens: int, call: ToolCall | None = None
    ) -> bytes:
        """The last chunk: an empty text part, the ``finishReason`` and the whole usage."""
        return _sse(self._response(reply, "", finish_reason, output_tokens))

    def stream_error(self, reply: Reply) -> bytes:
        """An error object after HTTP 200, as Gemini sends when generation fails mid-way."""
        return _sse(self.error_body(500, "An internal error has occurred."))

    def malformed(self, reply: Reply) -> bytes:
        """A data line that is not JSON."""
        return b'data: {"candidates": [{"content": {"parts": [{"text": \r\n\r\n'

    def completion(
        self,
        reply: Reply,
        text: str,
        finish_reason: str,
        output_tokens: int,
        call: ToolCall | None = None,
    ) -> dict[str, Any]:
        """A whole ``GenerateContentResponse``."""
        return self._response(reply, text, finish_reason, output_tokens, call)
