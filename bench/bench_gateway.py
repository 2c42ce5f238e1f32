"""Gateway overhead: Signalbox's router against LiteLLM's proxy, same simulator, same load, same run.

Starts ``signalbox simulate`` (three steady, error-free OpenAI-dialect providers of one model, TTFT
~200 ms, 100 tokens/s), ``signalbox router`` on a fresh SQLite store, and LiteLLM's proxy
(``litellm --config``, pinned to the routing benchmark's version, installed by this script into
.bench-venvs/litellm-proxy on first use, or the venv given by --litellm-venv / $BENCH_LITELLM_VENV),
all on 127.0.0.1. This process is the load client: at each concurrency it keeps that many streaming
chat completions in flight for a fixed time through each path in turn (direct to the simulator,
Signalbox, LiteLLM), then does the same with short non-streaming requests. Reports TTFT p50/p99, the TTFT each gateway adds over direct,
requests/s, errors and the gateway's CPU time per request; medians over --runs. Everything it
starts is stopped on exit, error or Ctrl-C. Every run writes bench/results/gateway-<UTC time>.json
(``bench.record.Run``: every run's figures per load and path, and the medians); bench/report.py
builds the README's rows from it (``readme_rows``). Target: Signalbox adds at least 10x less TTFT
than LiteLLM's proxy.

    python bench/bench_gateway.py [--runs 3] [--streams 5 20 100] [--duration 10]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

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
from bench.record import Row, Run, command_line, json_safe  # noqa: E402
from bench.routing.services import LITELLM_VERSION  # noqa: E402

PATHS = ("direct", "signalbox", "litellm")
LABELS = {
    "direct": "direct (baseline)",
    "signalbox": "Signalbox router",
    "litellm": "LiteLLM proxy",
}
TARGET_RATIO = 10.0  # LiteLLM's added latency over Signalbox's, at p50 and at p99
NOISE_MS = 1.0  # an added latency under this is measurement noise: ratios are bounded against it
HEADLINE_STREAMS = 20  # the README leads with this streaming load when the run measured it


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


def overhead_ratio(litellm_ms: float | None, signalbox_ms: float | None) -> dict[str, Any]:
    """LiteLLM's added latency over Signalbox's: ``value`` (None when either is unmeasured or
    neither adds ``NOISE_MS``) and whether it is a lower bound (Signalbox's figure under
    ``NOISE_MS``, zero or negative included, is noise, so the ratio is taken against ``NOISE_MS``)."""
    if litellm_ms is None or signalbox_ms is None or math.isnan(litellm_ms + signalbox_ms):
        return {"value": None, "lower_bound": False}
    if signalbox_ms < NOISE_MS:
        if litellm_ms < NOISE_MS:
            return {"value": None, "lower_bound": False}
        return {"value": litellm_ms / NOISE_MS, "lower_bound": True}
    return {"value": litellm_ms / signalbox_ms, "lower_bound": False}


def ratio(r: dict[str, Any]) -> str:
    """An :func:`overhead_ratio` as text: ``8.9x``, ``171x``, ``>= 603x`` or ``n/a``."""
    if r["value"] is None:
        return "n/a"
    v = r["value"]
    text = f"{v:.1f}x" if v < 10 else f"{v:,.0f}x"
    return f">= {text}" if r["lower_bound"] else text


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
        r50 = overhead_ratio(ll["added_p50_ms"], sb["added_p50_ms"])
        r99 = overhead_ratio(ll["added_p99_ms"], sb["added_p99_ms"])
        lines.append(
            f"- {key}: LiteLLM adds {ratio(r50)} Signalbox's latency at p50, {ratio(r99)} at p99; "
            f"req/s {sb['rps']:.1f} vs {ll['rps']:.1f}"
        )
    lines.append(
        f"\nMedians of {runs} runs. Streaming rows: time to first content token; unary rows: time"
        " to the whole answer. Added = median over runs of (path - direct in the same run)."
    )
    return "\n".join(lines)


Load = tuple[str, bool, int, int]  # label, streaming, concurrency, max_tokens


def figures_from(
    loads: list[Load], rows: dict[str, dict[str, list[dict]]], version: str
) -> dict[str, Any]:
    """The result file's figures: per load (in the run's order) its every run per path (one
    ``PhaseStats`` dict each, with ``cpu_ms_per_request``), the medians per path with the added
    latency over direct, and LiteLLM's added latency over Signalbox's at p50 and p99."""
    out = []
    for key, stream, concurrency, tokens in loads:
        medians = summarise(rows[key], stream)
        sb, ll = medians["signalbox"], medians["litellm"]
        out.append(
            {
                "load": key,
                "stream": stream,
                "concurrency": concurrency,
                "max_tokens": tokens,
                "runs": rows[key],
                "medians": medians,
                "ratio": {
                    q: overhead_ratio(ll[f"added_{q}_ms"], sb[f"added_{q}_ms"])
                    for q in ("p50", "p99")
                },
            }
        )
    return json_safe(
        {
            "litellm_version": version,
            "target_ratio": TARGET_RATIO,
            "noise_ms": NOISE_MS,
            "loads": out,
        }
    )


def _add(v: float | None) -> str:
    """An added latency in ms, signed: one decimal below 100 ms, whole ms above."""
    if v is None:
        return "n/a"
    return f"{v:+.1f}" if abs(v) < 100 else f"{v:+,.0f}"


def _rps(entry: dict[str, Any], unit: str = " req/s") -> str:
    errors = f", {entry['errors']:,} errors" if entry["errors"] else ""
    return f"{entry['rps']:.1f}{unit}{errors}"


def readme_order(loads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The loads in the README's order: the headline streaming load (``HEADLINE_STREAMS``
    concurrent, else the first), the other streaming loads heaviest first, then non-streaming."""
    streams = [load for load in loads if load["stream"]]
    head = next((x for x in streams if x["concurrency"] == HEADLINE_STREAMS), None)
    head = head or (streams[0] if streams else None)
    rest = sorted((x for x in streams if x is not head), key=lambda x: -x["concurrency"])
    return ([head] if head else []) + rest + [x for x in loads if not x["stream"]]


def _verdict(load: dict[str, Any], target: float) -> str:
    """The ratios and the target, met or missed at p50 and at p99, from the file's figures."""
    r50, r99 = load["ratio"]["p50"], load["ratio"]["p99"]
    met = {
        q: r["value"] is not None and r["value"] >= target for q, r in (("p50", r50), ("p99", r99))
    }
    if r50["value"] is None and r99["value"] is None:
        status = "not measured"
    elif all(met.values()):
        status = "met"
    elif any(met.values()):
        yes, no = ("p99", "p50") if met["p99"] else ("p50", "p99")
        status = f"met at {yes}, not at {no}"
    else:
        status = "missed"
        sb, ll = load["medians"]["signalbox"], load["medians"]["litellm"]
        cpu = sb["cpu_ms_per_request"], ll["cpu_ms_per_request"]
        if None not in cpu:
            status += f"; gateway CPU {cpu[0]:.1f} vs {cpu[1]:.1f} ms per request"
    lower = "" if status == "not measured" else " lower"
    return f"{ratio(r50)} / {ratio(r99)}{lower} (target >= {target:g}x: {status})"


def readme_rows(data: dict[str, Any]) -> list[Row]:
    """One README row per load the run measured, the headline first: the TTFT (streaming) or
    latency (non-streaming) each gateway adds over direct at p50 / p99, req/s, and the ratio."""
    figures = data["figures"]
    version, target = figures["litellm_version"], figures["target_ratio"]
    out = []
    for i, load in enumerate(readme_order(figures["loads"])):
        m = load["medians"]
        sb, ll, direct = m["signalbox"], m["litellm"], m["direct"]
        mode = "streaming" if load["stream"] else "non-streaming"
        vs = " vs LiteLLM proxy" if i == 0 else ""
        what = f"gateway overhead{vs}, {mode}, {load['concurrency']} concurrent"
        sb_add = _add(sb["added_p50_ms"]), _add(sb["added_p99_ms"])
        ll_add = _add(ll["added_p50_ms"]), _add(ll["added_p99_ms"])
        rps = f"{_rps(sb)} (direct {_rps(direct, unit='')})"
        if i == 0:
            latency = "TTFT" if load["stream"] else "latency"
            result = f"Signalbox adds {sb_add[0]} ms p50 / {sb_add[1]} ms p99 {latency}; {rps}"
            baseline = f"LiteLLM proxy {version} adds {ll_add[0]} / {ll_add[1]} ms; {_rps(ll)}"
        else:
            result = f"Signalbox {sb_add[0]} / {sb_add[1]} ms; {rps}"
            baseline = f"LiteLLM {ll_add[0]} / {ll_add[1]} ms; {_rps(ll)}"
        out.append(Row(what, result, baseline, _verdict(load, target)))
    return out


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


def ensure_pinned_litellm(venv: Path) -> Path:
    """The ``litellm`` executable of ``venv`` at ``LITELLM_VERSION`` (the routing benchmark's pin,
    so both benchmarks measure the same LiteLLM), creating the venv or repinning it once."""
    python, exe = venv / "bin" / "python", venv / "bin" / "litellm"
    if not python.exists():
        print(
            f"creating {venv} with litellm[proxy]=={LITELLM_VERSION} (first use only)", flush=True
        )
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if not exe.exists() or litellm_version(exe) != LITELLM_VERSION:
        pip = [str(python), "-m", "pip", "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"]
        subprocess.run(pip, check=True)
    return ensure_litellm(venv)


def main() -> int:
    """Start the three paths, run the loads, print per-run lines and the median table, and write
    the result file."""
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
        help=f"virtualenv for litellm[proxy]=={LITELLM_VERSION}; created or repinned if needed",
    )
    parser.add_argument(
        "--litellm-workers",
        type=int,
        default=1,
        help="LiteLLM proxy worker processes (default 1, like the one router process)",
    )
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
    exe = ensure_pinned_litellm(args.litellm_venv)
    version = litellm_version(exe)
    settings = {k: v for k, v in vars(args).items() if k != "litellm_venv"}  # a local path
    record = Run(
        "gateway", command_line("bench_gateway.py"), {**settings, "litellm_version": version}
    )
    load_start = os.getloadavg()
    try:
        rows = measure(args, loads, exe)
    except KeyboardInterrupt:
        print("interrupted: everything started was stopped", file=sys.stderr)
        return 130
    except ServiceError as exc:
        print(f"bench_gateway: {exc}", file=sys.stderr)
        return 1
    figures = figures_from(loads, rows, version)
    summary = {load["load"]: load["medians"] for load in figures["loads"]}
    table = markdown([(key, stream) for key, stream, *_ in loads], summary, args.runs)
    load_end = os.getloadavg()
    print()
    print(table)
    print(
        f"\nMachine: {platform.platform()}, {os.cpu_count()} CPUs; loadavg (1/5/15 min) at start"
        f" {'/'.join(f'{v:.2f}' for v in load_start)}, at end {'/'.join(f'{v:.2f}' for v in load_end)};"
        f" LiteLLM {version}. Command: python bench/bench_gateway.py {' '.join(sys.argv[1:])}"
    )
    path = record.save(figures)
    print(f"\nwritten: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
