"""The incremental SSE reader: splits, line endings, comments, multi-line data."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from signalbox.protocols.sse import SSEEvent, SSEReader

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
