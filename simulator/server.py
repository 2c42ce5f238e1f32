"""The aiohttp app: every dialect's routes (``dialects``), /truth and /admin/fault, paced streaming.

Pacing: every chunk is due at ``arrival + ttft + (last token index) / tps`` on the monotonic clock;
each sleep targets that absolute deadline, so scheduling drift never accumulates along a stream.
Generation responses carry ``x-simulator-ttft-ms``, ``x-simulator-tps`` and ``x-simulator-outcome``
(the plan of that very request), and ``x-simulator-decode-tps`` (the tokens/s its chunk schedule
delivers from first content to last, jitter and stalls included), so benchmarks can score what a
client measured.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import time
import uuid
from typing import Any

import orjson
from aiohttp import web

from signalbox.simulator.answer import Answer, shape_answer
from signalbox.simulator.ask import Ask
from signalbox.simulator.capability import CapabilityDice, draw_flaw
from signalbox.simulator.dialect import BadRequest, Dialect, Reply, Route
from signalbox.simulator.dialects import DIALECTS
from signalbox.simulator.faults import FaultError
from signalbox.simulator.fleet import Fleet
from signalbox.simulator.model import estimate_input_tokens
from signalbox.simulator.scenario import ProviderSpec, Scenario

log = logging.getLogger(__name__)

FLEET: web.AppKey[Fleet] = web.AppKey("fleet", Fleet)
HANG_MAX_S = 600.0
# The error shape of routes that belong to no provider (unknown paths, /truth, /admin/fault)
_DEFAULT = DIALECTS["openai"]
_MIDWAY = {"cut_stream", "malformed_event", "stream_error"}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, headers=headers, content_type="application/json"
    )


def _error(dialect: Dialect, status: int, message: str, **headers: str) -> web.Response:
    return _json(dialect.error_body(status, message), status, headers or None)


def _nodelay(request: web.Request) -> None:
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# Loop timers fire on millisecond ticks (epoll's timeout, libuv's clock), so a sleep aimed at the
# exact deadline lands 0-1 ms late plus the wake-up latency; aiming half a tick early centres the
# error on zero (measured: p50 0.6 ms late → 0.05 ms).
TIMER_BIAS_S = 0.0005


async def _sleep_until(deadline: float) -> None:
    """Sleep until ``deadline`` on the monotonic clock (which both loops' ``time()`` follow).

    The delay is taken from ``loop.time()``, not ``time.monotonic()``: uvloop adds it to its own
    millisecond clock, which ``time()`` refreshes; a delay from a fresher clock would fire early.
    """
    loop = asyncio.get_running_loop()
    delay = deadline - loop.time() - TIMER_BIAS_S
    if delay > 0:
        await asyncio.sleep(delay)


async def _send_chunk(request: web.Request, resp: web.StreamResponse, data: bytes) -> None:
    """Write one HTTP chunk straight to the transport: aiohttp's writer costs a third of the CPU
    per chunk at 25k chunks/s. Falls back to it (which drains) when the client reads slowly."""
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("client went away")
    if transport.get_write_buffer_size() > 256 * 1024:
        await resp.write(data)
    else:
        transport.write(b"%x\r\n%b\r\n" % (len(data), data))


def _closed(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _hang(request: web.Request) -> web.StreamResponse:
    """Send nothing until the client gives up (or HANG_MAX_S passes), then drop the connection."""
    deadline = time.monotonic() + HANG_MAX_S
    # aiohttp signals a client's disconnect only by cancelling the handler (off by default): poll.
    while not _closed(request) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    _abort(request)
    return web.Response(status=499)


def _frame(dialect: Dialect, reply: Reply, answer: Answer, i: int) -> bytes:
    """The bytes of the answer's ``i``-th chunk: text, a refusal or a piece of a tool call."""
    if answer.kind == "refusal":
        return dialect.stream_refusal(reply, answer.pieces[i])
    if answer.tool is not None:
        return dialect.stream_tool_call(reply, answer.tool, answer.pieces[i], i == 0)
    return dialect.stream_content(reply, answer.pieces[i])


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


class Handlers:
    """Route handlers bound to one fleet."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.dice = CapabilityDice(fleet.scenario.seed)

    def _provider(self, request: web.Request, dialect: Dialect) -> ProviderSpec | web.Response:
        name = request.match_info["provider"]
        provider = self.fleet.scenario.provider(name)
        if provider is None or provider.dialect != dialect.name:
            return _error(dialect, 404, f"Unknown provider '{name}' for the {dialect.name} API.")
        if provider.api_key is not None and not dialect.auth_ok(
            request.headers, request.query, provider.api_key
        ):
            status, body = dialect.auth_refusal(name)
            return _json(body, status)
        return provider

    def models(self, path: str) -> Any:
        """The handler of ``GET /{provider}{path}``: the models of a provider whose dialect lists
        them at ``path``."""

        async def handler(request: web.Request) -> web.Response:
            spec = self.fleet.scenario.provider(request.match_info["provider"])
            dialect = DIALECTS[spec.dialect] if spec is not None else _DEFAULT
            if dialect.models_path != path:
                dialect = _DEFAULT
            provider = self._provider(request, dialect)
            if isinstance(provider, web.Response):
                return provider
            return _json(
                dialect.models_list(provider.name, [m.upstream_model for m in provider.models])
            )

        return handler

    def generate(self, dialect: Dialect, route: Route) -> Any:
        """The handler of one of ``dialect``'s generation routes."""

        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._generate(request, dialect, route)

        return handler

    async def _generate(
        self, request: web.Request, dialect: Dialect, route: Route
    ) -> web.StreamResponse:
        arrival = time.monotonic()
        provider = self._provider(request, dialect)
        if isinstance(provider, web.Response):
            return provider
        try:
            body = await request.read()
            gen = dialect.parse(body, request.match_info.get("model"), route.stream)
        except BadRequest as exc:
            return _error(dialect, 400, str(exc))
        spec = provider.find_model(gen.model)
        if spec is None:
            message = f"The model '{gen.model}' does not exist on provider '{provider.name}'."
            return _error(dialect, 404, message)
        plan = self.fleet.start_request(provider, spec, gen.max_tokens)
        try:
            outcome = plan.outcome
            if outcome in ("outage", "http_503"):
                return _error(dialect, 503, "The service is temporarily unavailable.")
            if outcome == "http_500":
                return _error(dialect, 500, "The server had an error processing your request.")
            if outcome == "rate_limit_429":
                retry = str(max(1, math.ceil(plan.retry_after_s)))
                return _error(
                    dialect, 429, "Rate limit reached; retry later.", **{"Retry-After": retry}
                )
            if outcome == "hang":
                return await _hang(request)
            ask = gen.ask or Ask(input_chars=gen.input_chars)
            rng = self.dice.rng(provider.name, spec.model)
            flaw = draw_flaw(spec.capability, ask, rng) if outcome == "ok" else None
            answer = shape_answer(plan, ask, flaw, rng)
            reply = Reply(
                id=dialect.id_prefix + uuid.uuid4().hex[:24],
                created=int(time.time()),
                model=spec.upstream_model,
                input_tokens=estimate_input_tokens(gen.input_chars),
                include_usage=gen.include_usage,
            )
            headers = {
                "x-request-id": reply.id,
                "x-simulator-ttft-ms": f"{plan.ttft_ms:.3f}",
                "x-simulator-tps": f"{plan.tps:.3f}",
                "x-simulator-outcome": outcome,
                "x-simulator-flaw": flaw or "none",
            }
            if (decode := plan.decode_tps()) is not None:
                headers["x-simulator-decode-tps"] = f"{decode:.3f}"
            if gen.stream:
                return await self._stream(request, dialect, reply, answer, arrival, headers)
            return await self._complete(request, dialect, reply, answer, arrival, headers)
        finally:
            self.fleet.end_request(provider)

    async def _stream(
        self,
        request: web.Request,
        dialect: Dialect,
        reply: Reply,
        answer: Answer,
        arrival: float,
        headers: dict[str, str],
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={**headers, "Cache-Control": "no-cache"})
        resp.content_type = dialect.content_type
        _nodelay(request)
        plan = answer.plan
        try:
            await resp.prepare(request)
            await resp.write(dialect.stream_head(reply))  # flushes the headers too
            fault_at = plan.fail_after if plan.outcome in _MIDWAY else -1
            for i, due in enumerate(plan.token_times_s()):
                await _sleep_until(arrival + due)
                if i == fault_at:
                    if plan.outcome != "malformed_event":
                        return await self._break(request, resp, dialect, reply, plan.outcome)
                    await _send_chunk(request, resp, dialect.malformed(reply))
                if frame := _frame(dialect, reply, answer, i):  # an empty chunk would end the body
                    await _send_chunk(request, resp, frame)
            if fault_at >= len(plan.chunks) and plan.outcome != "malformed_event":
                return await self._break(request, resp, dialect, reply, plan.outcome)
            tail = dialect.stream_tail(reply, answer.finish_reason, plan.output_tokens, answer.tool)
            await resp.write(tail)
            await resp.write_eof()
        except ConnectionError:
            log.debug("client of %s went away mid-stream", reply.id)
        return resp

    async def _break(
        self,
        request: web.Request,
        resp: web.StreamResponse,
        dialect: Dialect,
        reply: Reply,
        outcome: str,
    ) -> web.StreamResponse:
        """End a stream the faulty way: cut the connection, or an error event and no finish."""
        if outcome == "cut_stream":
            _abort(request)
            return resp
        await resp.write(dialect.stream_error(reply))
        await resp.write_eof()
        return resp

    async def _complete(
        self,
        request: web.Request,
        dialect: Dialect,
        reply: Reply,
        answer: Answer,
        arrival: float,
        headers: dict[str, str],
    ) -> web.StreamResponse:
        plan = answer.plan
        times = plan.token_times_s()
        await _sleep_until(arrival + (times[-1] if times else plan.ttft_ms / 1000.0))
        if plan.outcome == "cut_stream":
            _abort(request)
            return web.Response(status=499)
        if plan.outcome == "stream_error":
            return _error(dialect, 500, "The server had an error while generating the answer.")
        if plan.outcome == "malformed_event":
            body = b'{"id": "' + reply.id.encode() + b'", "choices": [{'
            return web.Response(body=body, headers=headers, content_type="application/json")
        completion = dialect.completion(
            reply, answer.text, answer.finish_reason, plan.output_tokens, answer.tool
        )
        return _json(completion, headers=headers)

    async def truth(self, request: web.Request) -> web.Response:
        """``GET /truth?at=T``."""
        at_raw = request.query.get("at")
        at = None
        if at_raw is not None:
            try:
                at = float(at_raw)
            except ValueError:
                at = math.nan
            if not math.isfinite(at) or at < 0:
                return _error(_DEFAULT, 400, "at: must be a non-negative number of seconds")
        return _json(self.fleet.truth_json(at))

    async def fault(self, request: web.Request) -> web.Response:
        """``POST /admin/fault``."""
        try:
            payload = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _error(_DEFAULT, 400, "body: not valid JSON")
        try:
            fault = self.fleet.apply_fault(payload)
        except FaultError as exc:
            return _error(_DEFAULT, 400, str(exc))
        t = self.fleet.now_t()
        return _json({"ok": True, "applied": fault.describe(), "faults": self.fleet.faults_json(t)})

    async def index(self, request: web.Request) -> web.Response:
        """``GET /``: the providers and where they are."""
        scenario = self.fleet.scenario
        return _json(
            {
                "scenario": scenario.name,
                "providers": [
                    {"name": p.name, "dialect": p.dialect, "models": [m.model for m in p.models]}
                    for p in scenario.providers
                ],
            }
        )


@web.middleware
async def _json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Unknown routes and unexpected failures answer in OpenAI's error shape, never a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(_DEFAULT, exc.status, exc.reason)
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        log.exception("simulator handler failed")
        return _error(_DEFAULT, 500, "internal simulator error")


def build_app(scenario: Scenario, fleet: Fleet | None = None) -> web.Application:
    """The simulator's aiohttp application for ``scenario``."""
    fleet = fleet or Fleet(scenario)
    handlers = Handlers(fleet)
    app = web.Application(middlewares=[_json_errors], client_max_size=32 * 1024 * 1024)
    app[FLEET] = fleet
    app.router.add_get("/", handlers.index)
    app.router.add_get("/truth", handlers.truth)
    app.router.add_post("/admin/fault", handlers.fault)
    for dialect in DIALECTS.values():
        for route in dialect.routes:
            app.router.add_post("/{provider}" + route.path, handlers.generate(dialect, route))
    for path in sorted({d.models_path for d in DIALECTS.values()}):
        app.router.add_get("/{provider}" + path, handlers.models(path))
    return app
