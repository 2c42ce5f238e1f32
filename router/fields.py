"""The OpenAI chat-completion fields the router knows, checked for type and range (pure).

A wrong type used to pass through (``"temperature": "hot"`` was sent upstream, where each
provider refused it in its own words, or worse, accepted it). Each rule here names the field,
as OpenAI does in its 400s; fields the router does not know pass through untouched, since
providers add their own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from signalbox.router.errors import ApiError

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
TOOL_CHOICES = ("none", "auto", "required")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
MAX_STOP = 4
MAX_TOKENS = 2**31 - 1  # what every provider's int32 field holds (and JSON encoders agree on)
FUNCTION_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
_FUNCTION_NAME = re.compile(FUNCTION_NAME_PATTERN)
ECHO_LIMIT = 80


def echo(value: str, limit: int = ECHO_LIMIT) -> str:
    """A value from the request, cut to ``limit`` characters for an error message: whatever an
    app sends, the answer stays small."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}… ({len(value)} characters)"


def invalid(field: str, message: str) -> ApiError:
    """A 400 naming ``field``."""
    return ApiError(400, f"{field}: {message}", "invalid_parameter", param=field)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(lo: float, hi: float) -> Callable[[str, Any], None]:
    def check(field: str, value: Any) -> None:
        if not _is_number(value):
            raise invalid(field, f"must be a number, got {type(value).__name__}")
        if not lo <= value <= hi:
            raise invalid(field, f"must be between {lo:g} and {hi:g}, got {value:g}")

    return check


def _integer(lo: int, hi: int | None = None) -> Callable[[str, Any], None]:
    def check(field: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(field, f"must be an integer, got {type(value).__name__}")
        if value < lo or (hi is not None and value > hi):
            span = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
            raise invalid(field, f"must be {span}, got {value}")

    return check


def _boolean(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise invalid(field, f"must be a boolean, got {type(value).__name__}")


def _string(field: str, value: Any) -> None:
    if not isinstance(value, str):
        raise invalid(field, f"must be a string, got {type(value).__name__}")


def _stop(field: str, value: Any) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise invalid(field, "must be a string or a list of strings")
    if len(value) > MAX_STOP:
        raise invalid(field, f"at most {MAX_STOP} stop sequences, got {len(value)}")


def _stream_options(field: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise invalid(field, "must be an object")
    if "include_usage" in value:
        _boolean(f"{field}.include_usage", value["include_usage"])


def _function_name(field: str, value: Any) -> None:
    if not isinstance(value, str) or not _FUNCTION_NAME.match(value):
        raise invalid(field, "must be 1 to 64 letters, digits, '_' or '-'")


def _tools(field: str, value: Any) -> None:
    if not isinstance(value, list):
        raise invalid(field, "must be a list of tools")
    for i, tool in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise invalid(f"{where}.type", "must be 'function'")
        fn = tool.get("function")
        if not isinstance(fn, dict):
            raise invalid(f"{where}.function", "required, an object with a name")
        _function_name(f"{where}.function.name", fn.get("name"))
        if "description" in fn:
            _string(f"{where}.function.description", fn["description"])
        if "parameters" in fn and not isinstance(fn["parameters"], dict):
            raise invalid(f"{where}.function.parameters", "must be a JSON schema object")


def _tool_choice(field: str, value: Any) -> None:
    if isinstance(value, str):
        if value not in TOOL_CHOICES:
            raise invalid(field, f"must be one of {', '.join(TOOL_CHOICES)} or a function")
        return
    if not isinstance(value, dict) or value.get("type") != "function":
        raise invalid(field, "must be a string or {'type': 'function', 'function': {'name'}}")
    fn = value.get("function")
    _function_name(f"{field}.function.name", fn.get("name") if isinstance(fn, dict) else None)


def _response_format(field: str, value: Any) -> None:
    if not isinstance(value, dict) or value.get("type") not in RESPONSE_FORMATS:
        raise invalid(f"{field}.type", f"must be one of {', '.join(RESPONSE_FORMATS)}")
    if "json_schema" not in value:
        if value["type"] == "json_schema":
            raise invalid(f"{field}.json_schema", "required, an object with a name and a schema")
        return
    spec = value["json_schema"]
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise invalid(f"{field}.json_schema", "must be an object with a name and a schema")
    if "schema" in spec and not isinstance(spec["schema"], dict):
        raise invalid(f"{field}.json_schema.schema", "must be a JSON schema object")
    if spec.get("strict") is not None:
        _boolean(f"{field}.json_schema.strict", spec["strict"])


def _logit_bias(field: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise invalid(field, "must be an object of token id to bias")
    for token, bias in value.items():
        if not _is_number(bias) or not -100 <= bias <= 100:
            raise invalid(f"{field}.{echo(str(token), 20)}", "must be a number in -100..100")


def _metadata(field: str, value: Any) -> None:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid(field, "must be an object of string values")


RULES: dict[str, Callable[[str, Any], None]] = {
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "max_tokens": _integer(1, MAX_TOKENS),
    "max_completion_tokens": _integer(1, MAX_TOKENS),
    "n": _integer(1, 128),
    "stop": _stop,
    "stream": _boolean,
    "stream_options": _stream_options,
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "seed": _integer(-(2**63), 2**63 - 1),
    "logprobs": _boolean,
    "top_logprobs": _integer(0, 20),
    "user": _string,
    "tools": _tools,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": _boolean,
    "response_format": _response_format,
    "logit_bias": _logit_bias,
    "metadata": _metadata,
}


def check_messages(messages: Any) -> None:
    """``messages``: a non-empty list of objects with a known role and a string, part list or
    null content."""
    if not isinstance(messages, list) or not messages:
        raise invalid("messages", "required, a non-empty list")
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise invalid(where, "must be an object with a role")
        if message.get("role") not in ROLES:
            raise invalid(f"{where}.role", f"must be one of {', '.join(ROLES)}")
        if message["role"] == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise invalid(
                    f"{where}.tool_call_id", "required for a tool message: the call it answers"
                )
        content = message.get("content")
        if content is None and message["role"] != "assistant":
            # only an assistant turn (one that calls tools) may come without content
            raise invalid(f"{where}.content", f"required for a {message['role']} message")
        if content is not None and not isinstance(content, str | list):
            raise invalid(f"{where}.content", "must be a string, a list of parts or null")
        for j, part in enumerate(content if isinstance(content, list) else ()):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise invalid(f"{where}.content[{j}]", "must be an object with a 'type'")


def check_fields(body: dict[str, Any]) -> None:
    """Every known field present (and not null) has the right type and range; a tool choice
    names a tool the request defines, as OpenAI requires."""
    check_messages(body.get("messages"))
    for field, rule in RULES.items():
        value = body.get(field)
        if value is not None:
            rule(field, value)
    choice = body.get("tool_choice")
    names = {t["function"]["name"] for t in body.get("tools") or ()}
    if choice == "required" and not names:
        raise invalid("tool_choice", "'required' needs 'tools' to choose from")
    if isinstance(choice, dict) and choice["function"]["name"] not in names:
        raise invalid("tool_choice.function.name", "must name one of the request's tools")
