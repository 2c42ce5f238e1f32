"""What a request asks of the answer, read from each dialect's body: the difficulty it carries,
whether it wants JSON (and against which schema) and which tool the answer would call.

Pure: dicts in, an :class:`Ask` out; a malformed difficulty is a :class:`BadRequest` naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from signalbox.simulator.dialect import BadRequest


@dataclass(frozen=True, slots=True)
class ToolAsk:
    """The function the answer calls: its name and its parameters' JSON schema."""

    name: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ask:
    """What one request asks of its answer, dialect-neutral."""

    input_chars: int = 0
    difficulty: float | None = None
    wants_json: bool = False
    schema: dict[str, Any] | None = None
    tool: ToolAsk | None = None


def parse_difficulty(value: Any, param: str) -> float | None:
    """A difficulty in [0, 1] from a number or a numeric string (OpenAI ``metadata`` holds only
    strings); None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadRequest(f"{param}: must be a number between 0 and 1", param)
    try:
        d = float(value)
    except ValueError:
        raise BadRequest(f"{param}: must be a number between 0 and 1", param) from None
    if not math.isfinite(d) or not 0.0 <= d <= 1.0:
        raise BadRequest(f"{param}: must be between 0 and 1, got {str(value)[:20]}", param)
    return d


def _field(data: Any, key: str) -> Any:
    return data.get(key) if isinstance(data, dict) else None


def _proto(data: Any, key: str) -> Any:
    """A field of a Google request in camelCase or snake_case: proto3's JSON accepts both, and
    the google-genai SDK sends nested objects (function declarations) in snake_case."""
    if not isinstance(data, dict):
        return None
    if key in data:
        return data[key]
    return data.get("".join("_" + c.lower() if c.isupper() else c for c in key))


def _schema(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _tool(tools: list[ToolAsk], chosen: str | None, disabled: bool) -> ToolAsk | None:
    """The tool an answer calls: the forced one, else the first; none when tools are off."""
    if disabled or not tools:
        return None
    for tool in tools:
        if tool.name == chosen:
            return tool
    return tools[0]


def openai_ask(data: dict[str, Any], input_chars: int) -> Ask:
    """``metadata.difficulty``, ``response_format`` (``json_object``/``json_schema``), ``tools``
    and ``tool_choice`` of a chat-completions body."""
    fmt = data.get("response_format")
    kind = _field(fmt, "type")
    tools = [
        ToolAsk(str(fn["name"]), _schema(fn.get("parameters")) or {})
        for t in data.get("tools") or []
        if isinstance(fn := _field(t, "function"), dict) and fn.get("name")
    ]
    choice = data.get("tool_choice")
    return Ask(
        input_chars=input_chars,
        difficulty=parse_difficulty(
            _field(data.get("metadata"), "difficulty"), "metadata.difficulty"
        ),
        wants_json=kind in ("json_object", "json_schema"),
        schema=_schema(_field(_field(fmt, "json_schema"), "schema")),
        tool=_tool(tools, _field(_field(choice, "function"), "name"), choice == "none"),
    )


def anthropic_ask(data: dict[str, Any], input_chars: int) -> Ask:
    """``metadata.difficulty``, structured outputs (``output_format``, or ``output_config.format``
    of type ``json_schema``), ``tools`` and ``tool_choice`` of a Messages body."""
    fmt = data.get("output_format") or _field(data.get("output_config"), "format")
    tools = [
        ToolAsk(str(t["name"]), _schema(t.get("input_schema")) or {})
        for t in data.get("tools") or []
        if isinstance(t, dict) and t.get("name")
    ]
    choice = data.get("tool_choice")
    return Ask(
        input_chars=input_chars,
        difficulty=parse_difficulty(
            _field(data.get("metadata"), "difficulty"), "metadata.difficulty"
        ),
        wants_json=_field(fmt, "type") == "json_schema",
        schema=_schema(_field(fmt, "schema")),
        tool=_tool(tools, _field(choice, "name"), _field(choice, "type") == "none"),
    )


def gemini_ask(data: dict[str, Any], input_chars: int) -> Ask:
    """``labels.difficulty``, ``generationConfig.responseMimeType`` (``application/json``, with
    ``responseJsonSchema`` or ``responseSchema``), ``tools`` and ``toolConfig``."""
    config = _proto(data, "generationConfig")
    tools = [
        ToolAsk(
            str(d["name"]),
            _schema(_proto(d, "parametersJsonSchema")) or _schema(d.get("parameters")) or {},
        )
        for t in data.get("tools") or []
        for d in _proto(t, "functionDeclarations") or []
        if isinstance(d, dict) and d.get("name")
    ]
    calling = _proto(_proto(data, "toolConfig"), "functionCallingConfig")
    allowed = _proto(calling, "allowedFunctionNames")
    return Ask(
        input_chars=input_chars,
        difficulty=parse_difficulty(_field(data.get("labels"), "difficulty"), "labels.difficulty"),
        wants_json=_proto(config, "responseMimeType") == "application/json",
        schema=_schema(_proto(config, "responseJsonSchema"))
        or _schema(_proto(config, "responseSchema")),
        tool=_tool(
            tools,
            allowed[0] if isinstance(allowed, list) and allowed else None,
            _field(calling, "mode") == "NONE",
        ),
    )
