"""Server-sent events on the pass-through (pure): split a byte stream into events and look at an
OpenAI chunk cheaply. Before the first content chunk events are parsed fully (correctness decides
fallback); after it, byte tests keep per-chunk work minimal."""

from __future__ import annotations

from typing import Any

import orjson

DONE = b"[DONE]"


class EventSplitter:
    """Feed bytes, get complete events (``\\n\\n``-terminated, ``\\r\\n`` normalised)."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """Complete events (each including its terminating blank line)."""
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n")
        buf = self._buf + chunk if self._buf else chunk
        end = buf.rfind(b"\n\n")
        if end < 0:
            self._buf = buf
            return []
        self._buf = buf[end + 2 :]
        return [e + b"\n\n" for e in buf[:end].split(b"\n\n") if e]

    @property
    def pending(self) -> bytes:
        """Bytes of an unfinished event."""
        return self._buf


def event_data(event: bytes) -> bytes | None:
    """The joined ``data:`` payload of an event, or None (comments, pings, no data)."""
    if event.startswith(b"data: ") and b"\n" not in event[6:-2]:
        return event[6:-2]
    lines = [
        line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")
    ]
    return b"\n".join(lines) if lines else None


def event_name(event: bytes) -> bytes | None:
    """The ``event:`` field, if any."""
    for line in event.split(b"\n"):
        if line.startswith(b"event:"):
            return line[6:].strip()
    return None


def parse_json(data: bytes) -> Any:
    """orjson.loads, None when not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def chunk_has_content(chunk: Any) -> bool:
    """Whether an OpenAI chunk carries generated content (text, reasoning or a tool-call delta)."""
    if not isinstance(chunk, dict):
        return False
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            continue
        if delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning"):
            return True
        if delta.get("tool_calls"):
            return True
    return False


def _value_start(data: bytes, key: bytes) -> int:
    """The byte after ``key`` and its colon (JSON allows spaces around it); -1 if absent."""
    i = data.find(key)
    if i < 0:
        return -1
    j = i + len(key)
    n = len(data)
    while j < n and data[j] in b" \t:":
        j += 1
    return j


def nonempty_string(data: bytes, key: bytes) -> bool:
    """Whether ``key`` (quoted) is followed by a non-empty JSON string (byte test, no parse)."""
    start = 0
    while (i := data.find(key, start)) >= 0:
        j = _value_start(data[i:], key) + i
        if j + 1 < len(data) and data[j] == 0x22 and data[j + 1] != 0x22:
            return True
        start = i + len(key)
    return False


def has_array(data: bytes, key: bytes) -> bool:
    """Whether ``key`` (quoted) is followed by a JSON array anywhere in ``data`` (so the same
    word as a string value, ``"finish_reason":"tool_calls"``, does not count)."""
    start = 0
    while (i := data.find(key, start)) >= 0:
        j = _value_start(data[i:], key) + i
        if j < len(data) and data[j] == 0x5B:
            return True
        start = i + len(key)
    return False


def has_object(data: bytes, key: bytes) -> bool:
    """Whether ``key`` (quoted) is followed by a JSON object (e.g. ``"usage": {``)."""
    j = _value_start(data, key)
    return 0 <= j < len(data) and data[j] == 0x7B


def looks_like_content(data: bytes) -> bool:
    """Byte test for a content chunk after the first (no parse)."""
    return (
        nonempty_string(data, b'"content"')
        or nonempty_string(data, b'"reasoning_content"')
        or nonempty_string(data, b'"reasoning"')
        or has_array(data, b'"tool_calls"')
    )


def error_event(message: str, code: str, type_: str = "upstream_error") -> bytes:
    """An OpenAI-shaped error event, ending a stream that broke after its first byte."""
    body = {"error": {"message": message, "type": type_, "code": code}}
    return b"data: " + orjson.dumps(body) + b"\n\n"
