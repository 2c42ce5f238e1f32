"""The one Server-Sent Events parser (pure): bytes in, events out, for the probe, router and tests.

Correct per the WHATWG event-stream rules that matter for LLM streams: an event may be split across
any number of reads (inside a multi-byte character, or between the ``\\r`` and ``\\n`` of a CRLF);
lines end with LF, CRLF or CR; a leading byte-order mark is dropped; lines starting with ``:`` are
comments (``: ping`` keep-alives); several ``data:`` lines of one event are joined with ``\\n``; a
blank line ends the event, which is dispatched only if it had a ``data`` field.

Fast on the router's pass-through: :class:`SSEParser` only finds event boundaries with bytes
methods (line ends normalised to ``\\n``) and hands out each event's raw bytes, so an OpenAI event is
relayed as it came; the fields are read on demand (:func:`event_data`, :func:`event_name`,
:func:`parse_event`), with a fast path for the common single ``data:`` line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: its type (``message`` when none was given), data and last event id."""

    event: str
    data: str
    id: str | None = None
    raw: bytes = field(default=b"", compare=False, repr=False)


class SSEParser:
    """Feed raw bytes with :meth:`feed`; it returns the raw blocks of the events they complete.

    Each block is the event's lines with ``\\n`` line ends, ending in a blank line (``\\n\\n``).
    Comment-only blocks are returned too (a relay passes keep-alives on); blank lines are not.
    """

    __slots__ = ("_buf", "_pending_cr", "_started")

    def __init__(self) -> None:
        self._buf = b""
        self._pending_cr = False  # the last byte seen was \r: a following \n belongs to it
        self._started = False  # past the place where a byte-order mark may stand

    @property
    def pending(self) -> bytes:
        """Bytes of an event not finished yet (line ends normalised)."""
        return self._buf

    @property
    def has_partial_event(self) -> bool:
        """Whether bytes of an event that was never ended are pending (a cut stream)."""
        return bool(self._buf.strip())

    def feed(self, chunk: bytes) -> list[bytes]:
        """Consume ``chunk`` and return the raw block of every event it completes, in order."""
        if not chunk:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if chunk[0] == 0x0A:  # the \n of a CRLF split across two reads
                chunk = chunk[1:]
        if b"\r" in chunk:
            self._pending_cr = chunk[-1] == 0x0D
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buf = self._buf + chunk if self._buf else chunk
        if not self._started:
            if len(buf) < 3 and BOM.startswith(buf):
                self._buf = buf  # perhaps a byte-order mark split across reads
                return []
            self._started = True
            buf = buf.removeprefix(BOM)
        end = buf.rfind(b"\n\n")
        if end < 0:
            self._buf = buf
            return []
        if end == len(buf) - 2 and buf[0] != 0x0A and buf.find(b"\n\n") == end:
            self._buf = b""
            return [buf]  # the common read: exactly one whole event
        self._buf = buf[end + 2 :]
        # Runs of blank lines (between events or at the start) end no event: strip them.
        return [b + b"\n\n" for block in buf[:end].split(b"\n\n") if (b := block.strip(b"\n"))]


def event_data(raw: bytes) -> bytes | None:
    """The joined ``data`` field of a raw event block, or None when it has none (comments)."""
    if raw[:6] == b"data: " and raw.find(b"\n", 6) == len(raw) - 2:
        return raw[6:-2]  # the common case: one "data: ..." line
    data: list[bytes] | None = None
    for line in raw.split(b"\n"):
        if line[:4] != b"data":
            continue
        name, _, value = line.partition(b":")
        if name != b"data":
            continue
        if data is None:
            data = []
        data.append(value[1:] if value[:1] == b" " else value)
    return None if data is None else b"\n".join(data)


def event_name(raw: bytes) -> bytes | None:
    """The ``event`` field of a raw event block, if any (the last one wins)."""
    if raw[:5] == b"data:":
        if b"\nevent:" not in raw:
            return None
    elif raw[:6] != b"event:" and b"\nevent:" not in raw:
        return None
    found = None
    for line in raw.split(b"\n"):
        if line[:6] == b"event:":
            found = line[7:] if line[6:7] == b" " else line[6:]
    return found


def parse_event(raw: bytes, last_id: str | None = None) -> tuple[SSEEvent | None, str | None]:
    """The event a raw block dispatches (None without a ``data`` field), and the last event id."""
    data: list[str] = []
    has_data = False
    event = ""
    for line in raw.decode("utf-8", errors="replace").split("\n"):
        if not line or line[0] == ":":
            continue
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            data.append(value)
            has_data = True
        elif name == "event":
            event = value
        elif name == "id" and "\0" not in value:
            last_id = value
        # "retry" and unknown fields are ignored, as the standard says.
    if not has_data:
        return None, last_id
    return SSEEvent(event or "message", "\n".join(data), last_id, raw), last_id


def comment_lines(raw: bytes) -> int:
    """How many comment lines (keep-alives such as ``: ping``) a raw block holds."""
    if raw[:1] != b":" and b"\n:" not in raw:
        return 0
    return sum(1 for line in raw.split(b"\n") if line[:1] == b":")


class SSEReader:
    """Whole events out of bytes: :class:`SSEParser` plus field parsing, the last event id kept
    across events and the comment lines counted (what the probe and tests read)."""

    __slots__ = ("_comments", "_last_id", "parser")

    def __init__(self) -> None:
        self.parser = SSEParser()
        self._last_id: str | None = None
        self._comments = 0

    @property
    def comments(self) -> int:
        """How many comment lines (keep-alives) were seen."""
        return self._comments

    @property
    def has_partial_event(self) -> bool:
        """Whether bytes of an event that was never dispatched are pending (a cut stream)."""
        return self.parser.has_partial_event

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume ``chunk`` and return every event it completes, in order."""
        events = []
        for raw in self.parser.feed(chunk):
            self._comments += comment_lines(raw)
            event, self._last_id = parse_event(raw, self._last_id)
            if event is not None:
                events.append(event)
        return events
