"""Per-read processing on the pass-through (pure): the endpoint's protocol reader says what each
upstream event carried (content, usage, finish, end, an error) and what to relay; the attempt's raw
marks take the timing, and become an ``Observation`` with the probe's metric definitions
(docs/architecture.md §2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from signalbox.measure import bunched
from signalbox.protocols.wire import MalformedEvent, StreamErrorEvent, StreamReader
from signalbox.records import ErrorClass, Observation, Source
from signalbox.router.live import EndpointInfo


@dataclass(slots=True)
class Marks:
    """Raw timestamps and counts of one attempt (derived into metrics at the end)."""

    sent_ns: int = 0
    first_ns: int = 0
    last_ns: int = 0
    content_chunks: int = 0
    burst: int = 0  # the most content events one read after the first content read carried
    input_tokens: int | None = None
    output_tokens: int | None = None
    status: int | None = None
    load_level: int = 0  # this router's requests in flight to the endpoint when it started
    connect_start_ns: int = 0
    connect_ns: int = 0  # TCP (+TLS) set-up when the pool had no open connection, else 0
    observation: Observation | None = None  # the attempt as measured, once it ended


class AttemptFailed(Exception):
    """One attempt failed with this error class (fallback may try the next endpoint)."""

    def __init__(self, error_class: ErrorClass, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message
        self.status = status


def ended_early(reader: StreamReader) -> None:
    """The stream ended before any content: raise ``empty`` or ``truncated``, unless it is a
    refusal that says nothing (finish_reason content_filter: Anthropic's stop_reason "refusal", a
    Gemini safety block), which is the model's answer and returns."""
    if reader.finish_reason == "content_filter":
        return
    if reader.done or reader.finished:
        raise AttemptFailed(ErrorClass.EMPTY, "the stream ended without content")
    raise AttemptFailed(ErrorClass.TRUNCATED, "the stream ended before any content")


def fold(marks: Marks, reader: StreamReader, events: list[bytes], now_ns: int) -> bytes:
    """Fold one read's raw events into ``marks`` through the protocol's reader; return the
    OpenAI bytes to pass on. An error event raises ``stream_error``; a malformed one (data that
    is not JSON, ...) ``stream_broken``: never relayed, before or after the first byte."""
    out = []
    first_read = not marks.first_ns
    content = 0
    try:
        for raw in events:
            kind, relay = reader.read(raw)
            if kind:
                if not marks.first_ns:
                    marks.first_ns = now_ns
                content += 1
                marks.last_ns = now_ns
            if relay:
                out.append(relay)
    except StreamErrorEvent as exc:
        raise AttemptFailed(ErrorClass.STREAM_ERROR, str(exc)) from None
    except MalformedEvent as exc:
        raise AttemptFailed(ErrorClass.STREAM_BROKEN, str(exc)) from None
    finally:
        marks.content_chunks += content
        if not first_read and content > marks.burst:
            marks.burst = content
    return b"".join(out)


def observation(
    info: EndpointInfo,
    endpoint_id: int,
    wall: float,
    marks: Marks,
    error: ErrorClass | None,
    end_ns: int,
) -> Observation:
    """The attempt as a ``traffic`` observation: TTFT to the first content, tps excluding it."""
    ttft_ms = (marks.first_ns - marks.sent_ns) / 1e6 if marks.first_ns else None
    estimated = marks.output_tokens is None
    out_tokens = marks.content_chunks if estimated else marks.output_tokens
    tps = itl = None
    if (
        marks.first_ns
        and marks.last_ns > marks.first_ns
        and not bunched(marks.content_chunks, marks.burst)
    ):
        span_s = (marks.last_ns - marks.first_ns) / 1e9
        if out_tokens and out_tokens >= 2:
            tps = (out_tokens - 1) / span_s
        if marks.content_chunks >= 2:
            itl = span_s * 1000 / (marks.content_chunks - 1)
    price = info.price
    cost = None
    if (
        price.input_per_mtok is not None
        and price.output_per_mtok is not None
        and marks.input_tokens is not None
        and out_tokens is not None
    ):
        cost = (
            marks.input_tokens * price.input_per_mtok + out_tokens * price.output_per_mtok
        ) / 1e6
    return Observation(
        endpoint_id=endpoint_id,
        ts=datetime.fromtimestamp(wall, UTC),
        source=Source.TRAFFIC,
        ok=error is None,
        error_class=error,
        http_status=marks.status,
        region=info.ref.provider.region,
        ttft_ms=ttft_ms,
        tps=tps,
        itl_ms=itl,
        connect_ms=marks.connect_ns / 1e6 if marks.connect_ns else None,
        e2e_ms=(end_ns - marks.sent_ns) / 1e6 if marks.sent_ns else None,
        input_tokens=marks.input_tokens,
        output_tokens=out_tokens if marks.first_ns or not estimated else None,
        tokens_estimated=estimated,
        cost_usd=cost,
    )
