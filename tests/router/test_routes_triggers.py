"""Each trigger of a route moves the request to the next model (or starts it there), says so in
the headers and counts in /metrics; a trigger switched off does not fire."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from tests.probe.scripted_server import Script
from tests.router.routes_harness import GOOD, TOOLS, Env, answer, ask, routes_env


@pytest.fixture(scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    async with routes_env(tmp_path_factory.mktemp("routes")) as running:
        yield running


def _served(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"] or ""


async def test_a_good_default_answer_is_served_without_escalation(env: Env) -> None:
    env.script(answer("small says hi"))
    response = await env.post(ask("all"))
    assert _served(response) == "small says hi"
    assert response.headers["x-signalbox-route"] == "all"
    assert response.headers["x-signalbox-path"] == "small"
    assert response.headers["x-signalbox-trigger"] == "none"
    assert response.headers["x-signalbox-provider"] == "ps"
    assert response.json()["model"] == "small"


async def test_prompt_tokens_above_the_threshold_start_at_the_escalation_model(env: Env) -> None:
    env.script(answer("small"))
    response = await env.post(ask("all", "word " * 1000))  # ~1250 tokens estimated
    assert _served(response) == GOOD
    assert response.headers["x-signalbox-path"] == "large"
    assert response.headers["x-signalbox-trigger"] == "prompt_tokens"


async def test_a_tier_hint_starts_at_the_escalation_model(env: Env) -> None:
    env.script(answer("small"))
    by_header = await env.post(ask("all"), **{"x-signalbox-tier": "high"})
    by_metadata = await env.post(ask("all", metadata={"tier": "high"}))
    for response in (by_header, by_metadata):
        assert _served(response) == GOOD
        assert response.headers["x-signalbox-trigger"] == "hint"


async def test_a_prompt_over_the_context_window_skips_the_model(env: Env) -> None:
    env.script(answer("tiny"))
    response = await env.post(ask("fit", "x" * 1200))  # ~300 tokens > 200
    assert _served(response) == GOOD
    assert response.headers["x-signalbox-path"] == "large"
    assert response.headers["x-signalbox-trigger"] == "context_window"
    fits = await env.post(ask("fit", "short"))
    assert _served(fits) == "tiny"


async def test_tools_skip_a_model_without_tool_support(env: Env) -> None:
    env.script(answer("tiny"))
    response = await env.post(ask("fit", tools=TOOLS))
    assert _served(response) == GOOD
    assert response.headers["x-signalbox-trigger"] == "tools"


async def test_finish_reason_length_escalates(env: Env) -> None:
    env.script(answer("cut sho", finish="length"))
    response = await env.post(ask("all"))
    assert _served(response) == GOOD
    assert response.headers["x-signalbox-path"] == "small,large"
    assert response.headers["x-signalbox-trigger"] == "finish_length"
    assert response.headers["x-signalbox-provider"] == "pl"


async def test_an_empty_answer_escalates(env: Env) -> None:
    for small in (answer("   "), answer(None)):  # blank text; no content at all
        env.script(small)
        response = await env.post(ask("all"))
        assert _served(response) == GOOD
        assert response.headers["x-signalbox-trigger"] == "empty"


async def test_a_refusal_escalates(env: Env) -> None:
    env.script(answer("I'm sorry, but I can't help with that."))
    response = await env.post(ask("all"))
    assert _served(response) == GOOD
    assert response.headers["x-signalbox-trigger"] == "refusal"


async def test_a_refusal_with_no_text_escalates_as_a_refusal_not_an_empty_answer(env: Env) -> None:
    # Anthropic's stop_reason "refusal" or a Gemini SAFETY block, translated: nothing said
    env.script(answer(None, finish="content_filter"))
    response = await env.post(ask("all"))
    assert _served(response) == GOOD
    assert response.headers["x-signalbox-trigger"] == "refusal"
    assert response.headers["x-signalbox-path"] == "small,large"


@pytest.mark.parametrize("stream", [False, True])
async def test_a_refusal_with_no_text_is_the_models_answer_not_a_failed_attempt(
    env: Env, stream: bool
) -> None:
    env.script(answer(None, finish="content_filter"))
    response = await env.post({**ask("small"), "stream": stream})
    assert response.status_code == 200, response.text
    assert response.headers["x-signalbox-attempts"] == "1"  # no fallback, no error counted
    if stream:
        assert b'"finish_reason":"content_filter"' in response.content
        assert response.content.endswith(b"data: [DONE]\n\n")
    else:
        choice = response.json()["choices"][0]
        assert choice["finish_reason"] == "content_filter"
        assert not choice["message"].get("content")


async def test_a_refusal_in_the_refusal_field_escalates(env: Env) -> None:
    refusal = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"refusal": "I must decline."}, "finish_reason": None}],
    }
    small = answer(None)
    small.writes.insert(1, (0.0, b"data: " + orjson.dumps(refusal) + b"\n\n"))
    env.script(small)
    response = await env.post(ask("all"))
    assert _served(response) == GOOD
    assert response.headers["x-signalbox-trigger"] == "refusal"
    env.script(small)
    plain = await env.post(ask("plain"))  # without the trigger, the refusal is the answer
    assert plain.json()["choices"][0]["message"]["refusal"] == "I must decline."


async def test_an_answer_that_is_not_json_escalates_when_json_is_asked(env: Env) -> None:
    env.script(answer("Sure! here it is: {name: 1}"), answer('{"name": "ok"}'))
    response = await env.post(ask("all", response_format={"type": "json_object"}))
    assert _served(response) == '{"name": "ok"}'
    assert response.headers["x-signalbox-trigger"] == "invalid_json"
    env.script(answer("plain text is fine here"))
    assert _served(await env.post(ask("all"))) == "plain text is fine here"


async def test_json_that_does_not_validate_against_the_schema_escalates(env: Env) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}
    env.script(answer('{"name": "Ada"}'), answer('{"name": "Ada", "age": 36}'))
    response = await env.post(ask("all", response_format=fmt))
    assert _served(response) == '{"name": "Ada", "age": 36}'
    assert response.headers["x-signalbox-trigger"] == "invalid_json"
    env.script(answer('{"name": "Ada", "age": 36}'))
    valid = await env.post(ask("all", response_format=fmt))
    assert valid.headers["x-signalbox-path"] == "small"


async def test_tool_arguments_that_are_not_json_escalate(env: Env) -> None:
    env.script(answer(tool_args='{"q": "unterminated'), answer(tool_args='{"q": "ok"}'))
    response = await env.post(ask("all", tools=TOOLS))
    assert response.status_code == 200, response.text
    calls = response.json()["choices"][0]["message"]["tool_calls"]
    assert calls[0]["function"]["arguments"] == '{"q": "ok"}'
    assert response.headers["x-signalbox-trigger"] == "invalid_tool_args"


async def test_tool_arguments_missing_a_required_parameter_escalate(env: Env) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {
                    "type": "object",
                    "properties": {"q": {"type": "string"}},
                    "required": ["q"],
                },
            },
        }
    ]
    env.script(answer(tool_args='{"query": "x"}'), answer(tool_args='{"q": "x"}'))
    response = await env.post(ask("all", tools=tools))
    assert response.headers["x-signalbox-trigger"] == "invalid_tool_args"
    assert response.headers["x-signalbox-path"] == "small,large"


async def test_every_provider_of_the_default_failing_falls_back_to_the_next_model(
    env: Env,
) -> None:
    env.script(Script(status=500, content_type="application/json", writes=[(0.0, b"{}")]))
    response = await env.post(ask("plain"))
    assert _served(response) == GOOD
    assert response.headers["x-signalbox-path"] == "small,large"
    assert response.headers["x-signalbox-trigger"] == "failure"


async def test_the_first_token_deadline_moves_to_the_next_model(env: Env) -> None:
    env.script(answer("too late", pause_s=2.0))
    response = await env.post(ask("all"))
    assert _served(response) == GOOD
    assert response.headers["x-signalbox-trigger"] == "deadline"


async def test_the_route_deadline_does_not_cut_the_last_model(env: Env) -> None:
    down = Script(status=500, content_type="application/json", writes=[(0.0, b"{}")])
    env.script(down, answer(GOOD, pause_s=0.6))  # the route's deadline is 300 ms
    response = await env.post(ask("all"))
    assert _served(response) == GOOD
    assert response.headers["x-signalbox-trigger"] == "failure"


async def test_a_trigger_switched_off_does_not_fire(env: Env) -> None:
    env.script(answer("cut sho", finish="length"))
    response = await env.post(ask("plain"))
    assert _served(response) == "cut sho"
    assert response.headers["x-signalbox-trigger"] == "none"


async def test_the_last_model_failing_is_a_502_with_the_route_headers(env: Env) -> None:
    down = Script(status=503, content_type="application/json", writes=[(0.0, b"{}")])
    env.script(down, down)
    response = await env.post(ask("plain"))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "providers_exhausted"
    assert response.headers["x-signalbox-path"] == "small,large"
    assert response.headers["x-signalbox-trigger"] == "failure"


async def test_a_request_no_model_fits_is_a_400_naming_the_reason(env: Env) -> None:
    env.script(answer("tiny"))
    response = await env.post(ask("tight", "x" * 1200))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "no_model_fits" and "context window of 200" in error["message"]
    assert response.headers["x-signalbox-trigger"] == "context_window"


async def test_escalations_count_in_metrics_by_route_and_trigger(env: Env) -> None:
    env.script(answer("cut", finish="length"))
    before = env.router.state.metrics.route_escalations[("all", "finish_length")]
    await env.post(ask("all"))
    text = (await env.http.get("/metrics")).text
    metrics = env.router.state.metrics
    assert metrics.route_escalations[("all", "finish_length")] == before + 1
    assert 'signalbox_route_escalations_total{route="all",trigger="finish_length"}' in text
    assert (
        'signalbox_route_requests_total{route="all",path="small,large",outcome="escalated"}' in text
    )
    assert 'signalbox_route_requests_total{route="all",path="small",outcome="ok"}' in text
