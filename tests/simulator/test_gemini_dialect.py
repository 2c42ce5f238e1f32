"""The Gemini dialect as raw HTTP and through the official ``google-genai`` SDK, unchanged: text,
streaming, usage, auth by header or ``?key=``, and every fault in Gemini's own error shape."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from google import genai
from google.genai import errors, types

from signalbox.simulator.scenario import parse_scenario
from signalbox.simulator.testing import SimulatorThread

KEY = "AIza-sim-golf"
SCENARIO = f"""
name = "gemini-tests"
seed = 5
[defaults]
ttft_median_ms = 5.0
ttft_sigma = 0.1
tps = 2000.0
output_tokens_median = 24
output_tokens_sigma = 0.2
[[provider]]
name = "golf"
dialect = "gemini"
api_key = "{KEY}"
[[provider.model]]
model = "gemini-2.5-flash"
[[provider.model]]
model = "gemma-3"
upstream = "gemma-3-27b-it"
"""
STREAM = "/golf/v1beta/models/gemini-2.5-flash:streamGenerateContent"
WHOLE = "/golf/v1beta/models/gemini-2.5-flash:generateContent"
BODY = {
    "contents": [{"role": "user", "parts": [{"text": "Say something."}]}],
    "generationConfig": {"maxOutputTokens": 16},
}
AUTH = {"x-goog-api-key": KEY}


@pytest.fixture(scope="module")
def gsim() -> Iterator[SimulatorThread]:
    with SimulatorThread(parse_scenario(SCENARIO)) as sim:
        yield sim


@pytest.fixture
def sim(gsim: SimulatorThread) -> Iterator[SimulatorThread]:
    yield gsim
    gsim.clear_faults()


@pytest.fixture
def http(sim: SimulatorThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, timeout=10) as c:
        yield c


def sdk(sim: SimulatorThread, key: str = KEY) -> genai.Client:
    """The SDK pointed at the simulator the way a user points it at a proxy: ``base_url`` only."""
    return genai.Client(
        api_key=key, http_options=types.HttpOptions(base_url=f"{sim.base_url}/golf")
    )


def events(body: str) -> list[str]:
    """The data of each event (Gemini's are one ``data:`` line each, CRLF-terminated)."""
    assert "\r\n\r\n" in body
    return [line[6:] for line in body.split("\r\n") if line.startswith("data: ")]


def test_stream_is_response_chunks_ending_with_finish_reason_and_usage(http: httpx.Client) -> None:
    response = http.post(STREAM, params={"alt": "sse"}, json=BODY, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = [json.loads(e) for e in events(response.text)]
    assert len(chunks) >= 2 and "event:" not in response.text
    text = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])
    last = chunks[-1]
    assert last["candidates"][0]["finishReason"] in ("STOP", "MAX_TOKENS")
    usage = last["usageMetadata"]
    assert usage["candidatesTokenCount"] == len(text.split()) <= 16
    assert usage["promptTokenCount"] >= 1
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert last["modelVersion"] == "gemini-2.5-flash"


def test_generate_content_answers_whole(http: httpx.Client) -> None:
    data = http.post(WHOLE, json=BODY, headers=AUTH).json()
    candidate = data["candidates"][0]
    assert candidate["content"]["role"] == "model" and candidate["content"]["parts"][0]["text"]
    assert candidate["finishReason"] in ("STOP", "MAX_TOKENS")
    assert 1 <= data["usageMetadata"]["candidatesTokenCount"] <= 16


def test_the_key_is_accepted_as_header_or_query_and_refused_in_geminis_shape(
    http: httpx.Client,
) -> None:
    assert http.post(WHOLE, json=BODY, params={"key": KEY}).status_code == 200
    response = http.post(WHOLE, json=BODY, headers={"x-goog-api-key": "wrong"})
    # as Google answers a bad key: 400 INVALID_ARGUMENT, the reason in the details
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["details"][0]["reason"] == "API_KEY_INVALID"
    assert http.post(WHOLE, json=BODY).status_code == 400  # no key at all


@pytest.mark.parametrize(
    "body",
    [
        b"{nope",
        b"[]",
        json.dumps({"contents": []}).encode(),
        json.dumps({"contents": [{"role": "robot", "parts": [{"text": "x"}]}]}).encode(),
        json.dumps({"contents": [{"parts": []}]}).encode(),
        json.dumps({**BODY, "generationConfig": {"maxOutputTokens": 0}}).encode(),
        json.dumps({**BODY, "systemInstruction": "be brief"}).encode(),
    ],
)
def test_bad_requests_get_invalid_argument(http: httpx.Client, body: bytes) -> None:
    response = http.post(WHOLE, content=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_unknown_model_is_not_found(http: httpx.Client) -> None:
    response = http.post(WHOLE.replace("gemini-2.5-flash", "gemini-9"), json=BODY, headers=AUTH)
    assert (response.status_code, response.json()["error"]["status"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("error", "status", "name"),
    [
        ("http_500", 500, "INTERNAL"),
        ("http_503", 503, "UNAVAILABLE"),
        ("rate_limit_429", 429, "RESOURCE_EXHAUSTED"),
    ],
)
def test_injected_refusals_answer_in_geminis_error_shape(
    sim: SimulatorThread, http: httpx.Client, error: str, status: int, name: str
) -> None:
    sim.fault("golf", "error_rate", rate=1.0, error=error)
    response = http.post(STREAM, params={"alt": "sse"}, json=BODY, headers=AUTH)
    assert response.status_code == status
    assert response.json()["error"]["code"] == status
    assert response.json()["error"]["status"] == name
    if status == 429:
        assert int(response.headers["Retry-After"]) >= 1


def test_stream_error_is_an_error_object_after_http_200(
    sim: SimulatorThread, http: httpx.Client
) -> None:
    sim.fault("golf", "error_rate", rate=1.0, error="stream_error")
    response = http.post(STREAM, params={"alt": "sse"}, json=BODY, headers=AUTH)
    assert response.status_code == 200
    last = json.loads(events(response.text)[-1])
    assert last["error"]["status"] == "INTERNAL"
    assert not any("finishReason" in e for e in events(response.text))


def test_malformed_event_is_a_data_line_that_is_not_json(
    sim: SimulatorThread, http: httpx.Client
) -> None:
    sim.fault("golf", "error_rate", rate=1.0, error="malformed_event")
    bad = 0
    for data in events(http.post(STREAM, json=BODY, headers=AUTH).text):
        try:
            json.loads(data)
        except json.JSONDecodeError:
            bad += 1
    assert bad == 1


def test_empty_answer_finishes_without_text(sim: SimulatorThread, http: httpx.Client) -> None:
    sim.fault("golf", "error_rate", rate=1.0, error="empty_answer")
    chunks = [json.loads(e) for e in events(http.post(STREAM, json=BODY, headers=AUTH).text)]
    text = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
    assert text == "" and chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 0


def test_cut_stream_breaks_the_connection(sim: SimulatorThread) -> None:
    sim.fault("golf", "error_rate", rate=1.0, error="cut_stream")
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", sim.base_url + STREAM, json=BODY, headers=AUTH, timeout=5) as r,
    ):
        for _ in r.iter_bytes():
            pass


def test_hang_sends_nothing(sim: SimulatorThread) -> None:
    sim.fault("golf", "hang")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(sim.base_url + STREAM, json=BODY, headers=AUTH, timeout=0.3)


# --- the official SDK, unchanged -----------------------------------------------------------------


def test_sdk_generate_content(sim: SimulatorThread) -> None:
    client = sdk(sim)  # held: the SDK closes its HTTP client when the Client object goes
    response = client.models.generate_content(
        model="gemini-2.5-flash",
        contents="hello",
        config=types.GenerateContentConfig(
            system_instruction="be brief", max_output_tokens=10, temperature=0
        ),
    )
    assert response.text
    assert response.usage_metadata is not None
    assert response.usage_metadata.candidates_token_count == len(response.text.split()) <= 10
    assert response.candidates[0].finish_reason in (
        types.FinishReason.STOP,
        types.FinishReason.MAX_TOKENS,
    )


def test_sdk_generate_content_stream(sim: SimulatorThread) -> None:
    client = sdk(sim)
    chunks = list(client.models.generate_content_stream(model="gemma-3-27b-it", contents="hello"))
    text = "".join(c.text or "" for c in chunks)
    assert len(chunks) >= 2 and text
    assert chunks[-1].usage_metadata.candidates_token_count == len(text.split())


async def test_sdk_async_stream(sim: SimulatorThread) -> None:
    client = sdk(sim)
    text = ""
    async for chunk in await client.aio.models.generate_content_stream(
        model="gemini-2.5-flash", contents="hello"
    ):
        text += chunk.text or ""
    assert text


def test_sdk_raises_on_a_wrong_key_and_on_an_error_mid_stream(sim: SimulatorThread) -> None:
    wrong, client = sdk(sim, key="wrong"), sdk(sim)
    with pytest.raises(errors.ClientError) as refused:
        wrong.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert refused.value.code == 400 and refused.value.status == "INVALID_ARGUMENT"
    sim.fault("golf", "error_rate", rate=1.0, error="stream_error")
    with pytest.raises(errors.ServerError) as broke:
        for _ in client.models.generate_content_stream(model="gemini-2.5-flash", contents="x"):
            pass
    assert broke.value.status == "INTERNAL"


def test_sdk_raises_on_rate_limit(sim: SimulatorThread) -> None:
    sim.fault("golf", "error_rate", rate=1.0, error="rate_limit_429")
    client = sdk(sim)
    with pytest.raises(errors.ClientError) as err:
        client.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert (err.value.code, err.value.status) == (429, "RESOURCE_EXHAUSTED")
