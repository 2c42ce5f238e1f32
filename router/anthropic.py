"""Anthropic Messages behind the OpenAI front (pure): translate the request, and translate the
event stream into OpenAI ``chat.completion.chunk`` events. Function tools go both ways: OpenAI
``tools``/``tool_calls``/``tool`` messages become Anthropic ``tools``/``tool_use``/``tool_result``
blocks, and streamed ``tool_use`` blocks come back as OpenAI ``delta.tool_calls``."""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import orjson

from signalbox.router.sse import parse_json

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
    """An Anthropic Messages request (streaming) equivalent to an OpenAI chat request.

    Raises :class:`TranslationError` naming the field when the request cannot be expressed."""
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for i, m in enumerate(body.get("messages") or []):
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(_text(m.get("content")))
        elif role == "user":
            _append(messages, "user", _text(m.get("content")))
        elif role == "assistant":
            text = _text(m.get("content"))
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
    if body.get("functions") or body.get("function_call"):
        raise TranslationError(
            "the deprecated 'functions'/'function_call' fields are not translated for Anthropic "
            "endpoints; send 'tools' and 'tool_choice' instead"
        )
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
    tools = translate_tools(body.get("tools"))
    choice = translate_tool_choice(
        body.get("tool_choice"), body.get("parallel_tool_calls"), {t["name"] for t in tools}
    )
    if tools:
        out["tools"] = tools
    if choice is not None:
        out["tool_choice"] = choice
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


def _function(
    item: Any, where: str, noun: str, needs: str, default_type: str | None = None
) -> tuple[dict[str, Any], str]:
    """The ``function`` object and its name of an OpenAI tool or tool call (``{"type":
    "function", "function": {"name": ...}}``), or the TranslationError that says what is off."""
    if not isinstance(item, dict):
        raise TranslationError(f"{where}: must be an object")
    kind = item.get("type", default_type)
    if kind != "function":
        raise TranslationError(
            f"{where}.type: only 'function' {noun} are translated for Anthropic endpoints, "
            f"got {kind!r}"
        )
    fn = item.get("function")
    if not isinstance(fn, dict):
        raise TranslationError(f"{where}.function: required, an object with {needs}")
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise TranslationError(f"{where}.function.name: required, a non-empty string")
    return fn, name


def _tool_use(call: Any, where: str) -> dict[str, Any]:
    """One OpenAI ``tool_calls`` entry as an Anthropic ``tool_use`` block."""
    fn, name = _function(call, where, "tool calls", "name and arguments", default_type="function")
    return {
        "type": "tool_use",
        "id": _tool_id(call.get("id"), f"{where}.id"),
        "name": name,
        "input": _arguments(fn.get("arguments"), f"{where}.function.arguments"),
    }


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    """OpenAI's arguments (a JSON string) as Anthropic's ``input`` (a JSON object)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}  # a call of a function without parameters
    if not isinstance(raw, str):
        raise TranslationError(f"{where}: must be a string holding a JSON object")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise TranslationError(
            f"{where}: not valid JSON ({exc}); send the arguments as a JSON object string"
        ) from None
    if not isinstance(value, dict):
        raise TranslationError(
            f"{where}: must encode a JSON object (Anthropic tool input is an object), "
            f"got {type(value).__name__}"
        )
    return value


def _tool_result(message: dict[str, Any], where: str) -> dict[str, Any]:
    """A ``tool`` message as an Anthropic ``tool_result`` block."""
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": _tool_id(message.get("tool_call_id"), f"{where}.tool_call_id"),
    }
    text = _text(message.get("content"))
    if text:  # Anthropic's content is optional; an empty text block would be refused
        block["content"] = text
    return block


def translate_tools(tools: Any) -> list[dict[str, Any]]:
    """OpenAI ``tools`` (function tools) as Anthropic ``tools``; ``[]`` when there are none."""
    if not tools:
        return []
    if not isinstance(tools, list):
        raise TranslationError("tools: must be a list of function tools")
    out = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        fn, name = _function(tool, where, "tools", "a name")
        schema = fn.get("parameters")
        if schema is not None and not isinstance(schema, dict):
            raise TranslationError(f"{where}.function.parameters: must be a JSON schema object")
        entry: dict[str, Any] = {"name": name}
        description = fn.get("description")
        if description:
            entry["description"] = str(description)
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
    out: dict[str, Any]
    if choice == "auto":
        out = {"type": "auto"}
    elif choice == "required":
        out = {"type": "any"}
    elif (
        isinstance(choice, dict)
        and choice.get("type") == "function"
        and isinstance(choice.get("function"), dict)
    ):
        name = choice["function"].get("name")
        if not isinstance(name, str) or name not in tool_names:
            raise TranslationError(
                f"tool_choice.function.name: {name!r} is not one of the tools "
                f"({', '.join(sorted(tool_names))})"
            )
        out = {"type": "tool", "name": name}
    else:
        raise TranslationError(
            f"tool_choice: {choice!r} is not translated for Anthropic endpoints; use 'auto', "
            "'required', 'none' or {'type': 'function', 'function': {'name': ...}}"
        )
    if parallel_tool_calls is False:
        out["disable_parallel_tool_use"] = True
    return out


class StreamTranslator:
    """Anthropic SSE events in, OpenAI chunk events out; tracks usage and the end.

    A ``tool_use`` block becomes one OpenAI tool call: its start carries the id and name, each
    ``input_json_delta`` a piece of the arguments. OpenAI numbers tool calls from 0 within the
    response; Anthropic numbers content blocks (text included), so ``tool_index`` maps one to the
    other."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self.model = model
        self.include_usage = include_usage
        self.id = "chatcmpl-sbx"
        self.created = int(time.time())
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.finished = False  # message_stop seen
        self.error: str | None = None
        self.tool_index: dict[Any, int] = {}  # Anthropic block index -> OpenAI tool-call index

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
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") != "tool_use":
                return b"", False  # text and thinking blocks start empty: their deltas carry them
            index = self.tool_index[event.get("index")] = len(self.tool_index)
            call = {
                "index": index,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name") or "", "arguments": ""},
            }
            # The start of a tool call is the first generated output: it counts as content, so
            # TTFT is measured and a tools-only answer is not taken for an empty one.
            return self._chunk({"tool_calls": [call]}), True
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                return self._chunk({"content": delta["text"]}), True
            if delta.get("type") == "thinking_delta" and delta.get("thinking"):
                return self._chunk({"reasoning_content": delta["thinking"]}), True
            if delta.get("type") == "input_json_delta" and delta.get("partial_json"):
                index = self.tool_index.get(event.get("index"))
                if index is None:  # arguments for a tool call that never started
                    self.error = "malformed event"
                    return b"", False
                call = {"index": index, "function": {"arguments": delta["partial_json"]}}
                return self._chunk({"tool_calls": [call]}), True
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
