"""The official openai SDK against the router, with the simulated fleet behind it."""

from __future__ import annotations

import openai
import pytest

from tests.router.conftest import sim_catalog

MODEL = "llama-3.1-70b"


async def test_sdk_plain_completion_goes_through_the_router(sim, router_factory) -> None:
    async with router_factory(sim_catalog(sim), sim) as router:
        client = openai.AsyncOpenAI(base_url=router.url + "/v1", api_key="unused")
        raw = await client.chat.completions.with_raw_response.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=16
        )
        completion = raw.parse()
        assert completion.choices[0].message.content
        assert completion.choices[0].finish_reason in ("stop", "length")
        assert raw.headers["x-signalbox-provider"] in {"alpha", "bravo", "charlie", "delta"}
        assert raw.headers["x-signalbox-attempts"] == "1"
        await client.close()


@pytest.mark.parametrize("provider", ["alpha", "charlie"])  # OpenAI and Anthropic dialects
async def test_sdk_streaming_completion_through_each_dialect(sim, router_factory, provider) -> None:
    async with router_factory(sim_catalog(sim), sim) as router:
        client = openai.AsyncOpenAI(base_url=router.url + "/v1", api_key="unused")
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"provider": {"only": [provider]}},
        )
        text = ""
        usage = None
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
            if chunk.usage:
                usage = chunk.usage
        assert text
        assert usage is not None and usage.completion_tokens > 0
        await client.close()
        stats = router.state.live.full_snapshot(f"{provider}/{MODEL}")
        assert stats.samples > 0 and stats.ttft_p50_ms is not None


async def test_objective_suffix_and_unknown_model(sim, router_factory) -> None:
    async with router_factory(sim_catalog(sim), sim) as router:
        client = openai.AsyncOpenAI(base_url=router.url + "/v1", api_key="unused", max_retries=0)
        done = await client.chat.completions.create(
            model=MODEL + "@latency", messages=[{"role": "user", "content": "hi"}]
        )
        assert done.choices[0].message.content
        with pytest.raises(openai.NotFoundError) as err:
            await client.chat.completions.create(
                model="no-such-model", messages=[{"role": "user", "content": "hi"}]
            )
        assert err.value.body["code"] == "model_not_found"  # type: ignore[index]
        await client.close()
