"""Closed-loop load client: N workers each send chat completions back to back for a bounded time.

Streaming requests record the time to the first non-empty content delta and to the end of the
stream (``[DONE]``); non-streaming ones the time to the whole answer. Requests started during the
warm-up are not counted. Everything here runs in the benchmark's own process, never a gateway's.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from dataclasses import dataclass

import aiohttp
import orjson

REQUEST_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Target:
    """Where one request goes: URL, model name and headers (a provider key for direct calls)."""

    url: str
    model: str
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: when it started (s since the phase began), its latencies, and its outcome."""

    started_s: float
    ttft_ms: float
    total_ms: float
    error: str | None


@dataclass(frozen=True, slots=True)
class PhaseStats:
    """One path at one load: latency quantiles over the measured window and its throughput."""

    requests: int
    errors: int
    ttft_p50_ms: float
    ttft_p99_ms: float
    total_p50_ms: float
    total_p99_ms: float
    rps: float
    error_kinds: dict[str, int]
    served: int  # successful requests over the whole phase, warm-up and stragglers included


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (NaN when empty)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _first_content(line: bytes) -> bool:
    """Whether an SSE ``data:`` line carries a non-empty content delta."""
    if not line.startswith(b"data:"):
        return False
    payload = line[5:].strip()
    if not payload or payload == b"[DONE]":
        return False
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    for choice in event.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content"):
            return True
    return False


async def _streamed(session: aiohttp.ClientSession, target: Target, body: bytes) -> float:
    """Send one streaming request; return TTFT in ms (raises on any failure)."""
    t0 = time.perf_counter()
    async with session.post(target.url, data=body, headers=target.headers) as resp:
        if resp.status != 200:
            raise RuntimeError(f"http_{resp.status}")
        ttft = None
        while ttft is None:
            line = await resp.content.readline()
            if not line:
                raise RuntimeError("no_content")
            if _first_content(line):
                ttft = (time.perf_counter() - t0) * 1000
        tail = b""
        async for chunk in resp.content.iter_any():
            tail = (tail + chunk)[-64:]
        if b"[DONE]" not in tail:
            raise RuntimeError("no_done")
    return ttft


async def _unary(session: aiohttp.ClientSession, target: Target, body: bytes) -> float:
    """Send one non-streaming request; return its latency in ms (raises on any failure)."""
    t0 = time.perf_counter()
    async with session.post(target.url, data=body, headers=target.headers) as resp:
        raw = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"http_{resp.status}")
    answer = orjson.loads(raw)
    if not answer["choices"][0]["message"]["content"]:
        raise RuntimeError("empty_answer")
    return (time.perf_counter() - t0) * 1000


async def run_phase(
    targets: list[Target],
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    stream: bool,
    max_tokens: int,
) -> PhaseStats:
    """Keep ``concurrency`` requests in flight for ``warmup_s + duration_s``; targets in turn."""
    bodies = {
        t.model: orjson.dumps(
            {
                "model": t.model,
                "messages": [{"role": "user", "content": "Benchmark: please keep talking."}],
                "max_tokens": max_tokens,
                "stream": stream,
            }
        )
        for t in targets
    }
    turn = itertools.cycle(targets)
    samples: list[Sample] = []
    completions: list[float] = []
    served = 0
    send = _streamed if stream else _unary
    start = time.perf_counter()
    measure_from = start + warmup_s
    stop_at = measure_from + duration_s

    async def worker(i: int, session: aiohttp.ClientSession) -> None:
        nonlocal served
        # spread the first requests over the warm-up so the workers do not move in lockstep
        await asyncio.sleep(warmup_s / 2 * i / concurrency)
        while (now := time.perf_counter()) < stop_at:
            target = next(turn)
            t0 = now
            error = None
            ttft = math.nan
            try:
                ttft = await send(session, target, bodies[target.model])
            except (TimeoutError, aiohttp.ClientError, RuntimeError, KeyError) as exc:
                error = str(exc) if isinstance(exc, RuntimeError) else type(exc).__name__
            except (ValueError, TypeError, IndexError) as exc:  # malformed JSON answer
                error = type(exc).__name__
            done = time.perf_counter()
            if t0 >= measure_from:
                samples.append(Sample(t0 - start, ttft, (done - t0) * 1000, error))
            if error is None:
                served += 1
                if measure_from <= done <= stop_at:
                    completions.append(done)
            if error is not None:
                await asyncio.sleep(0.05)  # a failing gateway must not turn this into a busy loop

    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(i, session) for i in range(concurrency)))
    good = [s for s in samples if s.error is None]
    kinds: dict[str, int] = {}
    for s in samples:
        if s.error is not None:
            kinds[s.error] = kinds.get(s.error, 0) + 1
    return PhaseStats(
        requests=len(samples),
        errors=len(samples) - len(good),
        ttft_p50_ms=quantile([s.ttft_ms for s in good], 0.5),
        ttft_p99_ms=quantile([s.ttft_ms for s in good], 0.99),
        total_p50_ms=quantile([s.total_ms for s in good], 0.5),
        total_p99_ms=quantile([s.total_ms for s in good], 0.99),
        rps=len(completions) / duration_s,
        error_kinds=kinds,
        served=served,
    )
