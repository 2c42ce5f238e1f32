"""Forward a chat request to the ranked endpoints in turn (I/O): stream through the first that
produces content before its first-token deadline, measure it as a ``traffic`` observation with the
probe's metric definitions, and end a stream that breaks after the first byte with an error event.

Every upstream speaks its provider's wire protocol (``signalbox.protocols``): the protocol builds
the request and reads the stream, translating it to OpenAI chunks where it is not OpenAI's; nothing
here names a protocol. Upstreams are always streamed, so TTFT, the deadline and fallback work the
same for apps that asked for a plain completion (assembled here).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from signalbox.protocols import protocol
from signalbox.protocols.sse import SSEParser
from signalbox.protocols.wire import StreamReader, TranslationError, WireProtocol
from signalbox.records import ErrorClass, Observation
from signalbox.router.completion import CompletionBuilder
from signalbox.router.errors import ApiError, error_event
from signalbox.router.events import AttemptFailed, Marks, ended_early, fold, observation
from signalbox.router.fallback import (
    CLIENT_FAULT_STATUSES,
    AttemptError,
    ProvidersExhausted,
    UpstreamClientError,
    classify_status,
    first_token_deadline_s,
)
from signalbox.router.live import EndpointInfo, LiveState
from signalbox.router.metrics import Metrics
from signalbox.routing.select import Decision

log = logging.getLogger(__name__)
perf_ns = time.perf_counter_ns


def upstream_tracing() -> aiohttp.TraceConfig:
    """aiohttp hooks that put connection set-up and the moment the request was written into the
    attempt's ``Marks`` (passed as ``trace_request_ctx``): TTFT counts from the write on an open
    connection, and a new connection's set-up is ``connect_ms`` (docs/architecture.md §2). Per
    request, not per chunk."""

    async def connect_start(session: object, ctx: SimpleNamespace, params: object) -> None:
        ctx.trace_request_ctx.connect_start_ns = time.perf_counter_ns()

    async def connect_end(session: object, ctx: SimpleNamespace, params: object) -> None:
        marks = ctx.trace_request_ctx
        marks.connect_ns = time.perf_counter_ns() - marks.connect_start_ns

    async def headers_sent(session: object, ctx: SimpleNamespace, params: object) -> None:
        ctx.trace_request_ctx.sent_ns = time.perf_counter_ns()

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_start.append(connect_start)
    trace.on_connection_create_end.append(connect_end)
    trace.on_request_headers_sent.append(headers_sent)
    return trace


@dataclass(frozen=True, slots=True)
class HeldAnswer:
    """A whole answer read but not sent: the completion, for a streaming request the OpenAI
    stream bytes to relay as they came, and the response headers."""

    completion: dict[str, Any]
    sse: bytes | None
    provider: str
    headers: dict[str, str]


class _Relay:
    """What one attempt does with the answer: hand it back unsent (``hold``), keeping the stream
    bytes too (``keep``), and the headers a routed request adds."""

    __slots__ = ("headers", "hold", "keep")

    def __init__(self, hold: bool, keep: bool, headers: Mapping[str, str] | None) -> None:
        self.hold = hold
        self.keep = keep
        self.headers = dict(headers or {})


class Forwarder:
    """Owns the upstream session; one per app."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        keys: Mapping[str, str],
        live: LiveState,
        metrics: Metrics,
        on_observation: Callable[[EndpointInfo, Observation, int], None],
        ttft_cap_s: float,
    ) -> None:
        self.session = session
        self.keys = keys
        self.live = live
        self.metrics = metrics
        self.on_observation = on_observation
        self.ttft_cap_s = ttft_cap_s

    async def forward(
        self,
        request: web.Request,
        body: dict[str, Any],
        decision: Decision,
        allow_fallbacks: bool,
        max_ttft_ms: float | None,
        received_ns: int,
        *,
        hold: bool = False,
        headers: Mapping[str, str] | None = None,
        trace: list[tuple[str, Marks]] | None = None,
    ) -> web.StreamResponse | HeldAnswer:
        """Try the ranking in order; the response (streamed or whole) of the first that works.

        A routed request (``signalbox.router.routed``) adds its ``headers``, collects each
        attempt's ``Marks`` in ``trace`` (their observation included), and with ``hold`` gets the
        whole answer back unsent, to inspect it before the app sees a byte."""
        stream = bool(body.get("stream"))
        options = body.get("stream_options")
        include_usage = bool(stream and isinstance(options, dict) and options.get("include_usage"))
        ranking = decision.ranking
        if decision.trial and len(ranking) > 1:
            trial_key = ranking[0].candidate.key
            if not self.live.breakers[trial_key].acquire_trial(self.live.clock()):
                ranking = ranking[1:]  # another request holds the trial slot
        if not allow_fallbacks:
            ranking = ranking[:1]
        errors: list[AttemptError] = []
        untranslatable: list[str] = []
        for n, ranked in enumerate(ranking, 1):
            info = self.live.endpoints[ranked.candidate.key]
            deadline = first_token_deadline_s(
                ranked.candidate.snapshot, self.ttft_cap_s, max_ttft_ms
            )
            wire = protocol(info.ref.provider.api)
            try:
                payload = orjson.dumps(wire.request(body, info.ref.spec.upstream_model))
            except TranslationError as exc:
                # the app's request, not the provider, is at fault: another API may take it
                untranslatable.append(f"{info.provider}: {exc}")
                continue
            builder = CompletionBuilder(decision.model) if hold or not stream else None
            reader = wire.reader(
                info.ref.model,
                include_usage=include_usage or not stream,
                sink=builder.add if builder is not None else None,
            )
            marks = Marks()
            if trace is not None:
                trace.append((info.provider, marks))
            marks.load_level = self.live.begin(info.key)
            relay = _Relay(hold, hold and stream, headers)
            try:
                tried = ",".join([e.provider for e in errors] + [info.provider])
                response = await self._attempt(
                    request,
                    info,
                    wire,
                    payload,
                    reader,
                    builder,
                    marks,
                    deadline,
                    n,
                    received_ns,
                    relay,
                    tried,
                )
            except AttemptFailed as exc:
                errors.append(AttemptError(info.provider, exc.error_class, exc.status, exc.message))
                self.metrics.upstream_errors[(info.provider, str(exc.error_class))] += 1
                continue
            finally:
                self.live.end(info.key)  # the whole stream has been passed through by now
            if n > 1:
                self.metrics.fallbacks[(decision.model,)] += 1
            return response
        if untranslatable and not errors:
            raise ApiError(
                400,
                "the request cannot be sent to any allowed endpoint: " + "; ".join(untranslatable),
                "untranslatable_request",
            )
        raise ProvidersExhausted(errors)

    async def _attempt(
        self,
        request: web.Request,
        info: EndpointInfo,
        wire: WireProtocol,
        payload: bytes,
        reader: StreamReader,
        builder: CompletionBuilder | None,
        marks: Marks,
        deadline_s: float,
        attempt: int,
        received_ns: int,
        relay: _Relay,
        tried: str,
    ) -> web.StreamResponse | HeldAnswer:
        provider = info.ref.provider
        url = wire.url(provider.base_url, info.ref.spec.upstream_model, stream=True)
        headers = wire.headers(self.keys.get(provider.name))
        wall = self.live.clock()
        parser = SSEParser()
        upstream: aiohttp.ClientResponse | None = None
        held: list[bytes] = []
        try:
            try:
                async with asyncio.timeout(deadline_s) as cm:
                    marks.sent_ns = perf_ns()  # moved to the write by the tracing hooks
                    upstream = await self.session.post(
                        url, data=payload, headers=headers, trace_request_ctx=marks
                    )
                    marks.status = upstream.status
                    if upstream.status != 200:
                        await self._refuse(upstream, wire)
                    content = upstream.content
                    while not marks.first_ns:
                        chunk = await content.readany()
                        if not chunk:
                            ended_early(reader)  # raises unless a refusal said nothing
                            marks.first_ns = perf_ns()  # the refusal arrived with its finish
                            break
                        held.append(fold(marks, reader, parser.feed(chunk), perf_ns()))
                    cm.reschedule(None)
                    if builder is not None:  # a plain completion: read to the end first
                        while chunk := await content.readany():
                            out = fold(marks, reader, parser.feed(chunk), perf_ns())
                            if relay.keep and out:
                                held.append(out)
                        if not (reader.done or reader.finished):
                            raise AttemptFailed(
                                ErrorClass.TRUNCATED, "stream ended without a finish reason"
                            )
            except aiohttp.ConnectionTimeoutError:
                raise AttemptFailed(ErrorClass.CONNECT, "connect timeout") from None
            except TimeoutError:
                if not marks.first_ns:
                    raise AttemptFailed(
                        ErrorClass.TIMEOUT_TTFT, f"no content within {deadline_s:.2f} s"
                    ) from None
                raise AttemptFailed(ErrorClass.TIMEOUT_TOTAL, "upstream stalled") from None
            except aiohttp.ClientError as exc:  # refused, reset, malformed HTTP, cut body
                cls = ErrorClass.CONNECT if upstream is None else ErrorClass.STREAM_BROKEN
                raise AttemptFailed(cls, type(exc).__name__) from None
            except UpstreamClientError:
                self._record(info, wall, marks, reader, ErrorClass.HTTP_4XX, perf_ns())
                if upstream is not None:
                    upstream.close()
                raise
        except AttemptFailed as exc:
            if exc.status is None:
                exc.status = marks.status
            self._record(info, wall, marks, reader, exc.error_class, perf_ns())
            if upstream is not None:
                upstream.close()
            raise
        headers_out = {
            **relay.headers,
            "x-signalbox-provider": info.provider,
            "x-signalbox-attempts": str(attempt),
            "x-signalbox-tried": tried,  # each attempt's provider, in order: reroutes show
        }
        if builder is not None:
            upstream.release()
            self._record(info, wall, marks, reader, None, perf_ns())
            if relay.hold:
                sse = b"".join(held) if relay.keep else None
                return HeldAnswer(builder.result(), sse, info.provider, headers_out)
            return web.Response(
                body=orjson.dumps(builder.result()),
                content_type="application/json",
                headers=headers_out,
            )
        return await self._stream(
            request,
            info,
            upstream,
            parser,
            reader,
            marks,
            held,
            headers_out,
            wall,
            attempt,
            received_ns,
        )

    async def _stream(
        self,
        request: web.Request,
        info: EndpointInfo,
        upstream: aiohttp.ClientResponse,
        parser: SSEParser,
        reader: StreamReader,
        marks: Marks,
        held: list[bytes],
        headers_out: dict[str, str],
        wall: float,
        attempt: int,
        received_ns: int,
    ) -> web.StreamResponse:
        """Commit: send the held first content, then pass the rest through as it comes."""
        response = web.StreamResponse(
            headers={
                **headers_out,
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
            }
        )
        error: ErrorClass | None = None
        try:
            await response.prepare(request)
            await response.write(b"".join(held))
            if attempt == 1:
                added = (perf_ns() - received_ns) - (marks.first_ns - marks.sent_ns)
                self.metrics.observe_added_latency(max(added, 0) / 1e9)
            content = upstream.content
            try:
                while chunk := await content.readany():
                    out = fold(marks, reader, parser.feed(chunk), perf_ns())
                    if out:
                        await response.write(out)
                if not (reader.done or reader.finished):
                    raise AttemptFailed(
                        ErrorClass.TRUNCATED, "upstream stream ended without a finish reason"
                    )
            except AttemptFailed as exc:
                error = exc.error_class
                await response.write(
                    error_event(
                        f"upstream {info.provider} failed mid-stream: {exc.message}",
                        str(exc.error_class),
                    )
                )
            except ConnectionResetError:
                raise  # the app went away (handled below)
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = (
                    ErrorClass.TIMEOUT_TOTAL
                    if isinstance(exc, TimeoutError)
                    else ErrorClass.STREAM_BROKEN
                )
                await response.write(
                    error_event(
                        f"upstream {info.provider} broke mid-stream ({type(exc).__name__})",
                        str(error),
                    )
                )
            if error is not None:
                self.metrics.upstream_errors[(info.provider, str(error))] += 1
            self._record(info, wall, marks, reader, error, perf_ns())
            await response.write_eof()
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            upstream.close()  # the app went away: nothing to measure about the provider
            return response
        finally:
            upstream.release()
        return response

    def _record(
        self,
        info: EndpointInfo,
        wall: float,
        marks: Marks,
        reader: StreamReader,
        error: ErrorClass | None,
        end_ns: int,
    ) -> None:
        marks.input_tokens, marks.output_tokens = reader.input_tokens, reader.output_tokens
        endpoint_id = self.live.ids.get(info.key, 0)
        obs = marks.observation = observation(info, endpoint_id, wall, marks, error, end_ns)
        if obs.ok:
            self.live.observe_load(info.key, marks.load_level, wall, obs.ttft_ms, obs.tps)
        self.on_observation(info, obs, marks.load_level)

    async def _refuse(self, upstream: aiohttp.ClientResponse, wire: WireProtocol) -> None:
        status = upstream.status
        body = await upstream.content.read(4096)
        message = wire.error_message(body) or f"HTTP {status}"
        if status in CLIENT_FAULT_STATUSES and not wire.provider_refusal(status, body):
            raise UpstreamClientError(status, message)
        raise AttemptFailed(classify_status(status), message, status)
