"""OpenAI's wire protocol, pure: the request passes through, events are relayed byte for byte
and anything that is not the JSON chunk the protocol promises is never relayed."""

from __future__ import annotations

import pytest

from signalbox.protocols import PROTOCOLS
from signalbox.protocols.openai import PROTOCOL
from signalbox.protocols.wire import Content, MalformedEvent, StreamErrorEvent

CONTENT = b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n'


def test_the_registry_is_keyed_by_each_protocol_name() -> None:
    assert set(PROTOCOLS) == {"openai", "anthropic", "gemini"}
    assert all(name == p.name for name, p in PROTOCOLS.items())


def test_the_request_passes_through_for_the_upstream_model_with_usage_asked_for() -> None:
    body = {"model": "canonical", "messages": [], "provider": {"only": ["x"]}, "stream": False}
    out = PROTOCOL.request(body, "upstream-id")
    assert out == {
        "model": "upstream-id",
        "messages": [],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert PROTOCOL.url("http://h/v1", "m", stream=True) == "http://h/v1/chat/completions"


def test_content_comments_and_done_are_relayed_as_they_came() -> None:
    reader = PROTOCOL.reader("m", include_usage=True)
    assert reader.read(CONTENT) == (Content.ANSWER, CONTENT)
    assert reader.read(b": ping\n\n") == (Content.NONE, b": ping\n\n")
    assert reader.read(b"data: [DONE]\n\n") == (Content.NONE, b"data: [DONE]\n\n")
    assert reader.done


def test_an_empty_keep_alive_event_is_neither_content_nor_relayed() -> None:
    assert PROTOCOL.reader("m", include_usage=True).read(b"data: \n\n") == (Content.NONE, b"")


@pytest.mark.parametrize(
    "raw",
    [
        b'data: {"id": "c1", "choices": [{"delta": \n\n',  # cut JSON, after the first content too
        b"data: [1, 2]\n\n",
        b'data: {"choices": {"0": {}}}\n\n',
    ],
)
def test_data_that_is_not_a_chunk_is_malformed_even_after_the_first_content(raw: bytes) -> None:
    reader = PROTOCOL.reader("m", include_usage=True)
    reader.read(CONTENT)
    with pytest.raises(MalformedEvent):
        reader.read(raw)


@pytest.mark.parametrize(
    "raw",
    [b'data: {"error": {"message": "overloaded"}}\n\n', b"event: error\ndata: oops\n\n"],
)
def test_an_error_event_is_a_stream_error(raw: bytes) -> None:
    with pytest.raises(StreamErrorEvent):
        PROTOCOL.reader("m", include_usage=True).read(raw)
