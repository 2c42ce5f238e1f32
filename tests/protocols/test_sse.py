"""The one SSE parser: splits, line endings, comments, multi-line data, raw blocks to relay."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from signalbox.protocols.sse import (
    SSEEvent,
    SSEParser,
    SSEReader,
    event_data,
    event_name,
    parse_event,
)


def _clean(value: bytes) -> bytes:
    """Field values hold no line ends (those end the line)."""
    return value.replace(b"\r", b"").replace(b"\n", b"")


STREAM = (
    b": ping\r\n\r\n"
    b'event: message_start\r\ndata: {"a": 1}\r\n\r\n'
    b"data: line one\ndata: line two\n\n"
    b"data:no-space\rdata: caf\xc3\xa9\r\r"
    b"id: 7\ndata: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent("message_start", '{"a": 1}'),
    SSEEvent("message", "line one\nline two"),
    SSEEvent("message", "no-space\ncafé"),
    SSEEvent("message", "[DONE]", "7"),
]


def read_in_pieces(data: bytes, cuts: list[int]) -> tuple[list[SSEEvent], SSEReader]:
    reader = SSEReader()
    events: list[SSEEvent] = []
    last = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        events += reader.feed(data[last:cut])
        last = cut
    return events, reader


def test_reader_parses_lf_crlf_and_cr_line_endings_comments_and_multiline_data() -> None:
    events, reader = read_in_pieces(STREAM, [])
    assert events == EXPECTED
    assert reader.comments == 1


def test_reader_gives_the_same_events_byte_by_byte() -> None:
    events, _ = read_in_pieces(STREAM, list(range(len(STREAM))))
    assert events == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=20))
def test_reader_gives_the_same_events_whatever_the_read_boundaries(cuts: list[int]) -> None:
    events, _ = read_in_pieces(STREAM, cuts)
    assert events == EXPECTED


def test_reader_waits_for_the_blank_line_before_dispatching() -> None:
    reader = SSEReader()
    assert reader.feed(b'data: {"x": 1}\n') == []
    assert reader.has_partial_event
    assert reader.feed(b"\n") == [SSEEvent("message", '{"x": 1}')]
    assert not reader.has_partial_event


def test_reader_treats_cr_then_lf_in_the_next_read_as_one_line_end() -> None:
    reader = SSEReader()
    assert reader.feed(b"data: a\r") == []
    assert reader.feed(b"\n\r\n") == [SSEEvent("message", "a")]


def test_reader_ignores_a_leading_byte_order_mark_and_unknown_fields() -> None:
    reader = SSEReader()
    assert reader.feed(b"\xef\xbb\xbfretry: 10\nfoo: bar\ndata: x\n\n") == [
        SSEEvent("message", "x")
    ]


def test_comment_only_blocks_dispatch_nothing() -> None:
    reader = SSEReader()
    assert reader.feed(b": ping\n\n: keep-alive\n\n") == []
    assert reader.comments == 2


# --- the raw-block parser under the reader: what the router relays -----------------------------


def test_parser_hands_out_each_event_with_lf_line_ends_ready_to_relay() -> None:
    parser = SSEParser()
    blocks = parser.feed(b'data: {"a": 1}\r\n\r\n: ping\n\nevent: x\rdata: y\r\r')
    assert blocks == [b'data: {"a": 1}\n\n', b": ping\n\n", b"event: x\ndata: y\n\n"]
    assert [event_data(b) for b in blocks] == [b'{"a": 1}', None, b"y"]
    assert [event_name(b) for b in blocks] == [None, None, b"x"]


def test_blank_lines_between_events_end_nothing_and_are_not_relayed() -> None:
    parser = SSEParser()
    assert parser.feed(b"\n\n\ndata: a\n\n\n\n") == [b"data: a\n\n"]
    assert parser.feed(b"\n") == []
    assert parser.feed(b"data: b\n\n") == [b"data: b\n\n"]


def test_a_byte_order_mark_split_across_reads_is_dropped() -> None:
    parser = SSEParser()
    assert parser.feed(b"\xef") == [] and parser.feed(b"\xbb") == []
    assert parser.feed(b"\xbfdata: x\n\n") == [b"data: x\n\n"]


def test_field_names_are_exact_and_a_colonless_data_line_is_empty_data() -> None:
    assert event_data(b"database: 1\ndata\n\n") == b""
    assert event_data(b"datum: 1\n\n") is None
    assert event_data(b"data:x\ndata:  y\n\n") == b"x\n y"
    assert parse_event(b"event: e\n\n")[0] is None  # no data field: nothing is dispatched


LINE_ENDS = st.sampled_from([b"\n", b"\r\n", b"\r"])
FIELD_LINE = st.one_of(
    st.builds(lambda v: b"data: " + v, st.binary(max_size=12).map(_clean)),
    st.builds(lambda v: b"event: " + v, st.binary(min_size=1, max_size=8).map(_clean)),
    st.builds(lambda v: b": " + v, st.binary(max_size=8).map(_clean)),
    st.builds(lambda v: b"id: " + v, st.binary(max_size=4).map(_clean)),
)


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """A stream of events, each line ended by any of LF, CRLF or CR."""
    out = b""
    for _ in range(draw(st.integers(0, 6))):
        for line in draw(st.lists(FIELD_LINE, min_size=1, max_size=4)):
            out += line + draw(LINE_ENDS)
        out += draw(LINE_ENDS)
    return out


@given(streams(), st.lists(st.integers(min_value=0, max_value=400), max_size=30))
def test_any_split_of_any_stream_gives_the_same_events_and_raw_blocks(
    stream: bytes, cuts: list[int]
) -> None:
    whole = SSEParser().feed(stream)
    parser = SSEParser()
    pieces: list[bytes] = []
    last = 0
    for cut in [*sorted({c for c in cuts if c <= len(stream)}), len(stream)]:
        pieces += parser.feed(stream[last:cut])
        last = cut
    assert pieces == whole
    events, _ = read_in_pieces(stream, cuts)
    assert events == read_in_pieces(stream, [])[0]
