"""The load of the /v1/route benchmark: wrk, or a minimal keep-alive HTTP/1.1 client over asyncio
streams, closed loop (N clients back to back) or open loop (requests due on a fixed schedule)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

MODEL = "llama-3.1-70b"
ROUTE_PATH = f"/v1/route?model={MODEL}&sort=latency"
T = TypeVar("T")


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> bytes:
    """One keep-alive request and its whole response; returns the response head."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return head


async def _client(
    port: int, path: bytes, stop_at: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET " + path + b" HTTP/1.1\r\nHost: bench\r\n\r\n"
    perf = time.perf_counter
    while perf() < stop_at:
        t0 = perf()
        head = await _exchange(reader, writer, request)
        latencies.append(perf() - t0)
        if not head.startswith(b"HTTP/1.1 200"):
            errors.append(1)
    writer.close()


async def _load(port: int, concurrency: int, duration_s: float) -> tuple[float, list[float], int]:
    path = ROUTE_PATH.encode()
    latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    stop_at = start + duration_s
    await asyncio.gather(
        *(_client(port, path, stop_at, latencies, errors) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, latencies, len(errors)


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank, as wrk reports it)."""
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def wrk_run(port: int, concurrency: int, duration_s: float) -> tuple[float, float, float, int]:
    """One wrk run: (req/s, p50 ms, p99 ms, non-2xx responses + socket errors)."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{duration_s:g}s",
            "--latency",
            f"http://127.0.0.1:{port}{ROUTE_PATH}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = p50 = p99 = 0.0
    errors = 0
    for line in out.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(words[1])
        elif words[:1] == ["50%"]:
            p50 = _ms(words[1])
        elif words[:1] == ["99%"]:
            p99 = _ms(words[1])
        elif line.strip().startswith(("Non-2xx", "Socket errors")):
            errors += sum(int(w.strip(",")) for w in words if w.strip(",").isdigit())
    return rps, p50, p99, errors


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def python_run(port: int, concurrency: int, duration_s: float) -> tuple[float, float, float, int]:
    """One run of the in-process asyncio client: (req/s, p50 ms, p99 ms, errors)."""
    import uvloop

    rps, lat, errors = uvloop.run(_load(port, concurrency, duration_s))
    return rps, quantile(lat, 0.5) * 1000, quantile(lat, 0.99) * 1000, errors


async def paced(port: int, rate: float, concurrency: int, duration_s: float) -> list[float]:
    """Open loop: request i is due at i / rate; each goes out on a free connection and its
    latency counts from when it was due (so queueing in the client counts against the router)."""
    path = ROUTE_PATH.encode()
    request = b"GET " + path + b" HTTP/1.1\r\nHost: bench\r\n\r\n"
    conns: asyncio.Queue = asyncio.Queue()
    for _ in range(concurrency):
        conns.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    perf = time.perf_counter  # uvloop's loop.time() ticks in whole milliseconds
    start = perf()
    total = int(rate * duration_s)

    async def one(due: float) -> None:
        reader, writer = await conns.get()
        await _exchange(reader, writer, request)
        latencies.append(perf() - due)
        conns.put_nowait((reader, writer))

    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - perf()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    while not conns.empty():
        conns.get_nowait()[1].close()
    return latencies


def uvloop_run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a fresh uvloop event loop."""
    import uvloop

    return uvloop.run(coro)
