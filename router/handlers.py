"""HTTP handlers of the router (docs/architecture.md §6): thin layers over selection, live state
and the proxy."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import orjson
from aiohttp import web

from signalbox.router.errors import ApiError, error_response
from signalbox.router.escalate import plan_for
from signalbox.router.fallback import ProvidersExhausted, UpstreamClientError
from signalbox.router.fields import echo
from signalbox.router.openapi import OPENAPI
from signalbox.router.params import RouteRequest, chat_request, route_query
from signalbox.router.routed import run_route
from signalbox.router.state import STATE, RankEntry, RouterState
from signalbox.routes import Route
from signalbox.routing.objectives import DEFAULT_OBJECTIVE
from signalbox.routing.scoring import RequestShape
from signalbox.routing.select import Decision, Ranked, choose, rank

JSON = "application/json"
_OPENAPI_BYTES = orjson.dumps(OPENAPI)
RANK_TTL_S = 0.05  # a ranking is reused this long unless new observations arrive
RANK_CACHE_MAX = 4096
QUERY_CACHE_MAX = 4096


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=JSON, headers=headers)


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def decide(state: RouterState, rr: RouteRequest, allow_trial: bool) -> tuple[Decision, RankEntry]:
    """Select for a parsed request (404 for an unknown model, 503 when nothing qualifies). The
    deterministic ranking is cached briefly; the random choice is made per request."""
    live = state.live
    if rr.model not in live.by_model:
        raise ApiError(
            404,
            f"model '{echo(rr.model)}' is not in the catalog (see GET /v1/models)",
            "model_not_found",
            param="model",
        )
    objective = rr.objective or DEFAULT_OBJECTIVE
    now = state.clock()
    key = (rr.model, objective, rr.shape, rr.constraints)
    entry = state.rank_cache.get(key)
    if entry is None or entry.version != live.version or not 0 <= now - entry.ts < RANK_TTL_S:
        ranking = rank(
            rr.model, live.candidates(rr.model, objective, now), objective, rr.shape, rr.constraints
        )
        if len(state.rank_cache) > RANK_CACHE_MAX:
            state.rank_cache.clear()
        entry = state.rank_cache[key] = RankEntry(live.version, now, ranking)
    decision = choose(
        entry.ranking, state.routing, state.rng(), state.rng(), allow_trial, entry.decisions
    )
    chosen = decision.chosen
    if chosen is None:
        raise ApiError(503, decision.reason, "no_endpoint_qualifies")
    state.metrics.decisions[(rr.model, chosen.provider)] += 1
    state.decisions.record(decision, "proxy" if allow_trial else "route", now)
    return decision, entry


def _record(r: Ranked, shape: RequestShape) -> dict[str, Any]:
    s = r.candidate.snapshot
    return {
        "provider": r.provider,
        "score": round(r.score, 4),
        "ttft_ms": _r(s.ttft_p50_ms),
        "tps": _r(s.tps_p50),
        "error_rate": round(s.error_rate, 4),
        "price": _r(r.candidate.price.blended_per_mtok(shape), 4),
        "samples": round(s.samples, 2),
        "age_s": _r(s.age_s),
        "state": r.state,
    }


def _route_body(
    state: RouterState, decision: Decision, shape: RequestShape, route: Route | None = None
) -> bytes:
    chosen = decision.chosen
    assert chosen is not None
    ref = state.live.endpoints[chosen.candidate.key].ref
    body: dict[str, Any] = {
        "model": decision.model,
        "objective": decision.objective,
        "provider": chosen.provider,
        "endpoint": {
            "base_url": ref.provider.base_url,
            "upstream_model": ref.spec.upstream_model,
            "api": ref.provider.api,
        },
        "ranking": [_record(r, shape) for r in decision.ranking],
        "excluded": [{"provider": p, "why": w} for p, w in decision.excluded],
        "reason": decision.reason,
    }
    if route is not None:
        body["route"] = {"name": route.name, "path": route.path}
    return orjson.dumps(body)


def _route_request(state: RouterState, request: web.Request) -> RouteRequest:
    """Parsed query, remembered by its text: apps ask the same few questions over and over."""
    text = request.query_string
    rr = state.query_cache.get(text)
    if rr is None:
        rr = route_query(request.query)
        if len(state.query_cache) >= QUERY_CACHE_MAX:
            state.query_cache.clear()
        state.query_cache[text] = rr
    return rr


async def route(request: web.Request) -> web.Response:
    """``GET /v1/route``: the decision and its ranking (the body is built once per distinct
    decision on a cached ranking). For a route's name: the decision for its first step (the
    default model, under the route's objective unless the query gives one), plus the route's
    path; the triggers need a request, so a chat completion may still start further along."""
    state = request.app[STATE]
    rr = _route_request(state, request)
    named = state.catalog.route(rr.model) if rr.model not in state.live.by_model else None
    if named is not None:
        first_step = replace(rr, model=named.default, objective=named.objective_for(rr.objective))
        decision, _ = decide(state, first_step, allow_trial=False)
        return web.Response(body=_route_body(state, decision, rr.shape, named), content_type=JSON)
    decision, entry = decide(state, rr, allow_trial=False)
    body = entry.bodies.get(id(decision))
    if body is None:
        body = entry.bodies[id(decision)] = _route_body(state, decision, rr.shape)
    return web.Response(body=body, content_type=JSON)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """``POST /v1/chat/completions``: select, then forward with fallback."""
    received_ns = time.perf_counter_ns()
    state = request.app[STATE]
    if request.headers.get("Content-Type") and request.content_type != JSON:
        raise ApiError(
            415,
            f"Content-Type '{echo(request.content_type, 40)}' is not supported: send the body as "
            "JSON with Content-Type: application/json",
            "unsupported_media_type",
        )
    raw = await request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "the request body is not valid JSON", "invalid_json") from None
    rr = chat_request(body)
    plan = plan_for(state.catalog, body, rr.model)
    if plan is not None:  # a route, or a models list: routing across models
        return await run_route(state, decide, request, body, rr, plan, received_ns)
    decision, _ = decide(state, rr, allow_trial=True)
    max_ttft_ms = rr.constraints.max_ttft_ms
    try:
        return await state.forwarder.forward(
            request, body, decision, rr.allow_fallbacks, max_ttft_ms, received_ns
        )
    except ProvidersExhausted as exc:
        headers = {
            "x-signalbox-attempts": str(len(exc.errors)),
            "x-signalbox-tried": ",".join(e.provider for e in exc.errors),
        }
        return error_response(502, str(exc), "providers_exhausted", headers=headers)
    except UpstreamClientError as exc:
        return error_response(
            exc.status,
            f"the provider refused the request: {exc.message}",
            "upstream_rejected",
            "invalid_request_error",
        )


async def models(request: web.Request) -> web.Response:
    """``GET /v1/models``: the canonical models, then the routes, OpenAI list shape."""
    live = request.app[STATE].live
    data = [
        {
            "id": name,
            "object": "model",
            "created": 0,
            "owned_by": "signalbox",
            "endpoints": len(live.by_model[name]),
        }
        for name in live.models()
    ]
    data += [  # routes are called as models too (README "Routing across models")
        {
            "id": route.name,
            "object": "model",
            "created": 0,
            "owned_by": "signalbox-route",
            "route": {"default": route.default, "escalate": route.escalate},
        }
        for route in request.app[STATE].catalog.routes
    ]
    return _json({"object": "list", "data": data})


async def endpoints(request: web.Request) -> web.Response:
    """``GET /v1/endpoints[?model=M]``: state and decayed statistics of each endpoint."""
    state = request.app[STATE]
    live = state.live
    model = request.query.get("model")
    if model is not None and model not in live.by_model:
        raise ApiError(
            404, f"model '{echo(model)}' is not in the catalog", "model_not_found", param="model"
        )
    now = state.clock()
    data = []
    for name, infos in live.by_model.items():
        if model is not None and name != model:
            continue
        for info in infos:
            s = live.full_snapshot(info.key, now)
            breaker = live.breakers[info.key]
            data.append(
                {
                    "model": name,
                    "provider": info.provider,
                    "key": info.key,
                    "api": info.ref.provider.api,
                    "region": info.ref.provider.region,
                    "upstream_model": info.ref.spec.upstream_model,
                    "state": live.state(info.key, now),
                    "state_reason": breaker.reason or None,
                    "ttft_ms": {
                        "p50": _r(s.ttft_p50_ms),
                        "p90": _r(s.ttft_p90_ms),
                        "p99": _r(s.ttft_p99_ms),
                    },
                    "tps": {"p50": _r(s.tps_p50), "p90": _r(s.tps_p90), "p99": _r(s.tps_p99)},
                    "e2e_ms": {"p50": _r(s.e2e_p50_ms)},
                    "error_rate": round(s.error_rate, 4),
                    "price": {
                        "input_per_mtok": info.price.input_per_mtok,
                        "output_per_mtok": info.price.output_per_mtok,
                    },
                    "samples": round(s.samples, 2),
                    "age_s": _r(s.age_s),
                    "uptime": {
                        "5m": _r(s.uptime_5m, 4),
                        "30m": _r(s.uptime_30m, 4),
                        "1d": _r(s.uptime_1d, 4),
                    },
                }
            )
    return _json({"object": "list", "data": data, "wanted_probes": live.wanted_probes(now)})


async def healthz(request: web.Request) -> web.Response:
    """Liveness."""
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: ``ok``, or ``degraded`` with why (still routing from memory)."""
    state = request.app[STATE]
    degraded = state.live.degraded or state.sync_problem
    body: dict[str, Any] = {
        "status": "degraded" if degraded else "ok",
        "reason": degraded,
        "warmed": state.follower.warmed if state.follower else False,
        "observations_pending": state.writer.pending if state.writer else 0,
        "endpoints": len(state.live.endpoints),
    }
    return _json(body)


def gauges(state: RouterState) -> dict[str, float]:
    """The router's gauges for ``/metrics``."""
    return {
        "signalbox_router_degraded": 1.0 if (state.live.degraded or state.sync_problem) else 0.0,
        "signalbox_router_observations_folded_total": float(state.live.observed),
        "signalbox_router_observations_pending": float(state.writer.pending if state.writer else 0),
    }


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text: this process's, or with several workers, every worker's."""
    state = request.app[STATE]
    shared = state.shared_metrics
    text = (
        state.metrics.render(gauges(state))
        if shared is None
        else shared.render(state.metrics, gauges(state))
    )
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI document."""
    return web.Response(body=_OPENAPI_BYTES, content_type=JSON)


def add_routes(app: web.Application) -> None:
    """Register every route."""
    app.router.add_get("/v1/route", route)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/v1/endpoints", endpoints)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
