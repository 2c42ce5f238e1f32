"""The README's generated benchmark tables, from the committed results in bench/results/ only.

    python bench/report.py           # rewrite the README between the markers
    python bench/report.py --check   # exit 1 if the README is not what the results say

For each benchmark the newest result file counts (routing: the newest run over generated
scenarios, and separately over the fixed ones); every figure names the file it came from, whose
JSON holds the commit, the machine's load, the settings and every repetition's figures. The table
of benchmarks takes each row from the benchmark's own ``readme_rows(data)`` (bench/bench_*.py), so
a benchmark's figures are formatted in one place, the script that measures them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_routing import summary as routing_summary  # noqa: E402
from bench.record import Row  # noqa: E402

RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
BEGIN = "<!-- bench/report.py: begin (generated; edit bench/report.py, not this) -->"
END = "<!-- bench/report.py: end -->"
TARGETS = {"median": 0.95, "worst10": 0.85, "ahead": 0.80}
# A routing run in which more requests than this showed an impossible client-side rate (over the
# cap) ran on a starved machine: sound runs show at most 0.5 %, an overloaded one 12.6 %.
MAX_CAPPED_SHARE = 0.02
ORDER = (
    "signalbox",
    "signalbox-scaled",
    "signalbox-tuned",
    "litellm",
    "hindsight-static",
    "early-static",
    "round-robin",
    "oracle",
)


# (result kind, the module whose readme_rows formats it), in the table's order
SUMMARY = (
    ("writer", "bench.bench_writer"),
    ("simulator", "bench.bench_simulator"),
    ("probe_accuracy", "bench.bench_probe_accuracy"),
    ("route", "bench.bench_route"),
    ("gateway", "bench.bench_gateway"),
    ("dashboard", "bench.bench_dashboard"),
    ("alerts", "bench.bench_alerts"),
    ("routes", "bench.bench_routes"),
    ("stats", "bench.bench_stats"),
)


def load(kind: str) -> list[tuple[Path, dict[str, Any]]]:
    """Every result file of ``kind`` written by :class:`bench.record.Run`, oldest first (files
    of an older format, without the ``benchmark`` field, are not read: nothing traces them)."""
    files = sorted(RESULTS.glob(f"{kind}-*.json"))
    loaded = [(f, json.loads(f.read_text())) for f in files]
    return [(f, d) for f, d in loaded if d.get("benchmark") == kind]


def newest(kind: str) -> tuple[Path, dict[str, Any]] | None:
    """The newest result file of ``kind``, or None."""
    files = load(kind)
    return files[-1] if files else None


def pct(v: float | None) -> str:
    """A share as a percentage, or a dash."""
    return "-" if v is None else f"{v:.1%}"


def num(v: float | None, spec: str = ".1f") -> str:
    """A number, or a dash."""
    return "-" if v is None else format(v, spec)


def source(path: Path, data: dict[str, Any]) -> str:
    """A table cell naming the result file, its commit and the load around the run."""
    dirty = ", uncommitted changes" if data.get("dirty") else ""
    load_avg = data["machine_at_start"]["loadavg"][0], data["machine_at_end"]["loadavg"][0]
    return (
        f"`{path.name}` (commit `{data['commit']}`{dirty}; {data['runtime_s'] / 60:.0f} min; "
        f"load {load_avg[0]:.1f} to {load_avg[1]:.1f})"
    )


def summary_table() -> list[str]:
    """The table of benchmarks: one or more rows per benchmark from its newest result file."""
    out = [
        "| benchmark | command | result (median) | baseline, same run | ratio / target | run |",
        "|---|---|---|---|---|---|",
    ]
    found = False
    for kind, module in SUMMARY:
        latest = newest(kind)
        if latest is None:
            continue
        found = True
        path, data = latest
        rows: list[Row] = importlib.import_module(module).readme_rows(data)
        for i, row in enumerate(rows):
            command = f"`{data['command']}`" if i == 0 else "(same command)"
            run = source(path, data) if i == 0 else "(same run)"
            cells = (row.what, command, row.result, row.baseline, row.verdict, run)
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return out if found else []


def provenance(path: Path, data: dict[str, Any]) -> str:
    """Where a table's figures come from: file, commit, load and run time."""
    load_avg = data["machine_at_start"]["loadavg"][0], data["machine_at_end"]["loadavg"][0]
    dirty = " (uncommitted changes)" if data.get("dirty") else ""
    return (
        f"Source: `{path.relative_to(ROOT)}`, commit `{data['commit']}`{dirty}, "
        f"`{data['command']}`, {data['runtime_s'] / 60:.0f} min, load average "
        f"{load_avg[0]:.1f} at the start and {load_avg[1]:.1f} at the end "
        f"({data['machine_at_start']['cpus']} CPUs)."
    )


def median_of(rows: list[dict[str, Any]], key: str) -> float | None:
    """The median of ``key`` over rows that have it."""
    values = sorted(r[key] for r in rows if r.get(key) is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def routing_table(path: Path, data: dict[str, Any]) -> list[str]:
    """The share-of-oracle distribution per policy, reroute costs, and the targets."""
    scenarios = data["figures"]["scenarios"]
    summary = routing_summary(scenarios)  # from the rows, so older files get every figure too
    rows = {p: [run[p] for runs in scenarios.values() for run in runs if p in run] for p in ORDER}
    n = sum(1 for runs in scenarios.values() if runs)
    out = [
        f"Routing quality over {n} scenarios, {data['settings']['rps']:g} req/s, objective "
        "throughput: each policy's delivered tok/s as a share of the oracle's in the same "
        "scenario run.",
        "",
        "| policy | median | worst 10 % | lowest | ahead of hindsight best static | errors "
        "(median) | outages: attempts still reach the dead provider for (median s) | attempts "
        "at a dead provider (all outages) | added TTFT of those that recovered (median ms) | "
        "requests failed in outages |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for policy in ORDER:
        if policy not in summary:
            continue
        d, r = summary[policy], rows[policy]
        ahead = d.get("ahead_of_hindsight_static")
        out.append(
            f"| {d['label']} | {pct(d['median'])} | {pct(d['worst10'])} | {pct(d['min'])} | "
            f"{pct(ahead) if ahead is not None else ''} | {pct(median_of(r, 'error_rate'))} | "
            f"{num(median_of(r, 'attempting_s'))} | "
            f"{sum(o['attempted_dead'] for x in r for o in x.get('outages') or [])} | "
            f"{num(median_of(r, 'added_ttft_ms'), '.0f')} "
            f"| {sum(x.get('outage_failures') or 0 for x in r)} |"
        )
    out += ["", repetitions(scenarios, summary), "", provenance(path, data)]
    for row in ("signalbox", "signalbox-scaled", "signalbox-tuned"):
        if row in summary:
            out += ["", verdict(summary[row])]
    return out


def repetitions(scenarios: dict[str, list[dict[str, Any]]], summary: dict[str, Any]) -> str:
    """How often each scenario ran, how the runs are combined, and how far apart they fell."""
    runs = max((len(r) for r in scenarios.values()), default=0)
    if runs <= 1:
        return (
            "Each scenario ran once, all policies at once on the same 2 CPUs: one scenario's share "
            "can move by several points between runs, so read the distribution over scenarios "
            "rather than any single one."
        )
    spread = ", ".join(
        f"{summary[p]['label']} {summary[p]['run_spread'] * 100:.1f}"
        for p in ORDER
        if "run_spread" in summary.get(p, {})
    )
    return (
        f"Each scenario ran {runs} times, all policies at once each time on the same 2 CPUs. A "
        'policy\'s share in a scenario is the median of its runs, and "ahead" takes the median '
        "of the paired differences (the Signalbox row less the static provider in the same run). "
        "Between the runs of one scenario a policy's share moved by (median over scenarios of "
        f"highest less lowest, in points of the oracle): {spread}; the other columns are medians "
        "or sums over every run."
    )


def capped_share(data: dict[str, Any]) -> float:
    """The share of a routing run's successful-or-not requests whose client-side rate exceeded the
    cap (twice the fastest provider): chunks bunched by a starved client or proxy process."""
    rows = [
        row
        for runs in data["figures"]["scenarios"].values()
        for run in runs
        for policy, row in run.items()
        if not policy.startswith("_")
    ]
    total = sum(r.get("requests") or 0 for r in rows)
    return sum(r.get("capped") or 0 for r in rows) / total if total else 0.0


def rejected(path: Path, data: dict[str, Any]) -> str:
    """Why a routing run is not shown: its client measured the machine, not the routing."""
    return (
        f"Not shown: `{path.relative_to(ROOT)}` (commit `{data['commit']}`, "
        f"`{data['command']}`): {capped_share(data):.1%} of its requests showed a client-side "
        f"rate above the cap (more than {MAX_CAPPED_SHARE:.0%}), chunks bunched by processes "
        "starved of CPU: the machine was overloaded during the run, so its shares measure the "
        "machine rather than the routing. The file stays committed."
    )


def verdict(d: dict[str, Any]) -> str:
    """The issue's targets for one Signalbox row: met or missed, with the figure."""
    parts = []
    for key, name in (("median", "median"), ("worst10", "worst 10 %")):
        ok = d[key] is not None and d[key] >= TARGETS[key]
        parts.append(
            f"{name} {pct(d[key])} (target {TARGETS[key]:.0%}: {'met' if ok else 'missed'})"
        )
    ahead = d.get("ahead_of_hindsight_static")
    if ahead is not None:
        ok = ahead >= TARGETS["ahead"]
        parts.append(
            f"ahead of the hindsight best static provider in {pct(ahead)} of scenarios "
            f"(target {TARGETS['ahead']:.0%}: {'met' if ok else 'missed'})"
        )
    margin = d.get("margin_over_hindsight_static")
    if margin is not None:
        parts.append(
            f"its share less the static provider's: median {margin['median'] * 100:+.1f} "
            f"points, worst {margin['worst'] * 100:+.1f}"
        )
    return f"{d['label']}: " + "; ".join(parts) + "."


def proxy_table(path: Path, data: dict[str, Any]) -> list[str]:
    """The proxy's paired added latency per concurrency, with its confidence interval."""
    out = [
        "Streaming proxy overhead, paired per request: each request's residual is the TTFT seen "
        "by the client less the TTFT the simulator planned for that very request; the router's "
        "added latency is the residuals' quantile through it less direct (95 % bootstrap "
        "interval over requests). The old method's figure, the difference of two waves' p50s, "
        "is beside it. A p99 rests on the slowest 1 % (2-6 requests per wave): scheduling "
        "hiccups of the client, simulator and router sharing 2 CPUs dominate it, in either "
        "direction; the p50 is the overhead.",
        "",
        "| streams | requests (direct / router) | router adds at p50 | router adds at p99 | "
        "bare aiohttp relay adds at p50 | unpaired p50 difference (old method) |",
        "|---|---|---|---|---|---|",
    ]

    def ci(v: dict[str, Any]) -> str:
        lo, hi = v["ci95"]
        return f"{v['value']:+.2f} ms ({lo:+.2f} to {hi:+.2f})"

    for streams, f in data["figures"].items():
        req = f["requests"]
        out.append(
            f"| {streams} | {req['direct']} / {req['router']} | {ci(f['router_added_p50_ms'])} | "
            f"{ci(f['router_added_p99_ms'])} | {ci(f['relay_added_p50_ms'])} | "
            f"{f['unpaired_median_of_runs']['added_ttft_p50_ms']:+.2f} ms |"
        )
    return [*out, "", provenance(path, data)]


DEFINITIONS = """\
How to read the routing figures. The **oracle** reads the simulator's truth (polled every
200 ms) and sends each request to the provider whose true tokens/s times success rate is highest
at that moment: greedy, at request time, with no retries. It is the yardstick, not a strict upper
bound: it cannot foresee a change within the next 200 ms or the load its own requests add, and a
router that retries a failed request elsewhere can deliver more than it (a share above 100 % is
possible). **Best static (hindsight)** is the single provider with the best mean true value over
the whole run, computed from the truth with the load that the whole stream would put on it; **best
static (chosen early)** is the provider that was best over the run's first tenth (the baseline
that earlier versions of this table called "best static"). The scenarios are generated at random
by `bench/routing/generate.py` (seeded; steps, ramps, outages, error bursts, daily cycles,
capacity limits, other tenants' load) and were not used to tune the router; the simulator's noise
is on (per-request tokens/s spread, chunk jitter and stalls, load the router cannot see). No
router setting changes per scenario. Scenario time is compressed (generated scenarios tenfold,
42 s each; the fixed ones x4 to x10, 2-2.5 min each); "default settings" is the router as shipped
(15 min half-life, 15 s probes and breaker cooldown, made for real time) on that compressed
clock, where each of its 15 s steps spans a third of a generated scenario. "Default settings on
the scenario's clock" divides every one of those durations (half-life, staleness, probe interval
and jitter, breaker cooldowns and trial timeout) by the time scale, no value chosen by hand: the
shipped router living through the scenario at its own pace, though with ten times fewer requests
per scenario second than it would see. "Tuned" (older results) set half-life, staleness and probe
interval by hand (20 s, 10 s, 2 s). Delivered tok/s:
the mean of each request's decode tok/s, a failed request counting 0 (a rate above twice the
fastest provider's, a client-side artefact of chunks bunched by a busy client, is capped there).
Outage columns come from attempts (`x-signalbox-tried`; LiteLLM's pre-call callback), not from
the provider that finally answered; the added TTFT compares, within each outage, the requests
that tried the dead provider and recovered elsewhere with those that never tried it (a medians'
difference over few requests: within about ±100 ms it is noise). Worst 10 %: the share at the
10 % mark of the scenarios (the second lowest of 20)."""


ROUTES_METHOD = """\
Routing across models (`bench/bench_routes.py`, scenario `routes`: a small model whose answers
are flawed with a probability rising with difficulty (truncated, empty, refused or invalid JSON),
and a large one at 10x the price that fails rarely). The same seeded workload goes through the
router as `small`, as `large` and as the route `support` (triggers invalid_json, finish_length,
empty, refusal, failure); each arm runs on its own seeded simulator and router, so every arm meets
the same capability draws. Success is an HTTP 200 whose content is a JSON object with the schema's
required keys; cost sums every upstream attempt (tokens times the catalog's prices, failed and
escalated attempts included) over the successes, pooled over the run's seeds:"""


def generate() -> str:
    """The markdown between the markers."""
    parts: list[str] = []
    table = summary_table()
    if table:
        parts += [*table, ""]
    routing = [(p, d) for p, d in load("routing") if "summary" in d.get("figures", {})]
    for generated, heading in (
        (True, []),
        (
            False,
            ["Fixed scenarios (`drift`, `outages`, `degrade`, `saturate`), same policies:", ""],
        ),
    ):
        runs = [
            (p, d)
            for p, d in routing
            if any(s.startswith("gen-") for s in d["figures"]["scenarios"]) == generated
        ]
        sound = [(p, d) for p, d in runs if capped_share(d) <= MAX_CAPPED_SHARE]
        if sound:
            parts += [*heading, *routing_table(*sound[-1]), ""]
        # every run newer than the one shown was unsound: name each (all of them if none was sound)
        shown = sound[-1][0].name if sound else ""
        parts += [rejected(p, d) + "\n" for p, d in runs if p.name > shown]
    if routing:
        parts += [DEFINITIONS, ""]
    proxies = load("proxy")
    if proxies:
        parts += [*proxy_table(*proxies[-1]), ""]
    routes = newest("routes")
    if routes is not None:
        detail = importlib.import_module("bench.bench_routes").readme_detail(routes[1])
        parts += [ROUTES_METHOD, "", *detail, "", provenance(*routes), ""]
    if not parts:
        parts = ["(no results in bench/results yet)", ""]
    return "\n".join(parts)


def main() -> int:
    """Rewrite (or check) the README's generated block."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = README.read_text()
    if BEGIN not in text or END not in text:
        print(f"README.md lacks the markers {BEGIN!r} ... {END!r}", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{generate()}{END}{tail}"
    if args.check:
        if new != text:
            print(
                "README.md's benchmark block is stale: run python bench/report.py", file=sys.stderr
            )
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
