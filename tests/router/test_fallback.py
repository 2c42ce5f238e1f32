"""Fallback before the first byte (500, 429, hang, stream error) and errors after it."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from signalbox.catalog import parse_catalog
from signalbox.simulator.catalog import catalog_toml
from tests.router.conftest import sim_catalog

MODEL = "llama-3.1-70b"
ORDER = {"order": ["alpha", "bravo"]}


@pytest.fixture
def faulty(sim):
    """The simulator, with every fault cleared after the test."""
    sim.clear_faults()
    yield sim
    sim.clear_faults()


@pytest.mark.parametrize(
    ("fault", "error_class"),
    [
        ({"kind": "error_rate", "rate": 1.0, "error": "http_500"}, "http_5xx"),
        ({"kind": "error_rate", "rate": 1.0, "error": "rate_limit_429"}, "rate_limited"),
        ({"kind": "error_rate", "rate": 1.0, "error": "stream_error"}, "stream_error"),
        ({"kind": "hang"}, "timeout_ttft"),
        ({"kind": "outage"}, "http_5xx"),
        ({"kind": "error_rate", "rate": 1.0, "error": "empty_answer"}, None),
        ({"kind": "error_rate", "rate": 1.0, "error": "malformed_event"}, None),
    ],
)
async def test_first_choice_failing_falls_back_to_the_next(
    faulty, router_factory, fault, error_class
) -> None:
    faulty.fault("alpha", **fault)
    async with router_factory(sim_catalog(faulty), faulty) as router:
        client = openai.AsyncOpenAI(base_url=router.url + "/v1", api_key="x", max_retries=0)
        raw = await client.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"provider": {**ORDER, "max_ttft_ms": 500}},
        )
        assert raw.parse().choices[0].message.content
        assert raw.headers["x-signalbox-provider"] == "bravo"
        assert raw.headers["x-signalbox-attempts"] == "2"
        assert raw.headers["x-signalbox-tried"] == "alpha,bravo"
        await client.close()
        metrics = router.state.metrics
        if error_class is not None:
            assert metrics.upstream_errors[("alpha", error_class)] == 1
        assert metrics.fallbacks[(MODEL,)] == 1
        assert router.state.live.full_snapshot(f"alpha/{MODEL}").error_rate > 0.05


async def test_connection_refused_falls_back(faulty, router_factory) -> None:
    text = catalog_toml(faulty.scenario, faulty.base_url).replace(
        f"{faulty.base_url}/alpha/v1", "http://127.0.0.1:9/alpha/v1"
    )
    async with router_factory(parse_catalog(text), faulty) as router, httpx.AsyncClient() as http:
        resp = await http.post(
            router.url + "/v1/chat/completions",
            json={
                "model": MODEL,
                "messages": [{"role": "user", "content": "hi"}],
                "provider": ORDER,
            },
        )
        assert resp.status_code == 200
        assert resp.headers["x-signalbox-provider"] == "bravo"
        assert router.state.metrics.upstream_errors[("alpha", "connect")] == 1


async def test_streaming_request_falls_back_before_the_first_byte(faulty, router_factory) -> None:
    faulty.fault("alpha", "error_rate", rate=1.0, error="http_500")
    async with router_factory(sim_catalog(faulty), faulty) as router:
        client = openai.AsyncOpenAI(base_url=router.url + "/v1", api_key="x", max_retries=0)
        raw = await client.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            extra_body={"provider": ORDER},
        )
        assert raw.headers["x-signalbox-provider"] == "bravo"
        text = "".join([c.choices[0].delta.content or "" async for c in raw.parse() if c.choices])
        assert text
        await client.close()


async def test_every_endpoint_failing_is_a_502_listing_each_attempt(faulty, router_factory) -> None:
    for provider in ("alpha", "bravo", "charlie", "delta"):
        faulty.fault(provider, "error_rate", rate=1.0, error="http_500")
    async with router_factory(sim_catalog(faulty), faulty) as router:
        async with httpx.AsyncClient() as http:
            resp = await http.post(
                router.url + "/v1/chat/completions",
                json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
            )
        assert resp.status_code == 502
        error = resp.json()["error"]
        assert error["code"] == "providers_exhausted"
        assert all(p in error["message"] for p in ("alpha", "bravo", "charlie", "delta"))
        assert resp.headers["x-signalbox-attempts"] == "4"
        tried = resp.headers["x-signalbox-tried"].split(",")
        assert sorted(tried) == ["alpha", "bravo", "charlie", "delta"]


async def test_allow_fallbacks_false_tries_only_the_first(faulty, router_factory) -> None:
    faulty.fault("alpha", "error_rate", rate=1.0, error="http_500")
    async with router_factory(sim_catalog(faulty), faulty) as router:
        async with httpx.AsyncClient() as http:
            resp = await http.post(
                router.url + "/v1/chat/completions",
                json={
                    "model": MODEL,
                    "messages": [{"role": "user", "content": "hi"}],
                    "provider": {**ORDER, "allow_fallbacks": False},
                },
            )
        assert resp.status_code == 502
        assert resp.headers["x-signalbox-attempts"] == "1"


async def test_stream_cut_after_first_byte_ends_with_an_error_event(faulty, router_factory) -> None:
    faulty.fault("alpha", "error_rate", rate=1.0, error="cut_stream")
    async with router_factory(sim_catalog(faulty), faulty) as router:
        client = openai.AsyncOpenAI(base_url=router.url + "/v1", api_key="x", max_retries=0)
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            max_tokens=64,
            extra_body={"provider": {"only": ["alpha"]}},
        )
        with pytest.raises(openai.APIError, match="mid-stream"):
            async for _ in stream:
                pass
        await client.close()


async def test_a_malformed_event_after_the_first_byte_is_never_relayed(
    faulty, router_factory
) -> None:
    # given an upstream that sends an event whose data is not JSON after its first content
    faulty.fault("alpha", "error_rate", rate=1.0, error="malformed_event")
    async with router_factory(sim_catalog(faulty), faulty) as router, httpx.AsyncClient() as http:
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "max_tokens": 64,
            "provider": {"only": ["alpha"]},
        }
        async with http.stream("POST", router.url + "/v1/chat/completions", json=body) as resp:
            assert resp.status_code == 200
            text = (await resp.aread()).decode()
        metrics = (await http.get(router.url + "/metrics")).text
    # then the app got only JSON: the content before it, then the router's error event
    payloads = [json.loads(line[6:]) for line in text.split("\n") if line.startswith("data: ")]
    assert any(p.get("choices") and p["choices"][0]["delta"].get("content") for p in payloads)
    assert payloads[-1]["error"]["code"] == "stream_broken"
    assert "mid-stream" in payloads[-1]["error"]["message"]
    # and the attempt counts as a broken stream, in /metrics and in the endpoint's statistics
    assert router.state.metrics.upstream_errors[("alpha", "stream_broken")] == 1
    assert 'provider="alpha"' in metrics and "stream_broken" in metrics
    assert router.state.live.full_snapshot(f"alpha/{MODEL}").error_rate > 0.05
