"""What every API dialect shares: the parsed request, the bad-request error and the dialect
interface (one dialect per wire protocol of ``signalbox.protocols``, registered in ``dialects``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

if TYPE_CHECKING:  # both import this module: BadRequest
    from signalbox.simulator.answer import ToolCall
    from signalbox.simulator.ask import Ask

MAX_TOKENS_LIMIT = 100_000


class BadRequest(ValueError):
    """The request body is invalid; answered with the dialect's 400 error."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class GenRequest:
    """A generation request, dialect-neutral."""

    model: str
    stream: bool
    max_tokens: int | None
    include_usage: bool
    input_chars: int
    ask: Ask | None = None  # what the answer should be (JSON, a tool call), its difficulty


@dataclass(frozen=True, slots=True)
class Reply:
    """The identity of one answer, shared by all its frames."""

    id: str
    created: int
    model: str
    input_tokens: int
    include_usage: bool


@dataclass(frozen=True, slots=True)
class Route:
    """A generation route under ``/{provider}``: its path (``{model}`` may stand in it) and
    whether it streams (None: the body's ``stream`` field says)."""

    path: str
    stream: bool | None = None


class Dialect(Protocol):
    """One API's wire format. Pure: bytes and dicts in, bytes and dicts out."""

    name: str  # the protocol's name (a catalog ``api`` value)
    content_type: str
    id_prefix: str  # of answer ids
    routes: tuple[Route, ...]
    models_path: str  # GET ``/{provider}{models_path}`` lists the models

    def parse(self, body: bytes, model: str | None, stream: bool | None) -> GenRequest:
        """Validate a request body (``model``/``stream`` given when the route fixes them)."""
        ...

    def auth_ok(self, headers: Any, query: Any, key: str) -> bool: ...
    def auth_refusal(self, provider: str) -> tuple[int, dict[str, Any]]:
        """The status and body answering a missing or wrong key."""
        ...

    def models_list(self, provider: str, upstream_ids: list[str]) -> dict[str, Any]: ...
    def error_body(self, status: int, message: str) -> dict[str, Any]: ...
    def stream_head(self, reply: Reply) -> bytes: ...
    def stream_content(self, reply: Reply, text: str) -> bytes: ...
    def stream_refusal(self, reply: Reply, text: str) -> bytes:
        """One piece of a refusal (empty bytes where the dialect sends none)."""
        ...

    def stream_tool_call(self, reply: Reply, call: ToolCall, piece: str, first: bool) -> bytes:
        """One piece of a tool call's arguments (the first opens the call)."""
        ...

    def stream_tail(
        self, reply: Reply, finish_reason: str, output_tokens: int, call: ToolCall | None = None
    ) -> bytes:
        """The end of a stream; ``finish_reason`` is ``stop``, ``length``, ``refusal`` or
        ``tool_calls`` (the dialect maps it), ``call`` the tool call the stream carried."""
        ...

    def stream_error(self, reply: Reply) -> bytes: ...
    def malformed(self, reply: Reply) -> bytes: ...
    def completion(
        self,
        reply: Reply,
        text: str,
        finish_reason: str,
        output_tokens: int,
        call: ToolCall | None = None,
    ) -> dict[str, Any]:
        """A whole answer: ``text`` (a refusal's when ``finish_reason`` is ``refusal``) or
        ``call``."""
        ...


def json_object(body: bytes, not_json: str) -> dict[str, Any]:
    """The request body as a JSON object; :class:`BadRequest` (``not_json``: the dialect's own
    wording) when it is not JSON, or not an object."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest(not_json) from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data


def check_max_tokens(value: Any, param: str, *, required: bool) -> int | None:
    """Validate a max-tokens field: an integer in 1..MAX_TOKENS_LIMIT."""
    if value is None:
        if required:
            raise BadRequest(f"{param}: Field required", param)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{param}: Input should be a valid integer", param)
    if not 1 <= value <= MAX_TOKENS_LIMIT:
        raise BadRequest(f"{param}: must be between 1 and {MAX_TOKENS_LIMIT}, got {value}", param)
    return value


def content_chars(content: Any, where: str) -> int:
    """Characters of a message content: a string or a list of text parts."""
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        total = 0
        for i, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise BadRequest(f"{where}[{i}]: must be an object with a 'type'", where)
            text = part.get("text", "")
            total += len(text) if isinstance(text, str) else 0
        return total
    if content is None:
        return 0
    raise BadRequest(f"{where}: must be a string or a list of content parts", where)
