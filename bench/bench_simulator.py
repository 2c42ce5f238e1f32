"""Benchmark the simulator's timing fidelity (a script, not a test; loopback only; bounded in time).

(a) pacing: N concurrent streams at T tokens/s, one token per chunk; each chunk's arrival, as
    measured by a client, against its schedule ``first_chunk + k / tps``: |error| p50/p99.
(b) TTFT: M concurrent streams (each request after the previous one on a kept-alive connection);
    delivered TTFT (request written → first content chunk) against the TTFT the simulator planned
    for that request (header ``x-simulator-ttft-ms``): |error| p50/p99. The error includes the
    request's way into the handler, shown apart as request→headers.

The server runs in its own process (``python -m simulator``), the client here on a raw asyncio
protocol (uvloop), each pinned to its own core with ``--pin`` when the machine has two or more.
The scenario turns the simulator's noise off (per-request tps spread, chunk jitter, stalls: on by
default), since the schedule measured against is the noiseless one, ``k / tps``.

    python bench/bench_simulator.py [--runs 3] [--streams 500] [--ttft-streams 200]

Every run writes bench/results/simulator-<time>.json (bench/report.py reads them).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.record import Row, Run, command_line, json_safe, medians  # noqa: E402

TARGET_P99_MS = 2.0  # both errors, pacing and TTFT, at p99
TTFT_MEDIAN_MS, TTFT_SIGMA = 150.0, 0.4
CONTENT = b'"delta":{"content":"'
TTFT_HEADER = b"x-simulator-ttft-ms: "

SCENARIO = """
name = "bench"
seed = 1
[[provider]]
name = "bench"
chunk_tokens_min = 1
chunk_tokens_max = {chunk_max}
[[provider.model]]
model = "m"
ttft_median_ms = {ttft_ms}
ttft_sigma = {ttft_sigma}
tps = {tps}
output_tokens_median = 100000
output_tokens_sigma = 0.0
[provider.model.noise]
tps_cv = 0.0
jitter_cv = 0.0
stall_prob = 0.0
"""


class Stream(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection; records when each content chunk arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] | None = None
        self.connected = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connected.set_result(None)

    def request(self, request: bytes) -> asyncio.Future[None]:
        """Send one request; the future resolves when its stream has ended."""
        self.done = asyncio.get_running_loop().create_future()
        self.head = b""
        self.in_body = False
        self.tail = b""
        self.seen_done = False
        self.planned_ttft_ms = float("nan")
        self.chunk_times: list[float] = []
        self.chunk_tokens: list[int] = []
        self.tokens = 0
        self.sent_at = time.perf_counter()
        assert self.transport is not None
        self.transport.write(request)
        return self.done

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self.head[:end], self.head[end + 4 :]
            at = head.find(TTFT_HEADER)
            if at >= 0:
                self.planned_ttft_ms = float(head[at + len(TTFT_HEADER) :].split(b"\r\n", 1)[0])
            self.in_body = True
            self.head_at = now
        events = (self.tail + data).split(b"\n\n")
        self.tail = events.pop()  # an incomplete event, or the chunked-encoding trailer
        for event in events:
            at = event.find(CONTENT)
            if at >= 0:
                text = event[at + len(CONTENT) : event.index(b'"', at + len(CONTENT))]
                self.tokens += text.count(b" ") + (not text.startswith(b" "))
                self.chunk_times.append(now)
                self.chunk_tokens.append(self.tokens)
            elif b"[DONE]" in event:
                self.seen_done = True
        if (
            self.seen_done
            and self.tail.endswith(b"0\r\n\r\n")
            and self.done
            and not self.done.done()
        ):
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("connection lost"))


def _request(port: int, max_tokens: int) -> bytes:
    body = orjson.dumps(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "go"}],
            "max_tokens": max_tokens,
            "stream": True,
        }
    )
    return (
        f"POST /bench/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _connect(port: int, n: int) -> list[Stream]:
    loop = asyncio.get_running_loop()
    streams = []
    for _ in range(n):
        _, proto = await loop.create_connection(Stream, "127.0.0.1", port)
        streams.append(proto)
    return streams


def _pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan  # no samples: no figure (None in the result file)
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def pacing_run(port: int, n: int, tps: float, tokens: int) -> dict[str, float]:
    """(a): n streams of ``tokens`` tokens, starts spread over one second."""
    streams = await _connect(port, n)
    request = _request(port, tokens)

    async def one(s: Stream, delay: float) -> None:
        await asyncio.sleep(delay)
        await s.request(request)

    budget = 1.0 + tokens / tps + 30
    await asyncio.wait_for(asyncio.gather(*(one(s, i / n) for i, s in enumerate(streams))), budget)
    errors = []
    for s in streams:
        t0 = s.chunk_times[0]
        errors += [
            abs(t - t0 - (k - 1) / tps) * 1000
            for t, k in zip(s.chunk_times[1:], s.chunk_tokens[1:], strict=True)
        ]
    for s in streams:
        s.transport.close()  # type: ignore[union-attr]
    complete = sum(s.tokens == tokens for s in streams)
    return {
        "p50": _pct(errors, 0.5),
        "p99": _pct(errors, 0.99),
        "max": max(errors, default=math.nan),
        "chunks": len(errors) + n,
        "complete": complete,
    }


async def ttft_run(port: int, n: int, duration_s: float, tokens: int) -> dict[str, float]:
    """(b): n streams, each request after the previous for ``duration_s``; TTFT vs planned."""
    streams = await _connect(port, n)
    request = _request(port, tokens)
    errors: list[float] = []
    heads: list[float] = []
    end = time.perf_counter() + duration_s

    no_plan = 0

    async def worker(s: Stream, delay: float) -> None:
        nonlocal no_plan
        await asyncio.sleep(delay)
        while time.perf_counter() < end:
            await s.request(request)
            heads.append((s.head_at - s.sent_at) * 1000)
            if s.planned_ttft_ms != s.planned_ttft_ms:  # NaN: no planned-TTFT header
                no_plan += 1
                continue
            ttft_ms = (s.chunk_times[0] - s.sent_at) * 1000
            errors.append(abs(ttft_ms - s.planned_ttft_ms))

    await asyncio.wait_for(
        asyncio.gather(*(worker(s, random.random()) for s in streams)), duration_s + 30
    )
    for s in streams:
        s.transport.close()  # type: ignore[union-attr]
    return {
        "p50": _pct(errors, 0.5),
        "p99": _pct(errors, 0.99),
        "max": max(errors, default=math.nan),
        "n": len(errors),
        "no_plan": no_plan,
        "head_p50": _pct(heads, 0.5),
        "head_p99": _pct(heads, 0.99),
    }


def _start_server(
    scenario: Path, port: int, cpu: int | None, nice: int = 0
) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        *(["/tmp/gcprobe.py"] if os.environ.get("GCPROBE") else ["-m", "simulator"]),
    ]
    cmd += ["--scenario", str(scenario), "--port", str(port)]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("simulator exited at start") from None
            time.sleep(0.05)  # readiness poll with a deadline
    proc.kill()
    raise SystemExit("simulator did not start within 15 s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_s(pid: int) -> float:
    """Seconds the process's main thread spent runnable but waiting for a CPU (other load)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def figures_from(
    pacing: list[dict[str, float]], ttft: list[dict[str, float]], loads: list[float]
) -> dict[str, Any]:
    """The result file's figures: every run's pacing and TTFT figures (with the 1-minute load
    average after it), their medians over the runs, and the p99 target they are held to."""
    runs = [
        {"pacing": json_safe(p), "ttft": json_safe(t), "load1": load}
        for p, t, load in zip(pacing, ttft, loads, strict=True)
    ]
    return {
        "runs": runs,
        "median": {part: medians([r[part] for r in runs]) for part in ("pacing", "ttft")},
        "target_p99_ms": TARGET_P99_MS,
    }


def target_met(median: dict[str, float | None], target_p99_ms: float) -> bool:
    """Whether one part's median p99 error is within the target (no figure: missed)."""
    p99 = median.get("p99")
    return p99 is not None and p99 <= target_p99_ms


def readme_rows(data: dict[str, Any]) -> list[Row]:
    """The README's two rows, pacing and TTFT: median error p50/p99 and the p99 target."""
    fig, settings = data["figures"], data["settings"]
    target = fig["target_p99_ms"]

    def cells(part: str, against: str) -> tuple[str, str]:
        med = fig["median"][part]
        if med.get("p99") is None:
            result = "no samples"
        else:
            result = f"error vs {against} p50 {med['p50']:.2f} ms, p99 {med['p99']:.2f} ms"
        verdict = f"target p99 <= {target:g} ms: {'met' if target_met(med, target) else 'missed'}"
        return result, verdict

    streams = settings["streams"]
    pacing, pacing_verdict = cells("pacing", "schedule")
    # a stream cut short has fewer chunks to be late: say so rather than pass on fewer samples
    complete = [r["pacing"].get("complete") for r in fig["runs"]]
    short = max((streams - c for c in complete if c is not None), default=0)
    if short:
        pacing += f" ({short:.0f} of {streams} streams incomplete in a run)"
    ttft, ttft_verdict = cells("ttft", "scenario")
    return [
        Row(
            f"simulator token pacing, {streams} streams x {settings['tps']:g} tok/s",
            pacing,
            "-",
            pacing_verdict,
        ),
        Row(f"simulator TTFT, {settings['ttft_streams']} streams", ttft, "-", ttft_verdict),
    ]


def main() -> int:
    """Pacing then TTFT against a fresh simulator, run after run; print and record the errors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--tps", type=float, default=50.0)
    parser.add_argument("--tokens", type=int, default=250, help="tokens per pacing stream")
    parser.add_argument(
        "--chunk-tokens-max",
        type=int,
        default=4,
        help="tokens per content chunk are 1..this (the simulator's default is 4; 1 = a chunk"
        " per token, the harshest)",
    )
    parser.add_argument("--ttft-streams", type=int, default=200)
    parser.add_argument("--ttft-duration", type=float, default=8.0)
    parser.add_argument("--ttft-tokens", type=int, default=50, help="tokens per TTFT request")
    parser.add_argument("--pin", action="store_true", help="pin server and client to one core each")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of server and client (negative needs root: shields them from other load)",
    )
    parser.add_argument("--asyncio", action="store_true", help="client on asyncio, not uvloop")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    pin = args.pin and len(os.sched_getaffinity(0)) >= 2
    cpus = sorted(os.sched_getaffinity(0))
    if pin:
        os.sched_setaffinity(0, {cpus[1]})
    scenario_text = SCENARIO.format(
        ttft_ms=TTFT_MEDIAN_MS, ttft_sigma=TTFT_SIGMA, tps=args.tps, chunk_max=args.chunk_tokens_max
    )
    settings = {
        **vars(args),
        "pinned": pin,  # --pin has no effect on one core
        "ttft_median_ms": TTFT_MEDIAN_MS,
        "ttft_sigma": TTFT_SIGMA,
        "noise": False,
        # a diagnostic build of the server (GC probe) is not the simulator as shipped
        "gcprobe": bool(os.environ.get("GCPROBE")),
    }
    record = Run("simulator", command_line("bench_simulator.py"), settings)
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(scenario_text)
        scenario = Path(f.name)
    if args.nice:
        os.nice(args.nice)
    if not args.asyncio:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    gc.collect()
    gc.freeze()  # the client's own full GC pauses would be charged to the server otherwise
    print(
        f"load average before: {os.getloadavg()}; pinned: {pin}; nice: {args.nice};"
        f" cpus: {os.cpu_count()}"
    )
    pacing: list[dict[str, float]] = []
    ttft: list[dict[str, float]] = []
    loads: list[float] = []
    try:
        for run in range(args.runs):
            port = _free_port()
            server = _start_server(scenario, port, cpus[0] if pin else None, args.nice)
            try:
                cpu0, t0, c0 = _cpu_s(server.pid), time.monotonic(), time.process_time()
                w0 = _wait_s(server.pid)
                p = asyncio.run(pacing_run(port, args.streams, args.tps, args.tokens))
                p["server_cpu"] = (_cpu_s(server.pid) - cpu0) / (time.monotonic() - t0)
                p["server_wait"] = (_wait_s(server.pid) - w0) / (time.monotonic() - t0)
                p["us_per_chunk"] = (_cpu_s(server.pid) - cpu0) / p["chunks"] * 1e6
                p["client_cpu"] = (time.process_time() - c0) / (time.monotonic() - t0)
                cpu0, t0, w0 = _cpu_s(server.pid), time.monotonic(), _wait_s(server.pid)
                t = asyncio.run(
                    ttft_run(port, args.ttft_streams, args.ttft_duration, args.ttft_tokens)
                )
                t["server_cpu"] = (_cpu_s(server.pid) - cpu0) / (time.monotonic() - t0)
                t["server_wait"] = (_wait_s(server.pid) - w0) / (time.monotonic() - t0)
            finally:
                server.terminate()
                server.wait(timeout=10)
            pacing.append(p)
            ttft.append(t)
            loads.append(round(os.getloadavg()[0], 2))
            # saved after every run: a crash late in the run keeps what was measured
            written = record.save(figures_from(pacing, ttft, loads))
            print(
                f"run {run + 1}: pacing p50 {p['p50']:.3f} p99 {p['p99']:.3f} max {p['max']:.1f} ms"
                f" ({p['chunks']:.0f} chunks, {p['complete']:.0f}/{args.streams} complete, server"
                f" cpu {p['server_cpu']:.0%} = {p['us_per_chunk']:.1f} us/chunk, waited for a CPU"
                f" {p['server_wait']:.0%}; client {p['client_cpu']:.0%}); ttft p50 {t['p50']:.3f} p99 {t['p99']:.3f}"
                f" max {t['max']:.1f} ms (request→headers p50 {t['head_p50']:.2f} p99"
                f" {t['head_p99']:.2f} ms; {t['n']:.0f} requests, server cpu {t['server_cpu']:.0%}, waited"
                f" {t['server_wait']:.0%});"
                f" load {loads[-1]:.2f}",
                flush=True,
            )
    finally:
        scenario.unlink()

    median = figures_from(pacing, ttft, loads)["median"]

    def ms(part: str, key: str, width: int) -> str:
        value = median[part][key]
        return "-".rjust(width) if value is None else f"{value:{width}.3f}"

    print()
    print(f"median of {args.runs} runs          p50 ms   p99 ms   target p99")
    print(
        f"(a) pacing, {args.streams} streams @ {args.tps:g} tok/s"
        f"  {ms('pacing', 'p50', 6)}  {ms('pacing', 'p99', 7)}   {TARGET_P99_MS:g} ms"
    )
    print(
        f"(b) TTFT, {args.ttft_streams} streams          "
        f"  {ms('ttft', 'p50', 6)}  {ms('ttft', 'p99', 7)}   {TARGET_P99_MS:g} ms"
    )
    print(f"load average after: {os.getloadavg()}")
    print(f"\nwritten: {written.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
