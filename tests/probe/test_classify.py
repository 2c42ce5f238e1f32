"""One classify(): every failure to its ErrorClass, case by case."""

from __future__ import annotations

import httpx
import pytest

from signalbox.probe.classify import HTTPStatusFailure, ProbeTimeout, classify
from signalbox.protocols.wire import MalformedEvent, StreamErrorEvent
from signalbox.records import ErrorClass


@pytest.mark.parametrize(
    ("failure", "kwargs", "expected"),
    [
        (None, {}, None),
        (None, {"finished": False}, ErrorClass.TRUNCATED),
        (None, {"content_chunks": 0}, ErrorClass.EMPTY),
        (HTTPStatusFailure(429), {}, ErrorClass.RATE_LIMITED),
        (HTTPStatusFailure(400), {}, ErrorClass.HTTP_4XX),
        (HTTPStatusFailure(401), {}, ErrorClass.HTTP_4XX),
        (HTTPStatusFailure(500), {}, ErrorClass.HTTP_5XX),
        (HTTPStatusFailure(503), {}, ErrorClass.HTTP_5XX),
        (StreamErrorEvent("x"), {}, ErrorClass.STREAM_ERROR),
        (MalformedEvent("x"), {}, ErrorClass.STREAM_BROKEN),
        (ProbeTimeout("ttft"), {}, ErrorClass.TIMEOUT_TTFT),
        (ProbeTimeout("total"), {}, ErrorClass.TIMEOUT_TOTAL),
        (httpx.ConnectError("refused"), {"got_headers": False}, ErrorClass.CONNECT),
        (httpx.ConnectTimeout("slow"), {"got_headers": False}, ErrorClass.CONNECT),
        (httpx.RemoteProtocolError("cut"), {"got_headers": True}, ErrorClass.STREAM_BROKEN),
        (httpx.ReadError("reset"), {"got_headers": True}, ErrorClass.STREAM_BROKEN),
        (httpx.RemoteProtocolError("no response"), {"got_headers": False}, ErrorClass.CONNECT),
        (httpx.DecodingError("bad gzip"), {}, ErrorClass.STREAM_BROKEN),
    ],
)
def test_classify_maps_each_failure_to_its_class(
    failure: BaseException | None, kwargs: dict[str, object], expected: ErrorClass | None
) -> None:
    assert classify(failure, **kwargs) == expected  # type: ignore[arg-type]


def test_a_finished_stream_without_content_is_empty_not_truncated() -> None:
    assert classify(None, finished=True, content_chunks=0) is ErrorClass.EMPTY


def test_a_refusal_that_says_nothing_is_the_models_answer_not_empty() -> None:
    assert classify(None, finished=True, content_chunks=0, finish_reason="content_filter") is None
    # any other reason for ending without content is still the endpoint's failure
    assert classify(None, finished=True, content_chunks=0, finish_reason="stop") is ErrorClass.EMPTY
    # and a refusal does not excuse a failure that was raised
    cut = httpx.RemoteProtocolError("peer closed")
    assert (
        classify(cut, content_chunks=0, finish_reason="content_filter") is ErrorClass.STREAM_BROKEN
    )


def test_a_stream_cut_before_the_end_marker_is_truncated_even_with_content() -> None:
    assert classify(None, finished=False, content_chunks=5) is ErrorClass.TRUNCATED
