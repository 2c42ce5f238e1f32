"""The one probe runner: one streamed request, timed, bounded by deadlines, classified, priced.

The endpoint's wire protocol (``signalbox.protocols``, by the provider's ``api``) gives the URL,
headers and request body and reads each SSE event; everything else lives here: the
connect/TTFT/total deadlines, the timing marks (the request-written mark comes from httpx's
``trace`` extension), classification and cost. Nothing on this path touches the database or logs
request headers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

import anyio._backends._asyncio  # see the note below
import anyio.streams.tls  # noqa: F401
import httpx
import orjson

from signalbox.catalog import EndpointRef, ProbeSettings, ProbeShape
from signalbox.prices import Prices
from signalbox.probe.classify import HTTPStatusFailure, ProbeTimeout, classify
from signalbox.probe.loop_lag import LagWindow
from signalbox.probe.timing import Marks, derive
from signalbox.protocols import protocol
from signalbox.protocols.sse import SSEParser
from signalbox.protocols.wire import Content, StreamReader
from signalbox.records import Observation, Source, utcnow

log = logging.getLogger(__name__)
# The anyio modules above are what httpcore imports on its first request; importing them here, at
# start-up, keeps those ~40 ms of imports out of the first probe's timing.


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Connect, time-to-first-token (from the request written) and total deadlines, seconds."""

    connect_s: float = 5.0
    ttft_s: float = 20.0
    total_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: ProbeSettings) -> Timeouts:
        """The catalog's ``[probe]`` timeouts."""
        return cls(settings.connect_timeout_s, settings.ttft_timeout_s, settings.total_timeout_s)


@dataclass(frozen=True, slots=True)
class Target:
    """One endpoint x shape to probe, with everything the runner needs; the key is never shown."""

    endpoint_id: int
    endpoint: EndpointRef
    shape: ProbeShape
    prices: Prices | None = None
    api_key: str | None = field(default=None, repr=False)

    @property
    def job_id(self) -> str:
        """A stable name for this endpoint x shape (scheduler job id, logs)."""
        return f"{self.endpoint.key}#{self.shape.name}"


def make_client(*, connect_timeout_s: float = 5.0, max_connections: int = 256) -> httpx.AsyncClient:
    """The probe's pooled HTTP/1.1 client: explicit TCP_NODELAY, no redirects, no env proxies.

    Read deadlines are the runner's own (TTFT, total), so httpx's read timeout is off.
    """
    import socket

    transport = httpx.AsyncHTTPTransport(
        http1=True,
        http2=False,
        retries=0,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(
            connect=connect_timeout_s, read=None, write=connect_timeout_s, pool=None
        ),
        follow_redirects=False,
        trust_env=False,
    )


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters a token) when the provider gives no usage."""
    return max(1, round(len(text) / 4))


Request = tuple[str, dict[str, str], bytes]


def build_request(target: Target) -> Request:
    """(URL, headers, JSON body) of the streaming request probing ``target``, in its protocol."""
    ref, shape = target.endpoint, target.shape
    wire = protocol(ref.provider.api)
    url = wire.url(ref.provider.base_url, ref.spec.upstream_model, stream=True)
    body = wire.probe_request(ref.spec.upstream_model, shape.prompt_text(), shape.max_tokens)
    return url, wire.headers(target.api_key), orjson.dumps(body)


@dataclass(slots=True)
class _Attempt:
    """One HTTP exchange of a probe: its marks, what the stream said, and how it failed."""

    marks: Marks
    reader: StreamReader
    status: int | None = None
    chunks: int = 0
    failure: BaseException | None = None

    @property
    def hit_a_closed_idle_connection(self) -> bool:
        """The pooled connection was closed by the server while idle: nothing came back at all.

        Not the provider's failure to answer (no new connection was even tried), so worth one retry.
        """
        return (
            self.status is None
            and self.marks.connect_ns == 0
            and isinstance(
                self.failure, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError
            )
        )


async def probe_target(
    client: httpx.AsyncClient,
    target: Target,
    *,
    timeouts: Timeouts,
    lag: LagWindow | None = None,
) -> Observation:
    """Probe ``target`` once in its provider's protocol and return its observation (never raises
    for a provider failure; cancellation propagates)."""
    loop = asyncio.get_running_loop()
    request = build_request(target)
    ts = utcnow()
    total_deadline = loop.time() + timeouts.total_s
    attempt = await _exchange(client, target, request, timeouts, total_deadline)
    if attempt.hit_a_closed_idle_connection:
        log.debug("probe %s: pooled connection was closed by the server; retrying", target.job_id)
        attempt = await _exchange(client, target, request, timeouts, total_deadline)
    return _observation(target, ts, attempt, lag)


async def _exchange(
    client: httpx.AsyncClient,
    target: Target,
    request: Request,
    timeouts: Timeouts,
    total_deadline: float,
) -> _Attempt:
    """Send the request and read the stream, taking the timing marks; bounded by the deadlines."""
    loop = asyncio.get_running_loop()
    url, headers, body = request
    wire = protocol(target.endpoint.provider.api)
    reader = wire.reader(target.endpoint.model, include_usage=False, relay=False)
    attempt = _Attempt(Marks(start_ns=time.perf_counter_ns()), reader)
    marks = attempt.marks
    connect_started: dict[str, int] = {}
    ttft_phase = False

    try:
        async with asyncio.timeout_at(total_deadline) as scope:

            async def trace(name: str, info: dict[str, object]) -> None:
                nonlocal ttft_phase
                now = time.perf_counter_ns()
                if name == "http11.send_request_body.complete":
                    # The request is entirely written: the provider has all it needs from here.
                    marks.sent_ns = now
                    ttft_phase = True
                    scope.reschedule(min(total_deadline, loop.time() + timeouts.ttft_s))
                elif name in ("connection.connect_tcp.started", "connection.start_tls.started"):
                    connect_started[name] = now
                elif name in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
                    began = connect_started.pop(name.replace(".complete", ".started"), None)
                    if began is not None:
                        marks.connect_ns += now - began
                elif name == "http11.receive_response_headers.complete":
                    marks.headers_ns = now

            try:
                async with client.stream(
                    "POST", url, headers=headers, content=body, extensions={"trace": trace}
                ) as response:
                    attempt.status = response.status_code
                    if not 200 <= response.status_code < 300:
                        raise HTTPStatusFailure(response.status_code)
                    parser = SSEParser()
                    async for data in response.aiter_bytes():
                        now = time.perf_counter_ns()  # one arrival time for all events in a read
                        for raw in parser.feed(data):
                            kind, _ = reader.read(raw)
                            if kind:
                                attempt.chunks += 1
                                if ttft_phase:
                                    ttft_phase = False
                                    scope.reschedule(total_deadline)
                                marks.content(now, answer=kind == Content.ANSWER)
                            if reader.done and marks.end_ns is None:
                                marks.end_ns = now
                    if marks.end_ns is None:
                        marks.end_ns = time.perf_counter_ns()
            except Exception as exc:  # provider failures; the deadline arrives as cancellation
                attempt.failure = exc
    except TimeoutError:
        attempt.failure = ProbeTimeout("ttft" if ttft_phase else "total")
    return attempt


def _observation(
    target: Target, ts: datetime, attempt: _Attempt, lag: LagWindow | None
) -> Observation:
    marks, reader, status = attempt.marks, attempt.reader, attempt.status
    chunks, failure = attempt.chunks, attempt.failure
    error = classify(
        failure,
        got_headers=status is not None,
        finished=reader.finished or reader.done,
        content_chunks=chunks,
        finish_reason=reader.finish_reason,
    )
    if failure is not None and error is not None:
        log.debug("probe %s failed: %s (%s)", target.job_id, error, type(failure).__name__)
    ok = error is None
    estimated = reader.output_tokens is None
    output_tokens = reader.output_tokens if not estimated else (chunks or None)
    if ok and output_tokens is None:
        output_tokens = 0  # a refusal that said nothing (the one success without content)
    input_tokens = reader.input_tokens
    # the provider read the prompt of anything that answered, a refusal included
    if input_tokens is None and (ok or chunks or reader.output_tokens is not None):
        input_tokens = estimate_tokens(target.shape.prompt_text())
        estimated = True
    metrics = derive(marks, output_tokens)
    cost = target.prices.cost_usd(input_tokens, output_tokens) if target.prices else None
    return Observation(
        endpoint_id=target.endpoint_id,
        ts=ts,
        source=Source.PROBE,
        ok=ok,
        error_class=error,
        http_status=status,
        region=target.endpoint.provider.region,
        probe_shape=target.shape.name,
        ttft_ms=metrics.ttft_ms,
        ttfa_ms=metrics.ttfa_ms,
        connect_ms=metrics.connect_ms,
        tps=metrics.tps if ok else None,
        itl_ms=metrics.itl_ms if ok else None,
        itl_p90_ms=metrics.itl_p90_ms if ok else None,
        e2e_ms=metrics.e2e_ms if ok else None,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        tokens_estimated=estimated and output_tokens is not None,
        cost_usd=cost,
        loop_lag_ms=lag.max_lag_ms if lag is not None else None,
    )
