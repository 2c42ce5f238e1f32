"""The router's aiohttp application: wiring, startup (sync, warm, follow), auth and error shaping."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp
from aiohttp import web
from sqlalchemy import Engine

from signalbox.catalog import Catalog, load_catalog
from signalbox.records import Observation, Sample
from signalbox.router.decisions import DecisionLog
from signalbox.router.errors import ApiError, error_response, from_api_error
from signalbox.router.fields import echo
from signalbox.router.follow import StoreFollower, describe_db_error
from signalbox.router.handlers import add_routes, gauges
from signalbox.router.live import EndpointInfo, LiveState
from signalbox.router.metrics import Metrics, SharedMetrics, shared_folder
from signalbox.router.proxy import Forwarder, upstream_tracing
from signalbox.router.state import STATE, RouterState
from signalbox.settings import Settings

log = logging.getLogger(__name__)
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json"})
MAX_BODY_BYTES = 4 * 1024 * 1024
SYNC_RETRY_S = 5.0
METRICS_PUBLISH_S = 1.0


def provider_keys(catalog: Catalog, environ: Mapping[str, str]) -> dict[str, str]:
    """Each provider's API key from the variable its ``api_key_env`` names (values never logged)."""
    keys = {}
    for provider in catalog.providers:
        if provider.api_key_env:
            value = environ.get(provider.api_key_env)
            if value:
                keys[provider.name] = value
            else:
                log.warning(
                    "provider %s: %s is not set; calling it without a key",
                    provider.name,
                    provider.api_key_env,
                )
    return keys


def _guard(api_keys: list[str], metrics: Metrics) -> Callable:
    encoded = [k.encode() for k in api_keys]

    @web.middleware
    async def guard(request: web.Request, handler: Callable) -> web.StreamResponse:
        if encoded and request.path not in OPEN_PATHS:
            header = request.headers.get("Authorization", "")
            token = header[7:].strip().encode() if header[:7].lower() == "bearer " else b""
            allowed = False
            for key in encoded:  # every key compared, in constant time each
                allowed |= hmac.compare_digest(token, key)
            if not allowed:
                metrics.requests[
                    (request.path if request.match_info.route.resource else "unmatched", "401")
                ] += 1
                return error_response(
                    401,
                    "missing or invalid API key: send Authorization: Bearer <key>",
                    "invalid_api_key",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        try:
            response = await handler(request)
        except ApiError as exc:
            response = from_api_error(exc)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            if exc.status == 413:
                response = error_response(
                    413, f"request body too large (limit {MAX_BODY_BYTES} bytes)", "body_too_large"
                )
            elif exc.status == 404:
                response = error_response(
                    404, f"no route {echo(request.method)} {echo(request.path)}", "not_found"
                )
            elif isinstance(exc, web.HTTPMethodNotAllowed):
                allowed = ", ".join(sorted(exc.allowed_methods))
                response = error_response(
                    405,
                    f"method {echo(request.method)} not allowed on {echo(request.path)} "
                    f"(allowed: {allowed})",
                    "method_not_allowed",
                    headers={"Allow": allowed},  # RFC 9110: a 405 says what is allowed
                )
            else:
                response = error_response(exc.status, exc.reason, "http_error")
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            response = error_response(
                500, "internal error in the router", "internal_error", "api_error"
            )
        resource = request.match_info.route.resource
        metrics.requests[
            (resource.canonical if resource else "unmatched", str(response.status))
        ] += 1
        return response

    return guard


def create_app(
    settings: Settings,
    catalog: Catalog | None = None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], float] = time.time,
    rng: Callable[[], float] = random.random,
    environ: Mapping[str, str] | None = None,
    poll_interval_s: float = 1.0,
    worker: int | None = None,
) -> web.Application:
    """The router app; startup syncs the catalog, warms the stats and starts following the store.
    ``clock`` and ``rng`` are injected so tests control time and sharing; ``worker`` is this
    process's index in a multi-worker router (its spill file and metrics carry it)."""
    catalog = catalog or load_catalog(settings.catalog)
    metrics = Metrics(worker)
    live = LiveState(catalog, clock)
    routing = catalog.routing
    state = RouterState(
        catalog=catalog,
        live=live,
        routing=routing,
        metrics=metrics,
        decisions=DecisionLog(None, routing.decision_sample_rate, live.ids),
        clock=clock,
        rng=rng,
    )
    app = web.Application(
        middlewares=[_guard(settings.router_api_keys, metrics)], client_max_size=MAX_BODY_BYTES
    )
    app[STATE] = state
    add_routes(app)
    keys = provider_keys(catalog, os.environ if environ is None else environ)
    app.cleanup_ctx.append(
        lambda app: _lifecycle(app, settings, engine, keys, poll_interval_s, worker)
    )
    return app


async def _lifecycle(
    app: web.Application,
    settings: Settings,
    engine: Engine | None,
    keys: dict[str, str],
    poll_interval_s: float,
    worker: int | None,
) -> AsyncIterator[None]:
    from signalbox.db import make_engine
    from signalbox.writer import ObservationWriter, RouteDecisionWriter

    state = app[STATE]
    live = state.live
    own_engine = engine is None
    engine = engine or make_engine(settings.effective_database_url)
    tasks: list[asyncio.Task[None]] = []
    if not await _sync(state, engine):
        tasks.append(asyncio.create_task(_sync_until_done(state, engine), name="catalog-sync"))
    state.follower = StoreFollower(engine, live, poll_interval_s)
    await state.follower.start()
    suffix = "" if worker is None else f"-w{worker}"
    spill = settings.data_dir / f"router-{settings.router_port}{suffix}-spill.jsonl"
    state.writer = ObservationWriter(engine, spill_path=spill)
    await state.writer.start()
    routes_spill = settings.data_dir / f"router-{settings.router_port}{suffix}-routes-spill.jsonl"
    state.route_log = RouteDecisionWriter(engine, spill_path=routes_spill, max_buffer=10_000)
    await state.route_log.start()
    state.decisions.engine = engine
    await state.decisions.start()
    probe = state.catalog.probe
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30),
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=probe.connect_timeout_s, sock_read=probe.total_timeout_s
        ),
        trace_configs=[upstream_tracing()],
    )
    follower, writer = state.follower, state.writer

    def on_observation(info: EndpointInfo, obs: Observation, load_level: int) -> None:
        live.observe(info.key, Sample.of(obs), now=state.clock(), load_level=load_level)
        if obs.endpoint_id:
            follower.mark_own(obs.uid)
            writer.submit(obs)

    state.forwarder = Forwarder(
        session, keys, live, state.metrics, on_observation, probe.ttft_timeout_s
    )
    if worker is not None:
        folder = shared_folder(settings.data_dir, settings.router_port)
        state.shared_metrics = SharedMetrics(folder, worker)
        tasks.append(asyncio.create_task(_publish_metrics(state), name="metrics-publish"))
    # What exists now (catalog, warmed statistics, imported modules) lives as long as the process:
    # freezing it keeps the garbage collector's full passes from walking it on every request
    # burst (measured: 7.5k -> 10.3k req/s on /v1/route, see bench/bench_route.py).
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await session.close()
        await state.follower.close()
        await state.decisions.close()
        await state.writer.close()
        await state.route_log.close()
        if own_engine:
            engine.dispose()


async def _sync(state: RouterState, engine: Engine) -> bool:
    from signalbox.sync import sync_catalog

    try:
        report = await asyncio.to_thread(sync_catalog, engine, state.catalog)
    except Exception as exc:
        state.sync_problem = f"catalog not synced: {describe_db_error(exc)}"
        log.warning("%s; routing without recording traffic until it works", state.sync_problem)
        return False
    state.live.set_endpoint_ids(report.endpoint_ids)
    state.sync_problem = None
    return True


async def _sync_until_done(state: RouterState, engine: Engine) -> None:
    while True:
        if await _sync(state, engine):
            break
        await asyncio.sleep(SYNC_RETRY_S)
    if state.follower is not None:
        state.follower.warmed = False  # re-warm now that ids are known


async def _publish_metrics(state: RouterState) -> None:
    """Write this worker's counts for the other workers' ``/metrics``, every second."""
    assert state.shared_metrics is not None
    while True:
        try:
            state.shared_metrics.publish(state.metrics, gauges(state))
        except OSError as exc:  # a full or read-only disk: the scrape of this worker still works
            log.warning("cannot publish metrics for the other workers: %s", exc)
        await asyncio.sleep(METRICS_PUBLISH_S)
