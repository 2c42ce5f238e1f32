"""``signalbox probe [--once]``: the probe service, composed with the cluster-wide jobs.

Without ``--once`` this is the scheduler process: it probes (claiming each run, so that several
processes on one store split the endpoints) and, as a leader candidate, runs the alert evaluation,
rollups and retention (``signalbox.cluster``) when it leads.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signalbox.records import Observation
    from signalbox.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``probe`` subcommand's flags."""
    parser.add_argument(
        "--once",
        action="store_true",
        help="probe every enabled endpoint once, print a table, exit 0 if any succeeded",
    )
    parser.add_argument(
        "--router-url",
        help="router to ask which endpoints need sooner probes (default SIGNALBOX_ROUTER_URL)",
    )
    parser.add_argument(
        "--no-router-poll", action="store_true", help="do not ask the router for sooner probes"
    )
    parser.add_argument(
        "--grace", type=float, default=10.0, help="seconds in-flight probes get at shutdown"
    )
    parser.add_argument(
        "--metrics-port", type=int, help="serve Prometheus metrics at 127.0.0.1:PORT/metrics"
    )
    parser.add_argument(
        "--drop-lag-ms",
        type=_positive,
        metavar="MS",
        help="drop timings taken while the probe loop lagged more than this (default 10)",
    )
    parser.add_argument(
        "--no-leader-jobs",
        action="store_true",
        help="only probe: no alert evaluation, rollups or retention (tests, benchmarks)",
    )
    parser.add_argument(
        "--no-claims",
        action="store_true",
        help="probe every endpoint without claiming it (no splitting with other workers)",
    )
    parser.add_argument(
        "--alert-interval",
        type=_positive,
        default=30.0,
        metavar="SECONDS",
        help="alert evaluation interval of the leader (default 30)",
    )
    parser.add_argument(
        "--rollup-interval",
        type=_positive,
        default=60.0,
        metavar="SECONDS",
        help="rollup interval of the leader (default 60)",
    )


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: a number > 0")
    return value


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(observations: list[Observation], names: dict[int, str]) -> str:
    """The ``--once`` table: endpoint, ok or error class, TTFT, tps, tokens, cost."""
    header = ("endpoint", "shape", "result", "ttft_ms", "tps", "tokens", "cost_usd")
    rows = [header]
    for obs in sorted(observations, key=lambda o: (names.get(o.endpoint_id, ""), o.probe_shape)):
        tokens = "-" if obs.output_tokens is None else str(obs.output_tokens)
        if obs.output_tokens is not None and obs.tokens_estimated:
            tokens += "~"
        result = "ok" if obs.ok else str(obs.error_class)
        if not obs.ok and obs.http_status and obs.http_status != 200:
            result += f" ({obs.http_status})"
        rows.append(
            (
                names.get(obs.endpoint_id, str(obs.endpoint_id)),
                obs.probe_shape or "-",
                result,
                _fmt(obs.ttft_ms, ".1f"),
                _fmt(obs.tps, ".1f"),
                tokens,
                _fmt(obs.cost_usd, ".6f"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {3, 4, 5, 6}
    lines = []
    for row in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    ok = sum(1 for o in observations if o.ok)
    lines.append(f"{ok}/{len(observations)} probes ok  (~ = tokens estimated: no usage reported)")
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``signalbox probe``: 0 on success (for --once: at least one probe ok), 1 otherwise."""
    import asyncio
    import logging
    import os
    import sys
    from datetime import timedelta

    from signalbox.cluster import ClusterJobs
    from signalbox.probe.service import ProbeService

    # httpx and APScheduler log every request / job run at INFO: lines per probe are noise
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        for name in ("httpx", "apscheduler.executors", "apscheduler.scheduler"):
            logging.getLogger(name).setLevel(logging.WARNING)
    router_url = None if args.no_router_poll else (args.router_url or settings.router_url)
    jobs = None
    if not args.no_leader_jobs and not args.once:
        jobs = ClusterJobs(
            env=os.environ,
            retention=timedelta(days=settings.raw_retention_days),
            alert_interval_s=args.alert_interval,
            rollup_interval_s=args.rollup_interval,
            grace_s=args.grace,
        )
    service = ProbeService(
        settings,
        router_url=router_url,
        grace_s=args.grace,
        metrics_port=args.metrics_port,
        companion=jobs,
        claims=not args.no_claims,
        drop_lag_ms=args.drop_lag_ms,
    )
    if args.once:
        result = asyncio.run(service.run_once())
        print(format_table(result.observations, result.names))
        sys.stdout.flush()
        return 0 if result.any_ok else 1
    return asyncio.run(service.run_forever())
