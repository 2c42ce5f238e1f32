"""Anthropic Messages: ``POST {base_url}/v1/messages`` (``base_url`` without a version), the key in
``x-api-key``, the version in ``anthropic-version``.

Behind the OpenAI front (pure): the request is translated, and the event stream becomes OpenAI
``chat.completion.chunk`` events. Function tools go both ways: OpenAI ``tools``/``tool_calls``/
``tool`` messages become Anthropic ``tools``/``tool_use``/``tool_result`` blocks, and streamed
``tool_use`` blocks come back as OpenAI ``delta.tool_calls``.

Events: ``message_start`` (input usage), ``content_block_start`` (a ``tool_use`` block starts a tool
call), ``content_block_delta`` with ``text_delta``, ``thinking_delta`` (reasoning) or
``input_json_delta`` (tool arguments), ``message_delta`` (stop reason, output usage),
``message_stop``; ``ping`` keep-alives; ``error`` after HTTP 200 (e.g. ``overloaded_error``).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from signalbox.protocols.chat import (
    ChunkWriter,
    arguments_of,
    chosen_function,
    function_of,
    function_tools,
    json_format,
    max_tokens_of,
    refuse_legacy_functions,
    stop_sequences,
    text_of,
)
from signalbox.protocols.openai import error_message
from signalbox.protocols.sse import event_data, event_name
from signalbox.protocols.wire import (
    ChunkSink,
    Content,
    MalformedEvent,
    StreamErrorEvent,
    TranslationError,
)

VERSION = "2023-06-01"  # the anthropic-version header every request carries
LABEL = "Anthropic"
DEFAULT_MAX_TOKENS = 4096
# Anthropic stop_reason -> OpenAI finish_reason
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def translate_request(body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
    """An Anthropic Messages request (streaming) equivalent to an OpenAI chat request.

    Raises :class:`TranslationError` naming the field when the request cannot be expressed."""
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for i, m in enumerate(body.get("messages") or []):
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(text_of(m.get("content")))
        elif role == "user":
            _append(messages, "user", text_of(m.get("content")))
        elif role == "assistant":
            text = text_of(m.get("content"))
            calls = m.get("tool_calls")
            if calls:
                if not isinstance(calls, list):
                    raise TranslationError(f"messages[{i}].tool_calls: must be a list")
                uses = [_tool_use(c, f"messages[{i}].tool_calls[{j}]") for j, c in enumerate(calls)]
                _append(messages, "assistant", _blocks(text) + uses)
            else:
                _append(messages, "assistant", text)
        elif role == "tool":
            # Anthropic carries tool results in a user turn; consecutive ones merge in _append.
            _append(messages, "user", [_tool_result(m, f"messages[{i}]")])
        else:
            raise TranslationError(
                f"message role '{role}' is not supported for Anthropic endpoints"
            )
    refuse_legacy_functions(body, LABEL)
    if not messages:
        raise TranslationError(
            "messages: an Anthropic endpoint needs at least one user or assistant turn besides "
            "the system prompt"
        )
    out: dict[str, Any] = {
        "model": upstream_model,
        "messages": messages,
        "max_tokens": max_tokens_of(body) or DEFAULT_MAX_TOKENS,
        "stream": True,
    }
    if system:
        out["system"] = "\n".join(system)
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = stop_sequences(body)
    if stop:
        out["stop_sequences"] = stop
    tools = translate_tools(body.get("tools"))
    choice = translate_tool_choice(
        body.get("tool_choice"), body.get("parallel_tool_calls"), {t["name"] for t in tools}
    )
    if tools:
        out["tools"] = tools
    if choice is not None:
        out["tool_choice"] = choice
    wants_json, schema = json_format(body.get("response_format"), LABEL)
    if wants_json:
        # Anthropic's structured outputs take a schema only: plain JSON mode is "any object".
        out["output_config"] = {
            "format": {"type": "json_schema", "schema": schema or {"type": "object"}}
        }
    return out


def _blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Content as Anthropic blocks (Anthropic rejects empty text blocks, so none is made)."""
    if isinstance(content, list):
        return content
    return [{"type": "text", "text": content}] if content else []


def _append(messages: list[dict[str, Any]], role: str, content: str | list[dict[str, Any]]) -> None:
    """Add a turn, merging it into the previous one of the same role: Anthropic wants turns to
    alternate. Plain text stays a string; anything with blocks becomes a block list."""
    if messages and messages[-1]["role"] == role:
        previous = messages[-1]["content"]
        if isinstance(previous, str) and isinstance(content, str):
            messages[-1]["content"] = previous + "\n" + content
        else:
            messages[-1]["content"] = _blocks(previous) + _blocks(content)
    else:
        messages.append({"role": role, "content": content})


_TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_NOT_TOOL_ID = re.compile(r"[^a-zA-Z0-9_-]")
EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def _tool_id(value: Any, where: str) -> str:
    """An OpenAI tool-call id as Anthropic accepts it (``^[a-zA-Z0-9_-]+$``).

    Ids made by other providers (``functions.get_weather:0``) would be refused with a 400, so other
    characters become ``_`` plus a digest of the original: the same on the ``tool_use`` and the
    ``tool_result`` side, so the pair still matches, and distinct ids stay distinct."""
    if not isinstance(value, str) or not value:
        raise TranslationError(f"{where}: required, a non-empty string")
    if _TOOL_ID.match(value):
        return value
    digest = hashlib.blake2b(value.encode(), digest_size=4).hexdigest()
    return _NOT_TOOL_ID.sub("_", value) + "_" + digest


def _tool_use(call: Any, where: str) -> dict[str, Any]:
    """One OpenAI ``tool_calls`` entry as an Anthropic ``tool_use`` block."""
    fn, name = function_of(
        call, where, "tool calls", "name and arguments", LABEL, default_type="function"
    )
    return {
        "type": "tool_use",
        "id": _tool_id(call.get("id"), f"{where}.id"),
        "name": name,
        "input": arguments_of(fn.get("arguments"), f"{where}.function.arguments", LABEL),
    }


def _tool_result(message: dict[str, Any], where: str) -> dict[str, Any]:
    """A ``tool`` message as an Anthropic ``tool_result`` block."""
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": _tool_id(message.get("tool_call_id"), f"{where}.tool_call_id"),
    }
    text = text_of(message.get("content"))
    if text:  # Anthropic's content is optional; an empty text block would be refused
        block["content"] = text
    return block


def translate_tools(tools: Any) -> list[dict[str, Any]]:
    """OpenAI ``tools`` (function tools) as Anthropic ``tools``; ``[]`` when there are none."""
    out = []
    for name, description, schema in function_tools(tools, LABEL):
        entry: dict[str, Any] = {"name": name}
        if description:
            entry["description"] = description
        # OpenAI lets a function omit its parameters; Anthropic requires an object schema.
        entry["input_schema"] = schema or EMPTY_SCHEMA
        out.append(entry)
    return out


def translate_tool_choice(
    choice: Any, parallel_tool_calls: Any, tool_names: set[str]
) -> dict[str, Any] | None:
    """OpenAI ``tool_choice`` and ``parallel_tool_calls`` as Anthropic ``tool_choice``.

    ``"none"`` becomes ``{"type": "none"}`` rather than dropping the tools: Anthropic refuses a
    request whose history holds ``tool_use`` blocks unless tools are defined. ``None`` means
    Anthropic's default (auto, parallel allowed)."""
    if not tool_names:
        if choice in (None, "none", "auto"):
            return None  # nothing to choose from; OpenAI's default for a request without tools
        raise TranslationError(f"tool_choice: {choice!r} needs 'tools' to choose from")
    if choice is None:  # the app said nothing: Anthropic's default unless parallel is off
        return (
            {"type": "auto", "disable_parallel_tool_use": True}
            if parallel_tool_calls is False
            else None
        )
    if choice == "none":
        return {"type": "none"}  # takes no disable_parallel_tool_use: no tool is used at all
    name = chosen_function(choice, tool_names, LABEL)
    out: dict[str, Any]
    if name is not None:
        out = {"type": "tool", "name": name}
    else:
        out = {"type": "any"} if choice == "required" else {"type": "auto"}
    if parallel_tool_calls is False:
        out["disable_parallel_tool_use"] = True
    return out


class AnthropicReader:
    """One Anthropic event stream: usage and the end tracked, events translated to OpenAI chunks.

    A ``tool_use`` block becomes one OpenAI tool call: its start carries the id and name, each
    ``input_json_delta`` a piece of the arguments. OpenAI numbers tool calls from 0 within the
    response; Anthropic numbers content blocks (text included), so ``tool_index`` maps one to the
    other."""

    __slots__ = (
        "done",
        "finish_reason",
        "finished",
        "input_tokens",
        "out",
        "output_tokens",
        "tool_index",
    )

    def __init__(self, out: ChunkWriter) -> None:
        self.out = out
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.finished = False  # a stop reason was seen
        self.finish_reason: str | None = None  # as OpenAI's
        self.done = False  # message_stop seen
        self.tool_index: dict[Any, int] = {}  # Anthropic block index -> OpenAI tool-call index

    def read(self, raw: bytes) -> tuple[Content, bytes]:
        """Fold one event; return its content kind and the OpenAI events it becomes."""
        data = event_data(raw)
        if data is None:
            return Content.NONE, b""
        name = event_name(raw)
        try:
            event: Any = orjson.loads(data) if data.strip() else {}
        except orjson.JSONDecodeError:
            if name == b"error":
                raise StreamErrorEvent("error event") from None
            raise MalformedEvent("malformed event: data is not JSON") from None
        if not isinstance(event, dict):
            raise MalformedEvent("malformed event: data is not a JSON object")
        kind = event.get("type") or (name.decode("utf-8", "replace") if name else "")
        if kind == "error" or name == b"error":
            err = event.get("error")
            message = err.get("message") or err.get("type") if isinstance(err, dict) else None
            raise StreamErrorEvent(str(message or "error event")[:300])
        out = self.out
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta" and delta.get("text"):
                return Content.ANSWER, out.delta({"content": delta["text"]})
            if dtype == "thinking_delta" and delta.get("thinking"):
                return Content.REASONING, out.delta({"reasoning_content": delta["thinking"]})
            if dtype == "input_json_delta" and delta.get("partial_json"):
                index = self.tool_index.get(event.get("index"))
                if index is None:
                    raise MalformedEvent("malformed event: arguments of a tool call never started")
                call = {"index": index, "function": {"arguments": delta["partial_json"]}}
                return Content.ANSWER, out.delta({"tool_calls": [call]})
            return Content.NONE, b""
        if kind == "message_start":
            message = event.get("message") or {}
            out.id = "chatcmpl-" + str(message.get("id", "sbx"))
            self._usage(message.get("usage"))
            return Content.NONE, out.delta({"role": "assistant", "content": ""})
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") != "tool_use":
                return Content.NONE, b""  # text and thinking blocks start empty: deltas carry them
            index = self.tool_index[event.get("index")] = len(self.tool_index)
            call = {
                "index": index,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name") or "", "arguments": ""},
            }
            # The start of a tool call is the first generated output: it counts as content, so
            # TTFT is measured and a tools-only answer is not taken for an empty one.
            return Content.ANSWER, out.delta({"tool_calls": [call]})
        if kind == "message_delta":
            self._usage(event.get("usage"))
            stop = (event.get("delta") or {}).get("stop_reason")
            if not stop:
                return Content.NONE, b""
            self.finished = True
            self.finish_reason = STOP_REASONS.get(stop, "stop")
            return Content.NONE, out.delta({}, self.finish_reason)
        if kind == "message_stop":
            self.done = True
            return Content.NONE, out.end(self.input_tokens, self.output_tokens)
        return Content.NONE, b""

    def _usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        if isinstance(usage.get("input_tokens"), int):
            self.input_tokens = usage["input_tokens"]
        if isinstance(usage.get("output_tokens"), int):
            self.output_tokens = usage["output_tokens"]


class AnthropicProtocol:
    """The Anthropic Messages wire format."""

    name = "anthropic"
    base_path = ""

    def url(self, base_url: str, upstream_model: str, *, stream: bool) -> str:
        """``{base_url}/v1/messages``, streamed or not (the body says which)."""
        return f"{base_url}/v1/messages"

    def headers(self, api_key: str | None) -> dict[str, str]:
        """JSON in, SSE out, the version, ``x-api-key``."""
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "anthropic-version": VERSION,
        }
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def probe_request(self, upstream_model: str, prompt: str, max_tokens: int) -> dict[str, Any]:
        """One streaming message."""
        return {
            "model": upstream_model,
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "stream": True,
        }

    def request(self, body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
        """:func:`translate_request`."""
        return translate_request(body, upstream_model)

    def reader(
        self, model: str, *, include_usage: bool, relay: bool = True, sink: ChunkSink | None = None
    ) -> AnthropicReader:
        """A reader translating to OpenAI chunks named ``model``."""
        return AnthropicReader(ChunkWriter(model, include_usage, relay, sink))

    def error_message(self, body: bytes) -> str | None:
        """``{"type": "error", "error": {"type", "message"}}``."""
        return error_message(body)

    def provider_refusal(self, status: int, body: bytes) -> bool:
        """Never: a bad key is a 401, which no one takes for the app's fault."""
        return False


PROTOCOL = AnthropicProtocol()
