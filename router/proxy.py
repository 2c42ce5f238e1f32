"""Forward a chat request to the ranked endpoints in turn (I/O): stream through the first that
produces content before its first-token deadline, measure it as a ``traffic`` observation with the
probe's metric definitions, and end a stream that breaks after the first byte with an error event.

Upstreams are always streamed, so TTFT, the deadline and fallback work the same for apps that asked
for a plain completion (assembled here). Per-chunk work after the first content is byte tests only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from signalbox.records import ErrorClass, Observation
from signalbox.router.anthropic import StreamTranslator, TranslationError, translate_request
from signalbox.router.completion import CompletionBuilder
from signalbox.router.errors import ApiError
from signalbox.router.events import (
    AttemptFailed,
    Marks,
    anthropic_events,
    ended_early,
    observation,
    openai_events,
)
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
from signalbox.router.sse import (
    EventSplitter,
    error_event,
    parse_json,
)
from signalbox.routing.select import Decision

log = logging.getLogger(__name__)
perf_ns = time.perf_counter_ns
ANTHROPIC_VERSION = "2023-06-01"


def upstream_tracing() -> aiohttp.TraceConfig:
    """aiohttp hooks that put connection set-up and the moment the request was written into the
    attempt's ``Marks`` (passed as ``trace_request_ctx``): TTFT counts from the write on an open
    connection, and a new connection's set-up is ``connect_ms`` (DESIGN §2). Per request, not per
    chunk."""

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


class UntranslatableRequest(Exception):
    """The app's request has no valid form in the endpoint's API (e.g. tool-call arguments that
    are not JSON, for an Anthropic endpoint); nothing was sent."""


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
    ) -> web.StreamResponse:
        """Try the ranking in order; the response (streamed or whole) of the first that works."""
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
            marks = Marks(include_usage=include_usage or not stream)
            if not stream:
                marks.builder = CompletionBuilder(decision.model)
            marks.load_level = self.live.begin(info.key)
            try:
                response = await self._attempt(
                    request, info, body, marks, deadline, n, received_ns, stream
                )
            except UntranslatableRequest as exc:
                # the app's request, not the provider, is at fault: another API may take it
                untranslatable.append(f"{info.provider}: {exc}")
                continue
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

    def _request(
        self, info: EndpointInfo, body: dict[str, Any], marks: Marks
    ) -> tuple[str, bytes, dict[str, str]]:
        provider = info.ref.provider
        key = self.keys.get(provider.name)
        if provider.api == "anthropic":
            try:
                payload = translate_request(body, info.ref.spec.upstream_model)
            except TranslationError as exc:
                raise UntranslatableRequest(str(exc)) from None
            marks.translator = StreamTranslator(info.ref.model, marks.include_usage)
            headers = {"anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json"}
            if key:
                headers["x-api-key"] = key
        else:
            payload = {k: v for k, v in body.items() if k != "provider"}
            payload["model"] = info.ref.spec.upstream_model
            payload["stream"] = True
            payload["stream_options"] = {"include_usage": True}
            headers = {"content-type": "application/json"}
            if key:
                headers["authorization"] = f"Bearer {key}"
        return provider.request_url(), orjson.dumps(payload), headers

    async def _attempt(
        self,
        request: web.Request,
        info: EndpointInfo,
        body: dict[str, Any],
        marks: Marks,
        deadline_s: float,
        attempt: int,
        received_ns: int,
        stream: bool,
    ) -> web.StreamResponse:
        url, data, headers = self._request(info, body, marks)
        wall = self.live.clock()
        splitter = EventSplitter()
        process = anthropic_events if marks.translator else openai_events
        upstream: aiohttp.ClientResponse | None = None
        held: list[bytes] = []
        try:
            try:
                async with asyncio.timeout(deadline_s) as cm:
                    marks.sent_ns = perf_ns()  # moved to the write by the tracing hooks
                    upstream = await self.session.post(
                        url, data=data, headers=headers, trace_request_ctx=marks
                    )
                    marks.status = upstream.status
                    if upstream.status != 200:
                        await self._refuse(upstream)
                    reader = upstream.content
                    while not marks.first_ns:
                        chunk = await reader.readany()
                        if not chunk:
                            ended_early(marks)
                        held.append(process(marks, splitter.feed(chunk), perf_ns()))
                    cm.reschedule(None)
                    if not stream:  # a plain completion: read to the end before the first byte
                        while chunk := await reader.readany():
                            process(marks, splitter.feed(chunk), perf_ns())
                        if not (marks.done or marks.finish):
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
                self._record(info, wall, marks, ErrorClass.HTTP_4XX, perf_ns())
                if upstream is not None:
                    upstream.close()
                raise
        except AttemptFailed as exc:
            if exc.status is None:
                exc.status = marks.status
            self._record(info, wall, marks, exc.error_class, perf_ns())
            if upstream is not None:
                upstream.close()
            raise
        headers_out = {"x-signalbox-provider": info.provider, "x-signalbox-attempts": str(attempt)}
        if not stream:
            upstream.release()
            assert marks.builder is not None
            self._record(info, wall, marks, None, perf_ns())
            return web.Response(
                body=orjson.dumps(marks.builder.result()),
                content_type="application/json",
                headers=headers_out,
            )
        return await self._stream(
            request,
            info,
            upstream,
            splitter,
            process,
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
        splitter: EventSplitter,
        process: Callable[[Marks, list[bytes], int], bytes],
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
            reader = upstream.content
            try:
                while chunk := await reader.readany():
                    out = process(marks, splitter.feed(chunk), perf_ns())
                    if out:
                        await response.write(out)
                if not (marks.done or marks.finish):
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
            self._record(info, wall, marks, error, perf_ns())
            await response.write_eof()
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            upstream.close()  # the app went away: nothing to measure about the provider
            return response
        finally:
            upstream.release()
        return response

    def _record(
        self, info: EndpointInfo, wall: float, marks: Marks, error: ErrorClass | None, end_ns: int
    ) -> None:
        endpoint_id = self.live.ids.get(info.key, 0)
        obs = observation(info, endpoint_id, wall, marks, error, end_ns)
        if obs.ok:
            self.live.observe_load(info.key, marks.load_level, wall, obs.ttft_ms, obs.tps)
        self.on_observation(info, obs, marks.load_level)

    async def _refuse(self, upstream: aiohttp.ClientResponse) -> None:
        status = upstream.status
        text = (await upstream.content.read(4096)).decode("utf-8", "replace")
        message = _upstream_message(text) or f"HTTP {status}"
        if status in CLIENT_FAULT_STATUSES:
            raise UpstreamClientError(status, message)
        raise AttemptFailed(classify_status(status), message, status)


def _upstream_message(text: str) -> str | None:
    body = parse_json(text.encode())
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
        if isinstance(err, str):
            return err[:300]
    return text.strip()[:200] or None
