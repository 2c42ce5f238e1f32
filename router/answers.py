"""Post-call checks of a whole answer (pure): the ``post`` triggers of
``signalbox.routing.triggers`` read a ``chat.completion`` and the request that asked for it.

JSON Schema is checked for the keywords structured outputs use (``type``, ``properties``,
``required``, ``additionalProperties``, ``items``, ``enum``, ``const``, ``anyOf``, min/max
lengths and bounds); other keywords are not checked, so an answer is never escalated over a
keyword this module does not understand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

# How a refusal opens when a model says it in text (no refusal field): short and explicit, so
# an answer that merely apologises in passing is not read as one.
_REFUSAL = re.compile(
    r"^\s*(i'm sorry|i am sorry|sorry)?[,.!\s]*(but\s+)?"
    r"(i can(no|')t|i cannot|i am unable to|i'm unable to|i won't|i will not)\s+"
    r"(help|assist|comply|provide|do that|answer)",
    re.IGNORECASE,
)
REFUSAL_MAX_CHARS = 400
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def schema_problem(value: Any, schema: Any, where: str = "$") -> str | None:
    """The first place ``value`` does not validate against ``schema``, or None."""
    if not isinstance(schema, dict):
        return None
    kinds = schema.get("type")
    if kinds is not None:
        names = kinds if isinstance(kinds, list) else [kinds]
        known = [k for k in names if k in _TYPES]
        if known and not any(_TYPES[k](value) for k in known):
            return f"{where}: expected {' or '.join(known)}, got {_json_type(value)}"
    if "enum" in schema and isinstance(schema["enum"], list) and value not in schema["enum"]:
        return f"{where}: not one of the enum values"
    if "const" in schema and value != schema["const"]:
        return f"{where}: not the const value"
    if isinstance(schema.get("anyOf"), list) and all(
        schema_problem(value, s, where) for s in schema["anyOf"]
    ):
        return f"{where}: matches none of anyOf"
    if isinstance(value, dict):
        return _object_problem(value, schema, where)
    if isinstance(value, list):
        if isinstance(schema.get("minItems"), int) and len(value) < schema["minItems"]:
            return f"{where}: fewer than {schema['minItems']} items"
        if isinstance(schema.get("maxItems"), int) and len(value) > schema["maxItems"]:
            return f"{where}: more than {schema['maxItems']} items"
        for i, item in enumerate(value):
            problem = schema_problem(item, schema.get("items"), f"{where}[{i}]")
            if problem:
                return problem
    if isinstance(value, str):
        if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
            return f"{where}: shorter than {schema['minLength']}"
        if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
            return f"{where}: longer than {schema['maxLength']}"
    if _TYPES["number"](value):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if _TYPES["number"](lo) and value < lo:
            return f"{where}: below the minimum {lo}"
        if _TYPES["number"](hi) and value > hi:
            return f"{where}: above the maximum {hi}"
    return None


def _object_problem(value: dict[str, Any], schema: dict[str, Any], where: str) -> str | None:
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    for name in schema.get("required") or ():
        if name not in value:
            return f"{where}: missing required property '{name}'"
    if schema.get("additionalProperties") is False:
        extra = sorted(k for k in value if k not in props)
        if extra:
            return f"{where}: property '{extra[0]}' is not allowed"
    for name, sub in props.items():
        if name in value:
            problem = schema_problem(value[name], sub, f"{where}.{name}")
            if problem:
                return problem
    return None


def _json_type(value: Any) -> str:
    for name, test in _TYPES.items():
        if name != "number" and test(value):
            return name
    return "number" if _TYPES["number"](value) else type(value).__name__


def _json_problem(content: str | None, response_format: Mapping[str, Any]) -> str | None:
    try:
        value = orjson.loads((content or "").strip())
    except orjson.JSONDecodeError:
        return f"response_format {response_format.get('type')}: the answer is not JSON"
    if response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        problem = schema_problem(value, spec.get("schema"))
        if problem:
            return f"json_schema '{spec.get('name')}': {problem}"
    elif not isinstance(value, dict):
        return "response_format json_object: the answer is JSON but not an object"
    return None


def _refused(message: Mapping[str, Any], finish: str | None) -> str | None:
    if message.get("refusal"):
        return "the answer carries a refusal"
    if finish == "content_filter":
        return "finish reason content_filter"
    content = message.get("content") or ""
    if len(content) <= REFUSAL_MAX_CHARS and _REFUSAL.match(content):
        return f"the answer opens with a refusal: {content[:60]!r}"
    return None


def inspect(
    completion: Mapping[str, Any], body: Mapping[str, Any], on: Callable[[str], bool]
) -> tuple[str, str] | None:
    """The first post-call trigger (switched on per ``on``) the answer fires, with why; None when
    it passes. Checks in the table's order: length, empty, refusal, JSON, tool arguments."""
    fmt = body.get("response_format")
    wants_json = isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")
    for choice in completion.get("choices") or ():
        message = choice.get("message") or {}
        finish = choice.get("finish_reason")
        content = message.get("content")
        calls = message.get("tool_calls") or ()
        refusal = message.get("refusal")
        if on("finish_length") and finish == "length":
            return "finish_length", "finish reason length: the answer was cut at the token limit"
        blank = not (content or "").strip() and not calls and not refusal
        # A refusal with no text (finish_reason content_filter) is a refusal: a route that
        # escalates on empty answers but not on refusals keeps it.
        if on("empty") and blank and finish != "content_filter":
            return "empty", "the answer has no text and no tool call"
        if on("refusal") and (why := _refused(message, finish)):
            return "refusal", why
        if on("invalid_json") and wants_json and not calls:
            problem = _json_problem(content, fmt)
            if problem:
                return "invalid_json", problem
        if on("invalid_tool_args"):
            for call in calls:
                problem = _tool_args_problem(call.get("function") or {}, body.get("tools"))
                if problem:
                    return "invalid_tool_args", problem
    return None


def _tool_args_problem(fn: Mapping[str, Any], tools: Any) -> str | None:
    """Why a tool call's arguments are unusable: not a JSON object, or not matching the
    parameters schema of the request's tool of that name; None when they are fine."""
    name = fn.get("name")
    args = fn.get("arguments") or "{}"  # no arguments at all is a valid empty call
    try:
        parsed = orjson.loads(args)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        return f"tool call {name!r}: arguments are not a JSON object"
    for tool in tools if isinstance(tools, list) else ():
        spec = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(spec, dict) and spec.get("name") == name:
            problem = schema_problem(parsed, spec.get("parameters"))
            if problem:
                return f"tool call {name!r}: arguments do not match its parameters: {problem}"
    return None
