"""The OpenAI chat shape as translating protocols read and write it (pure).

Read: the parts of an app's chat request every translation needs (message text, function tools,
tool calls and their JSON arguments), each refused with a :class:`TranslationError` naming the
field. Write: :class:`ChunkWriter` makes the ``chat.completion.chunk`` events (and the usage chunk
and ``[DONE]``) that an app receives from a translated stream.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from signalbox.protocols.wire import ChunkSink, TranslationError

DONE_EVENT = b"data: [DONE]\n\n"


def text_of(content: Any) -> str:
    """A message's text: the string, or its text parts joined (other parts carry no text)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def function_of(
    item: Any, where: str, noun: str, needs: str, label: str, default_type: str | None = None
) -> tuple[dict[str, Any], str]:
    """The ``function`` object and its name of an OpenAI tool or tool call (``{"type":
    "function", "function": {"name": ...}}``), or the TranslationError that says what is off;
    ``label`` names the target (``Anthropic``)."""
    if not isinstance(item, dict):
        raise TranslationError(f"{where}: must be an object")
    kind = item.get("type", default_type)
    if kind != "function":
        raise TranslationError(
            f"{where}.type: only 'function' {noun} are translated for {label} endpoints, "
            f"got {kind!r}"
        )
    fn = item.get("function")
    if not isinstance(fn, dict):
        raise TranslationError(f"{where}.function: required, an object with {needs}")
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise TranslationError(f"{where}.function.name: required, a non-empty string")
    return fn, name


def arguments_of(raw: Any, where: str, label: str) -> dict[str, Any]:
    """OpenAI's tool-call arguments (a JSON string) as the JSON object other APIs take."""
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
            f"{where}: must encode a JSON object ({label} tool input is an object), "
            f"got {type(value).__name__}"
        )
    return value


def function_tools(tools: Any, label: str) -> list[tuple[str, str | None, dict[str, Any] | None]]:
    """OpenAI ``tools`` as (name, description, parameters schema or None); ``[]`` for none."""
    if not tools:
        return []
    if not isinstance(tools, list):
        raise TranslationError("tools: must be a list of function tools")
    out = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        fn, name = function_of(tool, where, "tools", "a name", label)
        schema = fn.get("parameters")
        if schema is not None and not isinstance(schema, dict):
            raise TranslationError(f"{where}.function.parameters: must be a JSON schema object")
        description = fn.get("description")
        out.append((name, str(description) if description else None, schema))
    return out


def chosen_function(choice: Any, tool_names: set[str], label: str) -> str | None:
    """The function a ``tool_choice`` object forces (``{"type": "function", "function": {"name":
    ...}}``), None for the string choices; a TranslationError for anything else."""
    if isinstance(choice, str) and choice in ("auto", "required", "none"):
        return None
    if (
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
        return name
    raise TranslationError(
        f"tool_choice: {choice!r} is not translated for {label} endpoints; use 'auto', "
        "'required', 'none' or {'type': 'function', 'function': {'name': ...}}"
    )


def refuse_legacy_functions(body: dict[str, Any], label: str) -> None:
    """Refuse the deprecated ``functions``/``function_call`` fields (translated nowhere)."""
    if body.get("functions") or body.get("function_call"):
        raise TranslationError(
            f"the deprecated 'functions'/'function_call' fields are not translated for {label} "
            "endpoints; send 'tools' and 'tool_choice' instead"
        )


def json_format(fmt: Any, label: str) -> tuple[bool, dict[str, Any] | None]:
    """OpenAI ``response_format`` as (JSON asked, its schema if one is given), for protocols
    that express structured output their own way; ``label`` names the protocol in errors."""
    if fmt is None:
        return False, None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return False, None
    if kind == "json_object":
        return True, None
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise TranslationError(
                "response_format.json_schema.schema: required, a JSON schema object"
            )
        return True, schema
    raise TranslationError(
        f"response_format.type: {kind!r} is not translated for {label} endpoints; use 'text', "
        "'json_object' or 'json_schema'"
    )


def max_tokens_of(body: dict[str, Any]) -> Any:
    """The app's output limit: ``max_completion_tokens``, else ``max_tokens`` (None if neither)."""
    return body.get("max_completion_tokens") or body.get("max_tokens")


def stop_sequences(body: dict[str, Any]) -> list[str] | None:
    """``stop`` (a string or a list) as a list, None when absent."""
    stop = body.get("stop")
    if not stop:
        return None
    return [stop] if isinstance(stop, str) else list(stop)


class ChunkWriter:
    """Makes the OpenAI chunk events of one translated answer; ``relay=False`` makes no bytes
    (the probe), ``sink`` also receives each chunk as a dict (a whole answer is built from them)."""

    __slots__ = ("created", "id", "include_usage", "model", "relay", "sink")

    def __init__(
        self, model: str, include_usage: bool, relay: bool, sink: ChunkSink | None
    ) -> None:
        self.model = model
        self.include_usage = include_usage
        self.relay = relay
        self.sink = sink
        self.id = "chatcmpl-sbx"
        self.created = int(time.time())

    def _event(self, body: dict[str, Any]) -> bytes:
        if self.sink is not None:
            self.sink(body)
        return b"data: " + orjson.dumps(body) + b"\n\n" if self.relay else b""

    def delta(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        """One chunk carrying ``delta`` (and a finish reason)."""
        if not self.relay and self.sink is None:
            return b""
        return self._event(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    def end(
        self,
        input_tokens: int | None,
        output_tokens: int | None,
        reasoning_tokens: int | None = None,
    ) -> bytes:
        """The usage chunk (when the app asked for usage) and ``[DONE]``."""
        if not self.relay and self.sink is None:
            return b""
        out = b""
        if self.include_usage:
            usage: dict[str, Any] = {
                "prompt_tokens": input_tokens or 0,
                "completion_tokens": output_tokens or 0,
                "total_tokens": (input_tokens or 0) + (output_tokens or 0),
            }
            if reasoning_tokens:
                usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
            out = self._event(
                {
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": usage,
                }
            )
        return out + DONE_EVENT if self.relay else b""
