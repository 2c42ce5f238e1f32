"""An incremental Server-Sent Events reader: bytes in, complete events out, no I/O.

Follows the WHATWG event-stream rules that matter for LLM streams: an event may be split across any
number of reads (even inside a multi-byte character or between ``\\r`` and ``\\n``); lines end with
LF, CRLF or CR; lines starting with ``:`` are comments (``: ping`` keep-alives); several ``data:``
lines of one event are joined with ``\\n``; a blank line dispatches the event.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: its type (``message`` when none was given) and its data."""

    event: str
    data: str
    id: str | None = None


class SSEReader:
    """Feed raw bytes with :meth:`feed`; it returns the events completed by those bytes."""

    __slots__ = ("_buf", "_comments", "_data", "_event", "_id", "_pending_cr", "_started")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pending_cr = False  # the last byte seen was \r: a following \n belongs to it
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._started = False
        self._comments = 0

    @property
    def comments(self) -> int:
        """How many comment lines (keep-alives) were seen."""
        return self._comments

    @property
    def has_partial_event(self) -> bool:
        """Whether bytes of an event that was never dispatched are pending (a cut stream)."""
        return bool(self._buf.strip()) or bool(self._data) or bool(self._event)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume ``chunk`` and return every event it completes, in order."""
        if not chunk:
            return []
        if self._pending_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._pending_cr = False
        buf = self._buf
        buf += chunk
        events: list[SSEEvent] = []
        start = 0
        n = len(buf)
        while start < n:
            lf = buf.find(b"\n", start)
            cr = buf.find(b"\r", start)
            if lf < 0 and cr < 0:
                break
            if cr < 0 or (0 <= lf < cr):
                end, nxt = lf, lf + 1
            elif cr + 1 < n:
                end, nxt = cr, cr + 2 if buf[cr + 1] == 0x0A else cr + 1
            else:  # \r is the last byte: the line ends; a \n may follow in the next read
                end, nxt = cr, cr + 1
                self._pending_cr = True
            event = self._line(bytes(buf[start:end]))
            if event is not None:
                events.append(event)
            start = nxt
        del buf[:start]
        return events

    def _line(self, raw: bytes) -> SSEEvent | None:
        if not self._started:
            self._started = True
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        if not raw:
            return self._dispatch()
        line = raw.decode("utf-8", errors="replace")
        if line[0] == ":":
            self._comments += 1
            return None
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        # "retry" and unknown fields are ignored, as the standard says.
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._data and not self._event:
            return None
        event = SSEEvent(self._event or "message", "\n".join(self._data), self._id)
        self._data = []
        self._event = ""
        return event
