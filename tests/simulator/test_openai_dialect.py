"""The OpenAI dialect as raw HTTP and through the official ``openai`` SDK."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from signalbox.simulator.testing import SimulatorThread
from tests.simulator.conftest import CHAT_BODY, sse_data


def test_streaming_chat_sends_role_then_content_then_finish_then_usage_then_done(
    client: httpx.Client,
) -> None:
    body = {**CHAT_BODY, "stream": True, "stream_options": {"include_usage": True}}
    response = client.post("/alpha/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    payloads = sse_data(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[0]["choices"][0]["delta"].get("content", "") == ""
    content = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert content, "no content deltas"
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finish) == 1
    assert finish[0]["choices"][0]["finish_reason"] in ("stop", "length")
    usage = chunks[-1]
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == sum(
        len(c["choices"][0]["delta"]["content"].split()) for c in content
    )
    assert chunks.index(finish[0]) == len(chunks) - 2


def test_content_deltas_carry_one_to_four_tokens(client: httpx.Client) -> None:
    body = {**CHAT_BODY, "stream": True, "max_tokens": 200}
    response = client.post("/alpha/v1/chat/completions", json=body)
    chunks = [json.loads(p) for p in sse_data(response.text)[:-1]]
    sizes = [
        len(c["choices"][0]["delta"]["content"].split())
        for c in chunks
        if c["choices"][0]["delta"].get("content")
    ]
    assert sizes[0] == 1
    assert all(1 <= s <= 4 for s in sizes)


def test_streaming_without_include_usage_sends_no_usage_chunk(client: httpx.Client) -> None:
    response = client.post("/alpha/v1/chat/completions", json={**CHAT_BODY, "stream": True})
    chunks = [json.loads(p) for p in sse_data(response.text)[:-1]]
    assert all(c["choices"] for c in chunks)
    assert all("usage" not in c for c in chunks)


def test_non_streaming_chat_returns_completion_with_usage(client: httpx.Client) -> None:
    response = client.post("/alpha/v1/chat/completions", json=CHAT_BODY)
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion"
    assert data["model"] == CHAT_BODY["model"]
    assert data["choices"][0]["message"]["content"]
    usage = data["usage"]
    assert usage["completion_tokens"] <= 16
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_canonical_model_name_is_accepted_too(client: httpx.Client) -> None:
    response = client.post(
        "/alpha/v1/chat/completions", json={**CHAT_BODY, "model": "qwen-2.5-72b"}
    )
    assert response.status_code == 200
    assert response.json()["model"] == "Qwen/Qwen2.5-72B-Instruct"


def test_models_lists_upstream_ids(client: httpx.Client) -> None:
    data = client.get("/alpha/v1/models").json()
    assert data["object"] == "list"
    assert {m["id"] for m in data["data"]} == {
        "meta-llama/Llama-3.1-70B-Instruct",
        "Qwen/Qwen2.5-72B-Instruct",
    }


def test_openai_sdk_non_streaming_works_unchanged(sim: SimulatorThread) -> None:
    client = openai.OpenAI(base_url=f"{sim.base_url}/alpha/v1", api_key="unused", max_retries=0)
    completion = client.chat.completions.create(
        model="meta-llama/Llama-3.1-70B-Instruct",
        messages=[{"role": "user", "content": "hello"}],
        max_tokens=8,
    )
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.completion_tokens <= 8


def test_openai_sdk_streaming_works_unchanged(sim: SimulatorThread) -> None:
    client = openai.OpenAI(
        base_url=f"{sim.base_url}/bravo/v1", api_key="sk-sim-bravo", max_retries=0
    )
    stream = client.chat.completions.create(
        model="qwen2.5-72b-instruct",
        messages=[{"role": "user", "content": "hello"}],
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage, finish = "", None, None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text
    assert finish in ("stop", "length")
    assert usage is not None and usage.completion_tokens == len(text.split())


def test_openai_sdk_lists_models(sim: SimulatorThread) -> None:
    client = openai.OpenAI(base_url=f"{sim.base_url}/delta/v1", api_key="unused", max_retries=0)
    assert len(list(client.models.list())) == 2


def test_openai_sdk_raises_authentication_error_on_wrong_key(sim: SimulatorThread) -> None:
    client = openai.OpenAI(base_url=f"{sim.base_url}/bravo/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(
            model="qwen2.5-72b-instruct", messages=[{"role": "user", "content": "x"}]
        )
