"""The hand-written OpenAPI 3 document of the router (served at ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

from signalbox.routing.objectives import OBJECTIVES, describe_objectives

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
                            "api": {"type": "string", "enum": ["openai", "anthropic"]},
                        },
                    },
                    "ranking": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/RankedEndpoint"},
                    },
                    "excluded": {"type": "array", "items": {"type": "object"}},
                    "reason": {"type": "string"},
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
                "properties": {
                    "model": {
                        "type": "string",
                        "description": "canonical model, optionally @objective",
                    },
                    "messages": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["role", "content"],
                            "properties": {
                                "role": {"type": "string"},
                                "content": {"type": "string"},
                            },
                        },
                    },
                    "stream": {"type": "boolean"},
                    "max_tokens": {"type": "integer", "minimum": 1},
                    "provider": {"$ref": "#/components/schemas/ProviderPreferences"},
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
                        "canonical model name, optionally @objective",
                        {"type": "string"},
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
                        {"type": "integer", "minimum": 1},
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
                        },
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            "text/event-stream": {"schema": {"type": "string"}},
                        },
                    },
                    "400": _err("malformed JSON or bad field"),
                    **_AUTH,
                    "404": _err("unknown model"),
                    "413": _err("request body too large"),
                    "422": _err("the upstream refused the request itself"),
                    "502": _err("every upstream attempt failed"),
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
                        "description": "state (healthy, open, half-open, stale), TTFT/tps quantiles, error rate, price, samples, age, uptime",
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
