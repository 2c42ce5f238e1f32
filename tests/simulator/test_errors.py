"""Every error kind, in each dialect's own shape and status; bad input always gets a 400."""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

from signalbox.simulator.testing import SimulatorThread
from tests.simulator.conftest import CHARLIE_KEY, CHAT_BODY, MESSAGES_BODY, sse_data, sse_events

CHAT = "/alpha/v1/chat/completions"
MESSAGES = "/charlie/v1/messages"


def _openai_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status
    error = response.json()["error"]
    assert {"message", "type", "code"} <= error.keys()
    return error


def _anthropic_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status
    data = response.json()
    assert data["type"] == "error"
    return data["error"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode(),
        json.dumps({"model": "qwen-2.5-72b"}).encode(),
        json.dumps({"model": "qwen-2.5-72b", "messages": "hello"}).encode(),
        json.dumps({"model": "qwen-2.5-72b", "messages": [1]}).encode(),
        json.dumps({**CHAT_BODY, "max_tokens": 100_001}).encode(),
        json.dumps({**CHAT_BODY, "max_tokens": 0}).encode(),
        json.dumps({**CHAT_BODY, "max_tokens": "ten"}).encode(),
        json.dumps({**CHAT_BODY, "stream": "yes"}).encode(),
        json.dumps({**CHAT_BODY, "stream_options": 3}).encode(),
    ],
)
def test_bad_chat_request_gets_openai_400(client: httpx.Client, body: bytes) -> None:
    error = _openai_error(client.post(CHAT, content=body), 400)
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        json.dumps({**MESSAGES_BODY, "max_tokens": None}).encode(),
        json.dumps({**MESSAGES_BODY, "max_tokens": -5}).encode(),
        json.dumps({**MESSAGES_BODY, "messages": {"role": "user"}}).encode(),
        json.dumps({**MESSAGES_BODY, "messages": [{"role": "robot", "content": "x"}]}).encode(),
        json.dumps({**MESSAGES_BODY, "system": 5}).encode(),
    ],
)
def test_bad_messages_request_gets_anthropic_400(client: httpx.Client, body: bytes) -> None:
    response = client.post(MESSAGES, content=body, headers=CHARLIE_KEY)
    assert _anthropic_error(response, 400)["type"] == "invalid_request_error"


def test_unknown_provider_gets_404(client: httpx.Client) -> None:
    assert _openai_error(client.post("/nobody/v1/chat/completions", json=CHAT_BODY), 404)
    response = client.post("/nobody/v1/messages", json=MESSAGES_BODY)
    assert _anthropic_error(response, 404)["type"] == "not_found_error"


def test_unknown_model_gets_404(client: httpx.Client) -> None:
    error = _openai_error(client.post(CHAT, json={**CHAT_BODY, "model": "gpt-9"}), 404)
    assert error["code"] == "model_not_found"
    response = client.post(MESSAGES, json={**MESSAGES_BODY, "model": "x"}, headers=CHARLIE_KEY)
    assert _anthropic_error(response, 404)["type"] == "not_found_error"


def test_unknown_route_gets_json_404(client: httpx.Client) -> None:
    assert _openai_error(client.get("/no/such/route"), 404)


def test_missing_or_wrong_key_gets_401(client: httpx.Client) -> None:
    assert _openai_error(client.post("/bravo/v1/chat/completions", json=CHAT_BODY), 401)
    wrong = {"Authorization": "Bearer nope"}
    assert _openai_error(
        client.post("/bravo/v1/chat/completions", json=CHAT_BODY, headers=wrong), 401
    )
    response = client.post(MESSAGES, json=MESSAGES_BODY, headers={"x-api-key": "nope"})
    assert _anthropic_error(response, 401)["type"] == "authentication_error"


def test_right_key_is_accepted(client: httpx.Client) -> None:
    headers = {"Authorization": "Bearer sk-sim-bravo"}
    body = {**CHAT_BODY, "model": "llama-3.1-70b-instruct"}
    assert client.post("/bravo/v1/chat/completions", json=body, headers=headers).status_code == 200


@pytest.mark.parametrize(("error", "status"), [("http_500", 500), ("http_503", 503)])
def test_injected_server_errors_get_5xx(
    sim: SimulatorThread, client: httpx.Client, error: str, status: int
) -> None:
    sim.fault("alpha", "error_rate", rate=1.0, error=error)
    assert _openai_error(client.post(CHAT, json=CHAT_BODY), status)["type"] == "server_error"
    sim.fault("charlie", "error_rate", rate=1.0, error=error)
    assert _anthropic_error(client.post(MESSAGES, json=MESSAGES_BODY, headers=CHARLIE_KEY), status)


def test_rate_limit_gets_429_with_retry_after(sim: SimulatorThread, client: httpx.Client) -> None:
    sim.fault("alpha", "error_rate", rate=1.0, error="rate_limit_429")
    response = client.post(CHAT, json=CHAT_BODY)
    assert _openai_error(response, 429)
    assert int(response.headers["Retry-After"]) >= 1


def test_openai_sdk_sees_rate_limit_error(sim: SimulatorThread) -> None:
    sim.fault("alpha", "error_rate", rate=1.0, error="rate_limit_429")
    client = openai.OpenAI(base_url=f"{sim.base_url}/alpha/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="qwen-2.5-72b", messages=[{"role": "user", "content": "x"}]
        )


def test_outage_gets_503_on_every_request(sim: SimulatorThread, client: httpx.Client) -> None:
    sim.fault("alpha", "outage")
    for _ in range(5):
        assert _openai_error(client.post(CHAT, json=CHAT_BODY), 503)


def test_hang_sends_nothing_until_client_gives_up(sim: SimulatorThread) -> None:
    sim.fault("alpha", "hang")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{sim.base_url}{CHAT}", json={**CHAT_BODY, "stream": True}, timeout=0.3)


def test_cut_stream_breaks_the_connection_mid_way(sim: SimulatorThread) -> None:
    sim.fault("alpha", "error_rate", rate=1.0, error="cut_stream")
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream(
            "POST", f"{sim.base_url}{CHAT}", json={**CHAT_BODY, "stream": True}, timeout=5
        ) as response,
    ):
        assert response.status_code == 200
        for part in response.iter_bytes():
            received += part
    assert b"[DONE]" not in received


def test_malformed_event_sends_a_data_line_that_is_not_json(
    sim: SimulatorThread, client: httpx.Client
) -> None:
    sim.fault("alpha", "error_rate", rate=1.0, error="malformed_event")
    payloads = sse_data(client.post(CHAT, json={**CHAT_BODY, "stream": True}).text)
    bad = 0
    for payload in payloads[:-1]:
        try:
            json.loads(payload)
        except json.JSONDecodeError:
            bad += 1
    assert bad == 1


def test_empty_answer_streams_no_content(sim: SimulatorThread, client: httpx.Client) -> None:
    sim.fault("alpha", "error_rate", rate=1.0, error="empty_answer")
    body = {**CHAT_BODY, "stream": True, "stream_options": {"include_usage": True}}
    chunks = [json.loads(p) for p in sse_data(client.post(CHAT, json=body).text)[:-1]]
    assert not any(c["choices"] and c["choices"][0]["delta"].get("content") for c in chunks)
    assert chunks[-1]["usage"]["completion_tokens"] == 0


def test_stream_error_event_follows_http_200(sim: SimulatorThread, client: httpx.Client) -> None:
    sim.fault("alpha", "error_rate", rate=1.0, error="stream_error")
    response = client.post(CHAT, json={**CHAT_BODY, "stream": True})
    assert response.status_code == 200
    payloads = sse_data(response.text)
    assert "[DONE]" not in payloads
    assert "error" in json.loads(payloads[-1])
    sim.fault("charlie", "error_rate", rate=1.0, error="stream_error")
    response = client.post(MESSAGES, json={**MESSAGES_BODY, "stream": True}, headers=CHARLIE_KEY)
    assert response.status_code == 200
    assert sse_events(response.text)[-1] == "error"
    assert "message_stop" not in sse_events(response.text)


def test_anthropic_sdk_raises_on_stream_error_event(sim: SimulatorThread) -> None:
    sim.fault("charlie", "error_rate", rate=1.0, error="stream_error")
    client = anthropic.Anthropic(
        base_url=f"{sim.base_url}/charlie", api_key="sk-ant-sim-charlie", max_retries=0
    )
    with (
        pytest.raises(anthropic.APIStatusError),
        client.messages.stream(
            model="llama-3-1-70b", max_tokens=12, messages=[{"role": "user", "content": "x"}]
        ) as stream,
    ):
        "".join(stream.text_stream)
