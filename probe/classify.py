"""Every way a probe can fail, mapped to one :class:`ErrorClass` in one function.

The protocol readers raise ``StreamErrorEvent``/``MalformedEvent`` (``signalbox.protocols.wire``),
the runner the small exceptions below, httpx its own; :func:`classify` is the only place that
decides the class. Exception messages never carry secrets: they name the provider-facing failure,
not the request.
"""

from __future__ import annotations

import httpx

from signalbox.protocols.wire import MalformedEvent, StreamErrorEvent
from signalbox.records import ErrorClass


class ProbeFailure(Exception):
    """Base of the failures the probe itself detects."""


class HTTPStatusFailure(ProbeFailure):
    """The provider answered with a non-2xx status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class ProbeTimeout(ProbeFailure):
    """A probe deadline passed: ``phase`` is ``"ttft"`` (no content yet) or ``"total"``."""

    def __init__(self, phase: str) -> None:
        super().__init__(f"{phase} deadline passed")
        self.phase = phase


def classify(
    failure: BaseException | None = None,
    *,
    got_headers: bool = True,
    finished: bool = True,
    content_chunks: int = 1,
    finish_reason: str | None = None,
) -> ErrorClass | None:
    """The error class of a probe, or None when it succeeded.

    ``failure`` is what was raised (None for a stream that ended normally); ``got_headers`` whether
    a response status arrived; ``finished`` whether the dialect's end marker (finish reason,
    ``[DONE]``, ``message_stop``) was seen; ``content_chunks`` how many content-bearing chunks came;
    ``finish_reason`` the reader's, as OpenAI's.
    """
    if failure is None:
        if content_chunks == 0 and finish_reason == "content_filter":
            # A refusal that says nothing (Anthropic's stop_reason "refusal", a Gemini safety
            # block) is the model's answer, not the endpoint failing: the router's
            # ``events.ended_early`` passes it on rather than counting it as ``empty``.
            return None
        if not finished:
            return ErrorClass.TRUNCATED
        if content_chunks == 0:
            return ErrorClass.EMPTY
        return None
    if isinstance(failure, HTTPStatusFailure):
        if failure.status == 429:
            return ErrorClass.RATE_LIMITED
        if failure.status >= 500:
            return ErrorClass.HTTP_5XX
        return ErrorClass.HTTP_4XX  # 4xx, and 1xx/3xx, which a streaming API never should send
    if isinstance(failure, StreamErrorEvent):
        return ErrorClass.STREAM_ERROR
    if isinstance(failure, MalformedEvent):
        return ErrorClass.STREAM_BROKEN
    if isinstance(failure, ProbeTimeout):
        return ErrorClass.TIMEOUT_TTFT if failure.phase == "ttft" else ErrorClass.TIMEOUT_TOTAL
    if isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout):
        return ErrorClass.CONNECT
    if isinstance(failure, httpx.PoolTimeout):
        return ErrorClass.TIMEOUT_TOTAL
    if isinstance(failure, httpx.TimeoutException):  # write/read timeouts of the client itself
        return ErrorClass.TIMEOUT_TTFT if content_chunks == 0 else ErrorClass.TIMEOUT_TOTAL
    if isinstance(failure, httpx.DecodingError):
        return ErrorClass.STREAM_BROKEN  # e.g. a gzip body cut or corrupted mid-stream
    if isinstance(failure, httpx.TransportError):
        # Closed before any response: the connection failed. After the status: the stream was cut.
        return ErrorClass.STREAM_BROKEN if got_headers else ErrorClass.CONNECT
    if isinstance(failure, UnicodeDecodeError | ValueError):
        return ErrorClass.STREAM_BROKEN
    return ErrorClass.STREAM_BROKEN if got_headers else ErrorClass.CONNECT
