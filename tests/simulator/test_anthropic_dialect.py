"""The Anthropic dialect as raw HTTP and through the official ``anthropic`` SDK."""

from __future__ import annotations

import json

import anthropic
import httpx
import pytest

from signalbox.simulator.testing import SimulatorThread
from tests.simulator.conftest import CHARLIE_KEY, MESSAGES_BODY, sse_data, sse_events


def test_streaming_messages_follow_anthropics_event_order(client: httpx.Client) -> None:
    response = client.post(
        "/charlie/v1/messages", json={**MESSAGES_BODY, "stream": True}, headers=CHARLIE_KEY
    )
    assert response.status_code == 200
    events = sse_events(response.text)
    assert events[:3] == ["message_start", "content_block_start", "ping"]
    assert events[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(events[3:-3]) == {"content_block_delta"}
    payloads = [json.loads(p) for p in sse_data(response.text)]
    assert [p["type"] for p in payloads] == events
    start = payloads[0]["message"]
    assert start["model"] == "llama-3-1-70b" and start["usage"]["input_tokens"] >= 1
    deltas = [p["delta"]["text"] for p in payloads if p["type"] == "content_block_delta"]
    message_delta = payloads[-2]
    assert message_delta["usage"]["output_tokens"] == len("".join(deltas).split())
    assert message_delta["delta"]["stop_reason"] in ("end_turn", "max_tokens")


def test_non_streaming_message_has_text_and_usage(client: httpx.Client) -> None:
    response = client.post("/charlie/v1/messages", json=MESSAGES_BODY, headers=CHARLIE_KEY)
    assert response.status_code == 200
    data = response.json()
    assert data["type"] == "message" and data["role"] == "assistant"
    assert data["content"][0]["type"] == "text" and data["content"][0]["text"]
    assert 1 <= data["usage"]["output_tokens"] <= 16


def test_anthropic_sdk_non_streaming_works_unchanged(sim: SimulatorThread) -> None:
    client = anthropic.Anthropic(
        base_url=f"{sim.base_url}/charlie", api_key="sk-ant-sim-charlie", max_retries=0
    )
    message = client.messages.create(
        model="qwen-2-5-72b", max_tokens=10, messages=[{"role": "user", "content": "hello"}]
    )
    assert message.content[0].text  # type: ignore[union-attr]
    assert message.usage.output_tokens <= 10


def test_anthropic_sdk_streaming_works_unchanged(sim: SimulatorThread) -> None:
    client = anthropic.Anthropic(
        base_url=f"{sim.base_url}/charlie", api_key="sk-ant-sim-charlie", max_retries=0
    )
    with client.messages.stream(
        model="llama-3-1-70b",
        max_tokens=12,
        system="be brief",
        messages=[{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text
    assert final.usage.output_tokens == len(text.split())
    assert final.stop_reason in ("end_turn", "max_tokens")


def test_anthropic_sdk_raises_authentication_error_without_key(sim: SimulatorThread) -> None:
    client = anthropic.Anthropic(base_url=f"{sim.base_url}/charlie", api_key="nope", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(
            model="llama-3-1-70b", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )


def test_anthropic_sdk_lists_models(sim: SimulatorThread) -> None:
    client = anthropic.Anthropic(
        base_url=f"{sim.base_url}/charlie", api_key="sk-ant-sim-charlie", max_retries=0
    )
    assert {m.id for m in client.models.list()} == {"llama-3-1-70b", "qwen-2-5-72b"}
