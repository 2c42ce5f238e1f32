"""Parse what apps send (query strings, ``model@objective``, OpenRouter ``provider`` objects) into
objectives, constraints and request shapes; every problem is a 400 naming the field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signalbox.router.errors import ApiError
from signalbox.router.fields import check_fields
from signalbox.routing.objectives import OBJECTIVES, Objective
from signalbox.routing.scoring import RequestShape
from signalbox.routing.select import Constraints

DEFAULT_OUTPUT_TOKENS = 256


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """Everything selection needs from one request."""

    model: str
    objective: Objective | None
    constraints: Constraints
    shape: RequestShape
    allow_fallbacks: bool = True


def bad(field: str, message: str) -> ApiError:
    """A 400 for ``field``."""
    return ApiError(400, f"{field}: {message}", "invalid_parameter", param=field)


def parse_objective(value: Any, field: str = "sort") -> Objective:
    """One of the objectives, else 400."""
    if not isinstance(value, str) or value not in OBJECTIVES:
        raise bad(field, f"must be one of {', '.join(OBJECTIVES)}")
    return Objective(value)


def split_model(value: Any) -> tuple[str, Objective | None]:
    """``model`` or ``model@objective``."""
    if not isinstance(value, str) or not value.strip():
        raise bad("model", "required, a canonical model name (optionally @objective)")
    name, sep, objective = value.partition("@")
    return name, (parse_objective(objective, "model") if sep else None)


def _number(field: str, value: Any, lo: float = 0.0, hi: float | None = None) -> float:
    if isinstance(value, bool):
        raise bad(field, "must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise bad(field, "must be a number") from None
    if not math.isfinite(number) or number < lo or (hi is not None and number > hi):
        span = f"between {lo:g} and {hi:g}" if hi is not None else f">= {lo:g}"
        raise bad(field, f"must be {span}")
    return number


def _names(field: str, value: Any) -> tuple[str, ...]:
    """Provider names: a list, or in a query string a comma-separated string."""
    if isinstance(value, str) and not field.startswith("provider."):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        raise bad(field, "must be a list of provider names")
    return tuple(v for v in items if v)


def _max_price(value: Any, shape: RequestShape) -> float:
    """OpenRouter's ``max_price`` (a number, or {prompt, completion} per Mtok) as a blended cap."""
    if isinstance(value, Mapping):
        sides = []
        for side in ("prompt", "completion"):
            raw = value.get(side)
            sides.append(math.inf if raw is None else _number(f"provider.max_price.{side}", raw))
        total = max(shape.input_tokens + shape.output_tokens, 1)
        return (sides[0] * shape.input_tokens + sides[1] * shape.output_tokens) / total
    return _number("max_price", value)


def constraints_from(
    values: Mapping[str, Any], shape: RequestShape, prefix: str = ""
) -> Constraints:
    """Constraints from a query string or a ``provider`` object."""
    only = values.get("only")
    ignore = values.get("ignore")
    order = values.get("order")
    max_price = values.get("max_price")
    max_ttft = values.get("max_ttft_ms")
    min_tps = values.get("min_tps")
    max_err = values.get("max_error_rate")
    region = values.get("region")
    if region is not None and not isinstance(region, str):
        raise bad(prefix + "region", "must be a string")
    return Constraints(
        # an empty list (or ``only=``) restricts nothing, as an absent one; it never excludes all
        only=frozenset(_names(prefix + "only", only)) or None if only is not None else None,
        ignore=frozenset(_names(prefix + "ignore", ignore)) if ignore is not None else frozenset(),
        order=_names(prefix + "order", order) if order is not None else (),
        max_price=None if max_price is None else _max_price(max_price, shape),
        max_ttft_ms=None if max_ttft is None else _number(prefix + "max_ttft_ms", max_ttft),
        min_tps=None if min_tps is None else _number(prefix + "min_tps", min_tps),
        max_error_rate=None
        if max_err is None
        else _number(prefix + "max_error_rate", max_err, 0, 1),
        region=region or None,
    )


def route_query(query: Mapping[str, str]) -> RouteRequest:
    """``GET /v1/route`` parameters."""
    model, objective = split_model(query.get("model"))
    if "sort" in query:  # given empty is a mistake to point out, not a default to assume
        objective = parse_objective(query["sort"])
    shape = RequestShape()
    if query.get("output_tokens"):
        shape = RequestShape(
            shape.input_tokens, int(_number("output_tokens", query["output_tokens"], 1, 1e6))
        )
    return RouteRequest(model, objective, constraints_from(query, shape), shape)


def _estimate_input_tokens(messages: list[Any]) -> int:
    chars = 0
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(str(p.get("text", ""))) for p in content if isinstance(p, dict))
    return max(chars // 4, 1)


def chat_request(body: Any) -> RouteRequest:
    """Validate a chat-completions body and extract what routing needs."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object", "invalid_body")
    model, objective = split_model(body.get("model"))
    check_fields(body)
    messages = body["messages"]
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    output = (
        DEFAULT_OUTPUT_TOKENS
        if max_tokens is None
        else int(max_tokens)  # an integer in 1..MAX_TOKENS (fields.check_fields)
    )
    shape = RequestShape(_estimate_input_tokens(messages), output)
    prefs = body.get("provider")
    if prefs is None:
        prefs = {}
    elif not isinstance(prefs, dict):
        raise bad("provider", "must be an object")
    if prefs.get("sort") is not None:
        objective = parse_objective(prefs["sort"], "provider.sort")
    allow = prefs.get("allow_fallbacks", True)
    if not isinstance(allow, bool):
        raise bad("provider.allow_fallbacks", "must be a boolean")
    return RouteRequest(model, objective, constraints_from(prefs, shape, "provider."), shape, allow)
