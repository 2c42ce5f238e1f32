"""The HTTP contract of docs/architecture.md §6: shapes, statuses, OpenAI-shaped errors, auth."""

from __future__ import annotations

import httpx
import pytest

from signalbox.router.openapi import OPENAPI
from signalbox.settings import Settings
from tests.router.conftest import sim_catalog

MODEL = "llama-3.1-70b"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}


def assert_openai_error(resp: httpx.Response, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


async def test_route_returns_the_documented_decision(sim, router_factory) -> None:
    async with (
        router_factory(sim_catalog(sim), sim) as router,
        httpx.AsyncClient(base_url=router.url) as http,
    ):
        resp = await http.get("/v1/route", params={"model": MODEL, "sort": "latency"})
        assert resp.status_code == 200
        body = resp.json()
        assert body["model"] == MODEL and body["objective"] == "latency"
        assert set(body["endpoint"]) == {"base_url", "upstream_model", "api"}
        assert body["provider"] == body["ranking"][0]["provider"]
        keys = {
            "provider",
            "score",
            "ttft_ms",
            "tps",
            "error_rate",
            "price",
            "samples",
            "age_s",
            "state",
        }
        assert all(set(r) == keys for r in body["ranking"])
        assert len(body["ranking"]) == 4
        assert body["reason"]


async def test_route_constraints_filter_and_503_says_why(sim, router_factory) -> None:
    async with (
        router_factory(sim_catalog(sim), sim) as router,
        httpx.AsyncClient(base_url=router.url) as http,
    ):
        resp = await http.get(
            "/v1/route", params={"model": MODEL, "only": "alpha,bravo", "ignore": "alpha"}
        )
        assert [r["provider"] for r in resp.json()["ranking"]] == ["bravo"]
        resp = await http.get("/v1/route", params={"model": MODEL, "max_price": "0.01"})
        error = assert_openai_error(resp, 503, "no_endpoint_qualifies")
        assert "max_price" in error["message"]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"model": "nope"}, 404, "model_not_found"),
        ({}, 400, "invalid_parameter"),
        ({"model": MODEL, "sort": "fastest"}, 400, "invalid_parameter"),
        ({"model": MODEL + "@nope"}, 400, "invalid_parameter"),
        ({"model": MODEL, "max_ttft_ms": "soon"}, 400, "invalid_parameter"),
        ({"model": MODEL, "max_error_rate": "2"}, 400, "invalid_parameter"),
        ({"model": MODEL, "min_tps": "nan"}, 400, "invalid_parameter"),
    ],
)
async def test_route_bad_input_statuses(sim, router_factory, params, status, code) -> None:
    async with (
        router_factory(sim_catalog(sim), sim) as router,
        httpx.AsyncClient(base_url=router.url) as http,
    ):
        assert_openai_error(await http.get("/v1/route", params=params), status, code)


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_body"),
        (b'{"model": "llama-3.1-70b"}', 400, "invalid_parameter"),
        (b'{"model": "llama-3.1-70b", "messages": "hi"}', 400, "invalid_parameter"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', 400, "invalid_parameter"),
        (
            b'{"model": "zzz", "messages": [{"role": "user", "content": "x"}]}',
            404,
            "model_not_found",
        ),
        (
            b'{"model": "llama-3.1-70b", "messages": [{"role": "user", "content": "x"}], "provider": {"sort": 3}}',
            400,
            "invalid_parameter",
        ),
        (
            b'{"model": "llama-3.1-70b", "messages": [{"role": "user", "content": "x"}], "provider": {"only": ["none"]}}',
            503,
            "no_endpoint_qualifies",
        ),
        (
            b'{"model": "llama-3.1-70b", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}',
            400,
            "invalid_parameter",
        ),
    ],
)
async def test_chat_bad_input_statuses(sim, router_factory, content, status, code) -> None:
    async with (
        router_factory(sim_catalog(sim), sim) as router,
        httpx.AsyncClient(base_url=router.url) as http,
    ):
        resp = await http.post(
            "/v1/chat/completions", content=content, headers={"content-type": "application/json"}
        )
        assert_openai_error(resp, status, code)


async def test_oversized_body_is_413_and_unknown_paths_404(sim, router_factory) -> None:
    async with (
        router_factory(sim_catalog(sim), sim) as router,
        httpx.AsyncClient(base_url=router.url) as http,
    ):
        big = (
            b'{"model": "x", "messages": [{"role": "user", "content": "'
            + b"a" * (5 * 1024 * 1024)
            + b'"}]}'
        )
        resp = await http.post(
            "/v1/chat/completions", content=big, headers={"content-type": "application/json"}
        )
        assert_openai_error(resp, 413, "body_too_large")
        assert_openai_error(await http.get("/v2/nothing"), 404, "not_found")
        assert_openai_error(await http.delete("/v1/route"), 405, "method_not_allowed")


async def test_models_endpoints_health_metrics_openapi(sim, router_factory) -> None:
    async with (
        router_factory(sim_catalog(sim), sim) as router,
        httpx.AsyncClient(base_url=router.url) as http,
    ):
        await http.post("/v1/chat/completions", json=CHAT)
        models = (await http.get("/v1/models")).json()
        assert {m["id"] for m in models["data"]} == {"llama-3.1-70b", "qwen-2.5-72b"}
        endpoints = (await http.get("/v1/endpoints", params={"model": MODEL})).json()["data"]
        assert len(endpoints) == 4
        row = endpoints[0]
        for field in (
            "state",
            "ttft_ms",
            "tps",
            "e2e_ms",
            "error_rate",
            "price",
            "samples",
            "age_s",
            "uptime",
        ):
            assert field in row
        assert set(row["ttft_ms"]) == {"p50", "p90", "p99"} and set(row["uptime"]) == {
            "5m",
            "30m",
            "1d",
        }
        assert {e["state"] for e in endpoints} <= {"healthy", "stale", "open", "half-open"}
        assert_openai_error(await http.get("/v1/endpoints", params={"model": "nope"}), 404)
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = (await http.get("/readyz")).json()
        assert ready["status"] == "ok" and ready["warmed"]
        text = (await http.get("/metrics")).text
        for name in (
            "signalbox_router_requests_total",
            "signalbox_router_decisions_total",
            "signalbox_router_upstream_errors_total",
            "signalbox_router_fallbacks_total",
            "signalbox_router_added_latency_seconds_bucket",
        ):
            assert name in text
        assert 'path="/v1/chat/completions",status="200"' in text
        assert (await http.get("/openapi.json")).json() == OPENAPI


async def test_api_keys_are_required_when_configured(sim, router_factory, tmp_path) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'a.db'}", api_keys="k1, k2"
    )
    async with (
        router_factory(sim_catalog(sim), sim, settings=settings) as router,
        httpx.AsyncClient(base_url=router.url) as http,
    ):
        assert_openai_error(await http.get("/v1/models"), 401, "invalid_api_key")
        assert_openai_error(
            await http.get("/v1/models", headers={"Authorization": "Bearer k3"}), 401
        )
        assert (
            await http.get("/v1/models", headers={"Authorization": "Bearer k2"})
        ).status_code == 200
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/openapi.json")).status_code == 200


async def test_provider_keys_never_reach_clients(sim, router_factory) -> None:
    async with (
        router_factory(sim_catalog(sim), sim) as router,
        httpx.AsyncClient(base_url=router.url) as http,
    ):
        texts = [
            (await http.get("/v1/endpoints")).text,
            (await http.get("/v1/route", params={"model": MODEL})).text,
            (await http.post("/v1/chat/completions", json=CHAT)).text,
            (await http.get("/metrics")).text,
        ]
    for provider in sim.scenario.providers:
        if provider.api_key:
            assert all(provider.api_key not in t for t in texts)
