"""Gateway overhead: Signalbox's router against LiteLLM's proxy, same simulator, same load, same run.

Starts ``signalbox simulate`` (three steady, error-free OpenAI-dialect providers of one model, TTFT
~200 ms, 100 tokens/s), ``signalbox router`` on a fresh SQLite store, and LiteLLM's proxy
(``litellm --config``, installed by this script into .bench-venvs/litellm-proxy on first use, or
the venv given by --litellm-venv / $BENCH_LITELLM_VENV), all on 127.0.0.1. This process is the load
client: at each concurrency it keeps that many streaming chat completions in flight for a fixed
time through each path in turn (direct to the simulator, Signalbox, LiteLLM), then does the same
with short non-streaming requests. Reports TTFT p50/p99, the TTFT each gateway adds over direct,
requests/s, errors and the gateway's CPU time per request; medians over --runs. Everything it
starts is stopped on exit, error or Ctrl-C.

    .venv/bin/python bench/bench_gateway.py [--runs 3] [--streams 5 20 100] [--duration 10]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gateway.load import PhaseStats, Target, run_phase  # noqa: E402
from bench.gateway.services import (  # noqa: E402
    DEFAULT_LITELLM_VENV,
    MODEL,
    SCENARIO_TOML,
    Service,
    ServiceError,
    cpu_seconds,
    ensure_litellm,
    free_port,
    litellm_version,
    start_litellm,
    start_signalbox,
    start_simulator,
)

PATHS = ("direct", "signalbox", "litellm")
LABELS = {
    "direct": "direct (baseline)",
    "signalbox": "Signalbox router",
    "litellm": "LiteLLM proxy",
}


def direct_targets(sim_url: str) -> list[Target]:
    """One target per simulator provider, with its key, used in turn (as a gateway would)."""
    from signalbox.simulator.scenario import parse_scenario

    out = []
    for p in parse_scenario(SCENARIO_TOML).providers:
        spec = p.find_model(MODEL)
        assert spec is not None
        headers = {"content-type": "application/json"}
        if p.api_key:
            headers["authorization"] = f"Bearer {p.api_key}"
        out.append(Target(f"{sim_url}/{p.name}/v1/chat/completions", spec.upstream_model, headers))
    return out


def gateway_target(url: str, key: str) -> list[Target]:
    """The gateway's chat endpoint under the canonical model name, with the app's key."""
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    return [Target(f"{url}/v1/chat/completions", MODEL, headers)]


def _median(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else math.nan


def summarise(rows: dict[str, list[dict]], stream: bool) -> dict[str, dict]:
    """Medians over runs per path; added latency computed per run against that run's direct."""
    lat = ("ttft_p50_ms", "ttft_p99_ms") if stream else ("total_p50_ms", "total_p99_ms")
    out = {}
    for path in PATHS:
        runs = rows[path]
        entry = {
            "p50_ms": _median([r[lat[0]] for r in runs]),
            "p99_ms": _median([r[lat[1]] for r in runs]),
            "rps": _median([r["rps"] for r in runs]),
            "errors": sum(r["errors"] for r in runs),
            "requests": sum(r["requests"] for r in runs),
            "cpu_ms_per_request": _median([r["cpu_ms_per_request"] for r in runs]),
        }
        if path != "direct":
            base = rows["direct"]
            entry["added_p50_ms"] = _median(
                [r[lat[0]] - b[lat[0]] for r, b in zip(runs, base, strict=True)]
            )
            entry["added_p99_ms"] = _median(
                [r[lat[1]] - b[lat[1]] for r, b in zip(runs, base, strict=True)]
            )
        out[path] = entry
    return out


def ratio(litellm_ms: float, signalbox_ms: float) -> str:
    """LiteLLM's added latency over Signalbox's; below 1 ms Signalbox's figure is measurement
    noise, so the ratio is given as a lower bound against 1 ms."""
    if math.isnan(litellm_ms) or math.isnan(signalbox_ms):
        return "n/a"
    if signalbox_ms < 1.0:
        return f">= {litellm_ms:.0f}x (Signalbox adds {signalbox_ms:+.1f} ms, under 1 ms: noise)"
    return f"{litellm_ms / signalbox_ms:.1f}x"


def _ms(v: float | None) -> str:
    return "-" if v is None or math.isnan(v) else f"{v:.1f}"


def _added(v: float | None) -> str:
    return "-" if v is None or math.isnan(v) else f"{v:+.1f}"


def markdown(loads: list[tuple[str, bool]], summary: dict[str, dict], runs: int) -> str:
    """The README table: one row per load and path, then the ratio per load."""
    lines = [
        "| Load | Path | TTFT / latency p50 (ms) | p99 (ms) | added p50 (ms) | added p99 (ms) "
        "| req/s | errors | gateway CPU ms/req |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, _stream in loads:
        for path in PATHS:
            s = summary[key][path]
            cpu = "-" if path == "direct" else _ms(s["cpu_ms_per_request"])
            lines.append(
                f"| {key} | {LABELS[path]} | {_ms(s['p50_ms'])} | {_ms(s['p99_ms'])} "
                f"| {_added(s.get('added_p50_ms'))} | {_added(s.get('added_p99_ms'))} "
                f"| {s['rps']:.1f} | {s['errors']} | {cpu} |"
            )
    lines.append("")
    for key, _stream in loads:
        sb, ll = summary[key]["signalbox"], summary[key]["litellm"]
        lines.append(
            f"- {key}: LiteLLM adds {ratio(ll['added_p50_ms'], sb['added_p50_ms'])} Signalbox's "
            f"latency at p50, {ratio(ll['added_p99_ms'], sb['added_p99_ms'])} at p99; "
            f"req/s {sb['rps']:.1f} vs {ll['rps']:.1f}"
        )
    lines.append(
        f"\nMedians of {runs} runs. Streaming rows: time to first content token; unary rows: time"
        " to the whole answer. Added = median over runs of (path - direct in the same run)."
    )
    return "\n".join(lines)


Load = tuple[str, bool, int, int]  # label, streaming, concurrency, max_tokens


def _line(run: int, key: str, path: str, stream: bool, stats: PhaseStats) -> str:
    lat = (
        f"ttft p50 {stats.ttft_p50_ms:.1f} p99 {stats.ttft_p99_ms:.1f}"
        if stream
        else f"latency p50 {stats.total_p50_ms:.1f} p99 {stats.total_p99_ms:.1f}"
    )
    errs = f" {stats.error_kinds}" if stats.errors else ""
    return (
        f"run {run + 1} {key:<12} {path:<9} {lat} ms, {stats.rps:.1f} req/s, {stats.requests} req,"
        f" {stats.errors} errors{errs}, load {os.getloadavg()[0]:.2f}"
    )


def measure(args: argparse.Namespace, loads: list[Load], exe: Path) -> dict[str, dict[str, list]]:
    """Start simulator and gateways, run every load through every path ``args.runs`` times, and
    stop everything (also on error or Ctrl-C). Returns per load and path one dict per run."""
    import uvloop

    rows: dict[str, dict[str, list]] = {key: {p: [] for p in PATHS} for key, *_ in loads}
    services: list[Service] = []
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        try:
            work = Path(tmp)
            sim_port, sb_port, ll_port = free_port(), free_port(), free_port()
            sim_url = f"http://127.0.0.1:{sim_port}"
            gateway_key = "sk-bench-" + secrets.token_hex(16)  # apps authenticate to both
            services.append(start_simulator(work, sim_port))
            services.append(start_signalbox(work, sb_port, sim_url, gateway_key))
            t0 = time.monotonic()
            services.append(
                start_litellm(work, ll_port, sim_url, exe, gateway_key, args.litellm_workers)
            )
            print(f"LiteLLM proxy ready in {time.monotonic() - t0:.1f}s", flush=True)
            targets = {
                "direct": direct_targets(sim_url),
                "signalbox": gateway_target(f"http://127.0.0.1:{sb_port}", gateway_key),
                "litellm": gateway_target(f"http://127.0.0.1:{ll_port}", gateway_key),
            }
            pids = {"signalbox": services[1].pid, "litellm": services[2].pid}
            for path in PATHS:  # first requests pay for lazy imports and pools: not measured
                uvloop.run(
                    run_phase(
                        targets[path],
                        concurrency=10,
                        duration_s=2.0,
                        warmup_s=1.0,
                        stream=True,
                        max_tokens=16,
                    )
                )
            for run in range(args.runs):
                for key, stream, concurrency, tokens in loads:
                    # rotate the order each run so no path always follows the same neighbour
                    order = PATHS[run % 3 :] + PATHS[: run % 3]
                    for path in order:
                        cpu0 = cpu_seconds(pids[path]) if path in pids else math.nan
                        stats = uvloop.run(
                            run_phase(
                                targets[path],
                                concurrency=concurrency,
                                duration_s=args.duration,
                                warmup_s=args.warmup,
                                stream=stream,
                                max_tokens=tokens,
                            )
                        )
                        cpu = cpu_seconds(pids[path]) - cpu0 if path in pids else math.nan
                        row = asdict(stats)
                        row["cpu_ms_per_request"] = cpu * 1000 / max(1, stats.served)
                        rows[key][path].append(row)
                        print(_line(run, key, path, stream, stats), flush=True)
        finally:
            for service in reversed(services):
                service.stop()
    return rows


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Start the three paths, run the loads, print per-run lines and the median table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument(
        "--streams",
        type=int,
        nargs="+",
        default=[5, 20, 100],
        help="streaming concurrency levels (default 5 20 100)",
    )
    parser.add_argument("--tokens", type=int, default=128, help="max_tokens when streaming")
    parser.add_argument(
        "--unary", type=int, default=32, help="non-streaming concurrency (0 to skip; default 32)"
    )
    parser.add_argument("--unary-tokens", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds per phase")
    parser.add_argument(
        "--litellm-venv",
        type=Path,
        default=Path(os.environ.get("BENCH_LITELLM_VENV", DEFAULT_LITELLM_VENV)),
        help="virtualenv holding litellm[proxy]; created if missing",
    )
    parser.add_argument(
        "--litellm-workers",
        type=int,
        default=1,
        help="LiteLLM proxy worker processes (default 1, like the one router process)",
    )
    parser.add_argument("--json", type=Path, default=ROOT / "artifacts" / "bench" / "gateway.json")
    args = parser.parse_args()
    if args.runs < 1 or not args.streams or min(args.streams) < 1 or args.duration <= 0:
        parser.error("--runs, --streams and --duration must be positive")
    signal.signal(signal.SIGTERM, _on_sigterm)
    loads: list[Load] = [(f"stream c={c}", True, c, args.tokens) for c in args.streams]
    if args.unary > 0:
        loads.append((f"unary c={args.unary}", False, args.unary, args.unary_tokens))
    phase_s = args.duration + args.warmup
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, loadavg {os.getloadavg()[0]:.2f};"
        f" about {args.runs * len(loads) * len(PATHS) * phase_s / 60:.1f} min of load",
        flush=True,
    )
    exe = ensure_litellm(args.litellm_venv)
    version = litellm_version(exe)
    load_start = os.getloadavg()
    try:
        rows = measure(args, loads, exe)
    except KeyboardInterrupt:
        print("interrupted: everything started was stopped", file=sys.stderr)
        return 130
    except ServiceError as exc:
        print(f"bench_gateway: {exc}", file=sys.stderr)
        return 1
    summary = {key: summarise(rows[key], stream) for key, stream, *_ in loads}
    table = markdown([(key, stream) for key, stream, *_ in loads], summary, args.runs)
    load_end = os.getloadavg()
    print()
    print(table)
    print(
        f"\nMachine: {platform.platform()}, {os.cpu_count()} CPUs; loadavg (1/5/15 min) at start"
        f" {'/'.join(f'{v:.2f}' for v in load_start)}, at end {'/'.join(f'{v:.2f}' for v in load_end)};"
        f" LiteLLM {version}. Command: python bench/bench_gateway.py {' '.join(sys.argv[1:])}"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {"litellm_version": version, "args": sys.argv[1:], "summary": summary, "runs": rows},
            indent=2,
            default=str,
        )
    )
    print(f"raw figures: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
