"""OpenAI-shaped errors: ``{"error": {"message", "type", "code"}}`` with the right status."""

from __future__ import annotations

import orjson
from aiohttp import web

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    502: "upstream_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """A failure the client should see, with its HTTP status and OpenAI error code."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        type_: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.type = type_ or _TYPES.get(status, "api_error")
        self.param = param  # the request field at fault, as OpenAI names it


def error_body(
    status: int, message: str, code: str, type_: str | None = None, param: str | None = None
) -> bytes:
    """The JSON bytes of an OpenAI error."""
    return orjson.dumps(
        {
            "error": {
                "message": message,
                "type": type_ or _TYPES.get(status, "api_error"),
                "param": param,
                "code": code,
            }
        }
    )


def error_response(
    status: int,
    message: str,
    code: str,
    type_: str | None = None,
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> web.Response:
    """An OpenAI-shaped error response."""
    return web.Response(
        status=status,
        body=error_body(status, message, code, type_, param),
        content_type="application/json",
        headers=headers,
    )


def from_api_error(exc: ApiError, headers: dict[str, str] | None = None) -> web.Response:
    """The response for an :class:`ApiError`."""
    return error_response(exc.status, exc.message, exc.code, exc.type, headers, exc.param)


def error_event(message: str, code: str, type_: str = "upstream_error") -> bytes:
    """An OpenAI-shaped error event, ending a stream that broke after its first byte."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return b"data: " + orjson.dumps(body) + b"\n\n"
