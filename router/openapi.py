"""The hand-written OpenAPI 3 document of the router (served at ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

from signalbox.protocols import PROTOCOLS
from signalbox.router.escalate import MAX_REQUEST_MODELS, REQUEST_ROUTE, TIER_HEADER
from signalbox.router.fields import (
    FUNCTION_NAME_PATTERN,
    MAX_STOP,
    MAX_TOKENS,
    TOOL_CHOICES,
)
from signalbox.routing.objectives import OBJECTIVES, describe_objectives
from signalbox.routing.triggers import describe as describe_triggers

_ERROR = {"$ref": "#/components/schemas/Error"}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _q(
    name: str, description: str, schema: dict[str, Any], required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


_NUM = {"type": "number", "minimum": 0}
_OBJECTIVE = {
    "type": "string",
    "enum": list(OBJECTIVES),
    "description": "what to optimise for:\n" + describe_objectives(),
}
_AUTH = {"401": _err("missing or wrong API key (when SIGNALBOX_API_KEYS is set)")}
_NULLNUM = {"type": "number", "nullable": True}
FUNCTION_NAME = {"type": "string", "pattern": FUNCTION_NAME_PATTERN}
_JSON_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "schema": {"type": "object"},
        "strict": {"type": "boolean", "nullable": True},
    },
}
# a message's content: text or content parts
_CONTENT = {
    "oneOf": [
        {"type": "string"},
        {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"type": "string"}},
            },
        },
    ],
}
# one server-sent event of a streamed completion (OpenAPI before 3.2: ``schema`` is per event)
_SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {
            "type": "string",
            "description": "a chat.completion.chunk as JSON, an OpenAI-shaped error object when "
            "the upstream fails mid-stream, or [DONE]",
        },
        "event": {"type": "string"},
        "id": {"type": "string"},
    },
}
# a catalog model name (signalbox.catalog.Model), optionally suffixed with an objective
_MODEL = {
    "type": "string",
    "minLength": 1,
    "pattern": rf"^[A-Za-z0-9_.:/-]+(@({'|'.join(OBJECTIVES)}))?$",
}

_ROUTE_HEADERS = {
    "x-signalbox-route": {
        "description": f"a routed request's route: the catalog route called, or {REQUEST_ROUTE}"
        " for a models list (absent on plain requests)",
        "schema": {"type": "string"},
    },
    "x-signalbox-path": {
        "description": "the models called, in order, comma-separated (routed requests)",
        "schema": {"type": "string"},
    },
    "x-signalbox-trigger": {
        "description": "the trigger that first moved the request to another model, or none:\n"
        + describe_triggers(),
        "schema": {"type": "string"},
    },
}
_MODEL_DESCRIPTION = (
    "a canonical model of the catalog, or a route of its [[route]] section (GET /v1/models lists"
    " the models; a route runs its default model and escalates on its triggers, each step to"
    " that model's best provider), optionally @objective"
)

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "Signalbox router",
        "version": "0.1.0",
        "description": "Routing decisions from live, time-decayed endpoint statistics, and an "
        "OpenAI-compatible proxy with fallback. Errors use OpenAI's shape.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["message", "type", "code"],
                        "properties": {
                            "message": {"type": "string"},
                            "type": {"type": "string"},
                            "param": {
                                "type": "string",
                                "nullable": True,
                                "description": "the request field at fault, if one is",
                            },
                            "code": {"type": "string"},
                        },
                    }
                },
            },
            "RankedEndpoint": {
                "type": "object",
                "required": [
                    "provider",
                    "score",
                    "ttft_ms",
                    "tps",
                    "error_rate",
                    "price",
                    "samples",
                    "age_s",
                    "state",
                ],
                "properties": {
                    "provider": {"type": "string"},
                    "score": {"type": "number"},
                    "ttft_ms": _NULLNUM,
                    "tps": _NULLNUM,
                    "error_rate": {"type": "number"},
                    "price": {
                        **_NULLNUM,
                        "description": "USD per million tokens for the request's mix",
                    },
                    "samples": {"type": "number", "description": "effective sample size W"},
                    "age_s": _NULLNUM,
                    "state": {"type": "string", "enum": ["healthy", "stale", "half-open", "open"]},
                },
            },
            "Route": {
                "type": "object",
                "required": ["model", "objective", "provider", "endpoint", "ranking", "reason"],
                "properties": {
                    "model": {"type": "string"},
                    "objective": _OBJECTIVE,
                    "provider": {"type": "string"},
                    "endpoint": {
                        "type": "object",
                        "required": ["base_url", "upstream_model", "api"],
                        "properties": {
                            "base_url": {"type": "string"},
                            "upstream_model": {"type": "string"},
                            "api": {"type": "string", "enum": sorted(PROTOCOLS)},
                        },
                    },
                    "ranking": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/RankedEndpoint"},
                    },
                    "excluded": {"type": "array", "items": {"type": "object"}},
                    "reason": {"type": "string"},
                    "route": {
                        "type": "object",
                        "description": "when `model` named a route: its name and models in order"
                        " (the decision is for the first, its default model)",
                        "required": ["name", "path"],
                        "properties": {
                            "name": {"type": "string"},
                            "path": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            },
            "ProviderPreferences": {
                "type": "object",
                "description": "OpenRouter-style provider preferences.",
                "properties": {
                    "order": {"type": "array", "items": {"type": "string"}},
                    "only": {"type": "array", "items": {"type": "string"}},
                    "ignore": {"type": "array", "items": {"type": "string"}},
                    "sort": _OBJECTIVE,
                    "max_price": {
                        "oneOf": [
                            _NUM,
                            {"type": "object", "properties": {"prompt": _NUM, "completion": _NUM}},
                        ]
                    },
                    "allow_fallbacks": {"type": "boolean"},
                    "max_ttft_ms": _NUM,
                    "min_tps": _NUM,
                    "max_error_rate": {"type": "number", "minimum": 0, "maximum": 1},
                    "region": {"type": "string"},
                },
            },
            "ChatRequest": {
                "type": "object",
                "required": ["model", "messages"],
                "description": "OpenAI's chat-completion request; the fields below are checked "
                "for type and range (a 400 names the field), others pass through to the provider.",
                "properties": {
                    "model": {**_MODEL, "description": _MODEL_DESCRIPTION},
                    "models": {
                        "nullable": True,
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_REQUEST_MODELS,
                        "items": {"type": "string", "minLength": 1},
                        "description": "OpenRouter-style model fallback: model first, then these"
                        " in order, each tried when every provider of the one before failed"
                        f" (route {REQUEST_ROUTE}); each must be a catalog model",
                    },
                    "messages": {
                        "type": "array",
                        "minItems": 1,
                        "description": "OpenAI's message shapes: content is required but for an "
                        "assistant turn that only calls tools; a tool message names the call it "
                        "answers",
                        "items": {
                            "oneOf": [
                                {
                                    "type": "object",
                                    "required": ["role", "content"],
                                    "properties": {
                                        "role": {
                                            "type": "string",
                                            "enum": ["system", "developer", "user", "function"],
                                        },
                                        "content": _CONTENT,
                                    },
                                },
                                {
                                    "type": "object",
                                    "required": ["role"],
                                    "properties": {
                                        "role": {"type": "string", "enum": ["assistant"]},
                                        "content": {**_CONTENT, "nullable": True},
                                    },
                                },
                                {
                                    "type": "object",
                                    "required": ["role", "tool_call_id", "content"],
                                    "properties": {
                                        "role": {"type": "string", "enum": ["tool"]},
                                        "tool_call_id": {"type": "string", "minLength": 1},
                                        "content": _CONTENT,
                                    },
                                },
                            ]
                        },
                    },
                    "stream": {"nullable": True, "type": "boolean"},
                    "stream_options": {
                        "nullable": True,
                        "type": "object",
                        "properties": {"include_usage": {"type": "boolean"}},
                    },
                    "max_tokens": {
                        "nullable": True,
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_TOKENS,
                    },
                    "max_completion_tokens": {
                        "nullable": True,
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_TOKENS,
                    },
                    "temperature": {"nullable": True, "type": "number", "minimum": 0, "maximum": 2},
                    "top_p": {"nullable": True, "type": "number", "minimum": 0, "maximum": 1},
                    "n": {"nullable": True, "type": "integer", "minimum": 1, "maximum": 128},
                    "stop": {
                        "nullable": True,
                        "oneOf": [
                            {"type": "string"},
                            {"type": "array", "items": {"type": "string"}, "maxItems": MAX_STOP},
                        ],
                    },
                    "presence_penalty": {
                        "nullable": True,
                        "type": "number",
                        "minimum": -2,
                        "maximum": 2,
                    },
                    "frequency_penalty": {
                        "nullable": True,
                        "type": "number",
                        "minimum": -2,
                        "maximum": 2,
                    },
                    "user": {"nullable": True, "type": "string"},
                    "tools": {
                        "nullable": True,
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["type", "function"],
                            "properties": {
                                "type": {"type": "string", "enum": ["function"]},
                                "function": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {
                                        "name": FUNCTION_NAME,
                                        "description": {"type": "string"},
                                        "parameters": {"type": "object"},
                                    },
                                },
                            },
                        },
                    },
                    "tool_choice": {
                        "nullable": True,
                        "oneOf": [
                            {"type": "string", "enum": list(TOOL_CHOICES)},
                            {
                                "type": "object",
                                "required": ["type", "function"],
                                "properties": {
                                    "type": {"type": "string", "enum": ["function"]},
                                    "function": {
                                        "type": "object",
                                        "required": ["name"],
                                        "properties": {"name": FUNCTION_NAME},
                                    },
                                },
                            },
                        ],
                    },
                    "parallel_tool_calls": {"nullable": True, "type": "boolean"},
                    "response_format": {
                        "nullable": True,
                        "oneOf": [
                            {
                                "type": "object",
                                "required": ["type"],
                                "properties": {
                                    "type": {"type": "string", "enum": ["text", "json_object"]},
                                    "json_schema": _JSON_SCHEMA,
                                },
                            },
                            {
                                "type": "object",
                                "required": ["type", "json_schema"],
                                "properties": {
                                    "type": {"type": "string", "enum": ["json_schema"]},
                                    "json_schema": _JSON_SCHEMA,
                                },
                            },
                        ],
                    },
                    "provider": {
                        "nullable": True,
                        "allOf": [{"$ref": "#/components/schemas/ProviderPreferences"}],
                    },
                },
            },
        },
    },
    "security": [{"bearer": []}, {}],
    "paths": {
        "/v1/route": {
            "get": {
                "summary": "Rank a model's endpoints and choose one",
                "parameters": [
                    _q(
                        "model",
                        "canonical model name or a route's name (the decision for its default"
                        " model), optionally @objective",
                        _MODEL,
                        True,
                    ),
                    _q("sort", "objective", _OBJECTIVE),
                    _q("only", "comma-separated providers allowed", {"type": "string"}),
                    _q("ignore", "comma-separated providers excluded", {"type": "string"}),
                    _q(
                        "order",
                        "comma-separated providers tried first, in order",
                        {"type": "string"},
                    ),
                    _q("max_price", "USD per million tokens (request mix)", _NUM),
                    _q("max_ttft_ms", "TTFT p50 ceiling", _NUM),
                    _q("min_tps", "tps p50 floor", _NUM),
                    _q(
                        "max_error_rate",
                        "error rate ceiling",
                        {"type": "number", "minimum": 0, "maximum": 1},
                    ),
                    _q("region", "provider region", {"type": "string"}),
                    _q(
                        "output_tokens",
                        "expected output tokens (e2e, cost)",
                        {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "the decision",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Route"}}
                        },
                    },
                    "400": _err("bad parameter"),
                    **_AUTH,
                    "404": _err("unknown model"),
                    "503": _err("no endpoint qualifies (the message says why)"),
                },
            }
        },
        "/v1/chat/completions": {
            "post": {
                "summary": "OpenAI-compatible chat completions through the best endpoint",
                "parameters": [
                    {
                        "name": TIER_HEADER,
                        "in": "header",
                        "required": False,
                        "description": "high: a route with the hint trigger starts at its first"
                        " escalation model (as metadata.tier = high does)",
                        "schema": {"type": "string"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ChatRequest"}}
                    },
                },
                "responses": {
                    "200": {
                        "description": "a completion, or an SSE stream when stream is true",
                        "headers": {
                            "x-signalbox-provider": {"schema": {"type": "string"}},
                            "x-signalbox-attempts": {"schema": {"type": "string"}},
                            **_ROUTE_HEADERS,
                            "x-signalbox-tried": {
                                "description": "each attempt's provider, in order",
                                "schema": {"type": "string"},
                            },
                        },
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            "text/event-stream": {"schema": _SSE_EVENT},
                        },
                    },
                    "400": _err("malformed JSON or bad field"),
                    **_AUTH,
                    "404": _err("unknown model"),
                    "413": _err("request body too large"),
                    "415": _err("the body is not sent as application/json"),
                    "422": _err("the upstream refused the request itself"),
                    "502": {
                        **_err("every upstream attempt failed (of every model, for a route)"),
                        "headers": {
                            "x-signalbox-attempts": {"schema": {"type": "string"}},
                            **_ROUTE_HEADERS,
                        },
                    },
                    "503": _err("no endpoint qualifies"),
                },
            }
        },
        "/v1/models": {
            "get": {
                "summary": "Canonical models",
                "responses": {
                    "200": {
                        "description": "OpenAI-style model list",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_AUTH,
                },
            }
        },
        "/v1/endpoints": {
            "get": {
                "summary": "Every endpoint's state and decayed statistics",
                "parameters": [_q("model", "only this model's endpoints", {"type": "string"})],
                "responses": {
                    "200": {
                        "description": "state (healthy, open, half-open, stale), TTFT/tps quantiles, error rate, price, samples, age, uptime; wanted_probes: the provider/model keys to probe sooner, most needed first",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_AUTH,
                    "404": _err("unknown model"),
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "security": [],
                "responses": {"200": {"description": "alive"}},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: 200 with status ok or degraded (serving from memory while the database is away)",
                "security": [],
                "responses": {"200": {"description": "ready"}},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **_AUTH,
                },
            }
        },
    },
}
