"""Per-read SSE processing on the pass-through (pure): content detection, usage, finish and
error events update one attempt's raw marks; before the first content every event is parsed (it
decides fallback), after it byte tests keep per-chunk work minimal. The marks become an
``Observation`` with the probe's metric definitions (DESIGN §2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from signalbox.records import ErrorClass, Observation, Source
from signalbox.router.anthropic import StreamTranslator
from signalbox.router.completion import CompletionBuilder
from signalbox.router.live import EndpointInfo
from signalbox.router.sse import (
    DONE,
    chunk_has_content,
    event_data,
    event_name,
    has_object,
    looks_like_content,
    nonempty_string,
    parse_json,
)


@dataclass(slots=True)
class Marks:
    """Raw timestamps and counts of one attempt (derived into metrics at the end)."""

    sent_ns: int = 0
    first_ns: int = 0
    last_ns: int = 0
    content_chunks: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    done: bool = False
    finish: bool = False
    status: int | None = None
    builder: CompletionBuilder | None = None
    translator: StreamTranslator | None = None
    include_usage: bool = True
    load_level: int = 0  # this router's requests in flight to the endpoint when it started
    connect_start_ns: int = 0
    connect_ns: int = 0  # TCP (+TLS) set-up when the pool had no open connection, else 0


class AttemptFailed(Exception):
    """One attempt failed with this error class (fallback may try the next endpoint)."""

    def __init__(self, error_class: ErrorClass, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message
        self.status = status


def ended_early(marks: Marks) -> None:
    """The stream ended before any content: raise ``empty`` or ``truncated``."""
    if marks.done or marks.finish:
        raise AttemptFailed(ErrorClass.EMPTY, "the stream ended without content")
    raise AttemptFailed(ErrorClass.TRUNCATED, "the stream ended before any content")


# --- per-read event processing ---------------------------------------------------------


def openai_events(marks: Marks, events: list[bytes], now_ns: int) -> bytes:
    """Fold one read's OpenAI events into ``marks``; return the bytes to pass on."""
    out = []
    for ev in events:
        data = event_data(ev)
        if data is None:
            out.append(ev)
            continue
        if data == DONE:
            marks.done = True
            out.append(ev)
            continue
        if not marks.first_ns or marks.builder is not None:
            chunk = parse_json(data)
            if not isinstance(chunk, dict):
                raise AttemptFailed(ErrorClass.STREAM_BROKEN, "malformed event")
            if "error" in chunk:
                raise AttemptFailed(ErrorClass.STREAM_ERROR, _error_message(chunk))
            if marks.builder is not None:
                marks.builder.add(chunk)
            if chunk_has_content(chunk):
                if not marks.first_ns:
                    marks.first_ns = now_ns
                marks.content_chunks += 1
                marks.last_ns = now_ns
            if any(
                c.get("finish_reason") for c in chunk.get("choices") or () if isinstance(c, dict)
            ):
                marks.finish = True
            if chunk.get("usage"):
                _usage(marks, chunk["usage"])
                if not marks.include_usage and not chunk.get("choices"):
                    continue
            out.append(ev)
            continue
        if looks_like_content(data):
            marks.content_chunks += 1
            marks.last_ns = now_ns
        elif b'"error"' in data:
            chunk = parse_json(data)
            if isinstance(chunk, dict) and "error" in chunk:
                raise AttemptFailed(ErrorClass.STREAM_ERROR, _error_message(chunk))
        if nonempty_string(data, b'"finish_reason"'):
            marks.finish = True
        if has_object(data, b'"usage"'):
            chunk = parse_json(data)
            if isinstance(chunk, dict) and chunk.get("usage"):
                _usage(marks, chunk["usage"])
                if not marks.include_usage and not chunk.get("choices"):
                    continue
        out.append(ev)
    return b"".join(out)


def anthropic_events(marks: Marks, events: list[bytes], now_ns: int) -> bytes:
    """Translate one read's Anthropic events to OpenAI chunks, folding them into ``marks``."""
    tr = marks.translator
    assert tr is not None
    out = []
    for ev in events:
        translated, content = tr.translate(event_name(ev), event_data(ev))
        if tr.error:
            cls = (
                ErrorClass.STREAM_BROKEN
                if tr.error == "malformed event"
                else ErrorClass.STREAM_ERROR
            )
            raise AttemptFailed(cls, tr.error)
        if content:
            if not marks.first_ns:
                marks.first_ns = now_ns
            marks.content_chunks += 1
            marks.last_ns = now_ns
        if tr.finished:
            marks.done = True
            marks.input_tokens, marks.output_tokens = tr.input_tokens, tr.output_tokens
        if translated:
            if marks.builder is not None:
                for piece in translated.split(b"\n\n"):
                    chunk = parse_json(piece[6:]) if piece.startswith(b"data: {") else None
                    if isinstance(chunk, dict):
                        marks.builder.add(chunk)
            out.append(translated)
    return b"".join(out)


def _usage(marks: Marks, usage: Any) -> None:
    if isinstance(usage, dict):
        marks.input_tokens = usage.get("prompt_tokens", marks.input_tokens)
        marks.output_tokens = usage.get("completion_tokens", marks.output_tokens)


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
    if marks.first_ns and marks.last_ns > marks.first_ns:
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


def _error_message(chunk: dict[str, Any]) -> str:
    err = chunk.get("error")
    if isinstance(err, dict):
        return str(err.get("message") or err.get("type") or "error event")[:300]
    return str(err)[:300]
