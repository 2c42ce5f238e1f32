"""The contract every wire protocol module implements, and what its stream readers report.

A protocol (``openai``, ``anthropic``, ``gemini``) knows its URLs, auth headers, request shapes,
stream events and error bodies. Its :class:`StreamReader` folds one response's SSE events (raw
blocks from :class:`~signalbox.protocols.sse.SSEParser`) into what the probe and the router measure
(content kind, usage, finish, end) and, for a relay, the OpenAI ``chat.completion.chunk`` events an
app receives. Kept apart from the registry (``signalbox.protocols``) so protocol modules can import
it without importing each other.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Protocol

# Folds one OpenAI chunk (a parsed ``chat.completion.chunk``) into a whole completion.
ChunkSink = Callable[[dict[str, Any]], None]


class Content(enum.IntEnum):
    """What one event carried: nothing countable, reasoning, or answer (text or tool call)."""

    NONE = 0
    REASONING = 1
    ANSWER = 2


class StreamFailure(Exception):
    """A response stream that went wrong after HTTP 200 (the message never holds a secret)."""


class StreamErrorEvent(StreamFailure):
    """HTTP 200, then an error event inside the stream (docs/architecture.md §2: ``stream_error``)."""


class MalformedEvent(StreamFailure):
    """An event that is not what the protocol promises, e.g. data that is not JSON
    (docs/architecture.md §2: ``stream_broken``, "cut, or an event that is not valid JSON, mid-stream")."""


class TranslationError(ValueError):
    """The app's OpenAI request has no form in the endpoint's protocol; the message names the
    field and what to send instead. Nothing was sent."""


class StreamReader(Protocol):
    """One response's reader: feed it every raw SSE event block, in order."""

    finished: bool  # a finish / stop reason was seen
    finish_reason: str | None  # that reason as OpenAI's finish_reason ("content_filter": refused)
    done: bool  # the terminal event ([DONE], message_stop, ...): the stream is over
    input_tokens: int | None
    output_tokens: int | None

    def read(self, raw: bytes) -> tuple[Content, bytes]:
        """Fold one event; return its content kind and the OpenAI event bytes to relay (``b""``
        when nothing is relayed, or the reader was made with ``relay=False``). Raises
        :class:`StreamErrorEvent` or :class:`MalformedEvent`."""
        ...


class WireProtocol(Protocol):
    """One API's wire format, as a catalog ``api`` value names it. Pure: no I/O."""

    name: str
    # What a server root plus a provider path needs to become the ``base_url`` the protocol's
    # official SDK takes ("/v1" for OpenAI's, nothing for Anthropic's and Gemini's).
    base_path: str

    def url(self, base_url: str, upstream_model: str, *, stream: bool) -> str:
        """The URL of one generation request (streamed or whole) at ``base_url``."""
        ...

    def headers(self, api_key: str | None) -> dict[str, str]:
        """Content type, version and auth headers (the key goes in no other place)."""
        ...

    def probe_request(self, upstream_model: str, prompt: str, max_tokens: int) -> dict[str, Any]:
        """The body of a small streaming request the probe sends."""
        ...

    def request(self, body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
        """The native streaming request equivalent to an OpenAI chat request; raises
        :class:`TranslationError` naming the field when there is none."""
        ...

    def reader(
        self, model: str, *, include_usage: bool, relay: bool = True, sink: ChunkSink | None = None
    ) -> StreamReader:
        """A reader for one response stream. ``model`` names the answer's model in relayed chunks;
        ``include_usage``: relay the usage chunk (the app asked for it); ``relay``: build the OpenAI
        bytes at all; ``sink`` receives every OpenAI chunk as a dict (to build a whole answer)."""
        ...

    def error_message(self, body: bytes) -> str | None:
        """The human message of a native error body (a refusal or an in-stream error event)."""
        ...

    def provider_refusal(self, status: int, body: bytes) -> bool:
        """Whether a 4xx that usually blames the app's request (400, 413, 422) is in fact the
        endpoint's own fault (e.g. Gemini's 400 for an invalid API key): worth the next one."""
        ...
