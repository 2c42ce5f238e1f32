"""``signalbox alerts``: the firing and pending alerts, then recent history, as a table.

``--once`` evaluates the rules once (state lives in the store, so a cron job works) and ``--run``
keeps evaluating on an interval, for deployments where no scheduler process hosts the alert job.
Both take part in the leader election: of several evaluators on one store, one evaluates.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from typing import Any

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``7d``, ``2w`` (or a bare number of seconds) → a timedelta."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use a number and a unit, e.g. 30m, 24h or 7d"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "s"])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``signalbox alerts``."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--once", action="store_true", help="evaluate the alert rules once, notify, then list"
    )
    mode.add_argument(
        "--run", action="store_true", help="evaluate the alert rules every --interval until Ctrl-C"
    )
    parser.add_argument(
        "--interval",
        type=parse_duration,
        default=timedelta(seconds=30),
        metavar="DURATION",
        help="evaluation interval for --run (default 30s)",
    )
    parser.add_argument(
        "--all", action="store_true", help="show every alert ever recorded, not just recent ones"
    )
    parser.add_argument(
        "--since",
        type=parse_duration,
        default=timedelta(hours=24),
        metavar="DURATION",
        help="history window for resolved alerts, e.g. 30m, 24h, 7d (default 24h)",
    )


def _fmt_ts(ts: datetime | None, now: datetime) -> str:
    if ts is None:
        return "-"
    age = (now - ts).total_seconds()
    if age < 120:
        rel = f"{age:.0f}s ago"
    elif age < 7200:
        rel = f"{age / 60:.0f}m ago"
    elif age < 172800:
        rel = f"{age / 3600:.0f}h ago"
    else:
        rel = f"{age / 86400:.0f}d ago"
    return f"{ts.strftime('%Y-%m-%d %H:%M:%SZ')} ({rel})"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(out)


def query_alerts(engine: Any, since: datetime | None) -> list[dict[str, Any]]:
    """Open alerts, and closed ones resolved after ``since`` (all when None), newest first."""
    from sqlalchemy import or_, select
    from sqlmodel import Session

    from signalbox.schema import Alert, Endpoint, Provider

    stmt = (
        select(Alert, Provider.name, Endpoint.model)
        .outerjoin(Endpoint, Endpoint.id == Alert.endpoint_id)  # a route's alert has none
        .outerjoin(Provider, Provider.id == Endpoint.provider_id)
        .order_by(Alert.started_at.desc(), Alert.id.desc())  # type: ignore[attr-defined]
    )
    if since is not None:
        stmt = stmt.where(
            or_(Alert.state != "resolved", Alert.resolved_at >= since)  # type: ignore[operator]
        )
    with Session(engine) as session:
        return [
            {"alert": a, "endpoint": f"route {a.route}" if a.route else f"{provider}/{model}"}
            for a, provider, model in session.execute(stmt).all()
        ]


def render(items: list[dict[str, Any]], now: datetime, window: str) -> str:
    """The two tables (open alerts, history) as text."""
    open_rows, history = [], []
    for item in items:
        a = item["alert"]
        value = "-" if a.value is None else f"{a.value:.4g}"
        if a.state in ("firing", "pending"):
            since = a.firing_at if a.state == "firing" else a.started_at
            open_rows.append(
                [
                    a.state.upper(),
                    a.rule,
                    item["endpoint"],
                    a.severity,
                    _fmt_ts(since, now),
                    value,
                    "yes" if a.notified_firing else "no",
                    a.reason or "",
                ]
            )
        else:
            history.append(
                [
                    a.rule,
                    item["endpoint"],
                    a.severity,
                    _fmt_ts(a.firing_at or a.started_at, now),
                    _fmt_ts(a.resolved_at, now),
                    "yes" if a.notified_resolved else "no",
                ]
            )
    parts = []
    if open_rows:
        heads = ["STATE", "RULE", "ENDPOINT", "SEVERITY", "SINCE", "VALUE", "NOTIFIED", "REASON"]
        parts.append(_table(heads, open_rows))
    else:
        parts.append("no firing or pending alerts")
    parts.append("")
    if history:
        parts.append(f"resolved {window}:")
        heads = ["RULE", "ENDPOINT", "SEVERITY", "FIRED", "RESOLVED", "NOTIFIED"]
        parts.append(_table(heads, history))
    else:
        parts.append(f"no alerts resolved {window}")
    return "\n".join(parts)


def run(args: argparse.Namespace, settings: Any) -> int:
    """Print the alert tables (after one evaluation with ``--once``); ``--run`` evaluates until
    interrupted. Exit 0."""
    import asyncio

    from signalbox.db import make_engine

    if getattr(args, "run", False) or getattr(args, "once", False):
        code = asyncio.run(_evaluate(settings, args.interval.total_seconds(), once=args.once))
        if not args.once or code:
            return code
    now = datetime.now(UTC)
    since = None if args.all else now - args.since
    engine = make_engine(settings.effective_database_url)
    try:
        items = query_alerts(engine, since)
    finally:
        engine.dispose()
    window = "ever" if args.all else f"in the last {_fmt_delta(args.since)}"
    print(render(items, now, window))
    return 0


def _fmt_delta(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    for unit in ("w", "d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{seconds / _UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"


async def _evaluate(settings: Any, interval_s: float, *, once: bool) -> int:
    """Evaluate once, or on a schedule until SIGINT/SIGTERM, as a leader candidate."""
    import asyncio
    import logging
    import os
    import signal

    from signalbox.alerts.evaluator import AlertEvaluator, AlertService, run_alert_job
    from signalbox.catalog import load_catalog
    from signalbox.db import make_engine
    from signalbox.leader import make_leader

    catalog = load_catalog(settings.catalog)
    engine = make_engine(settings.effective_database_url)
    try:
        if once:
            evaluator = AlertEvaluator(engine, catalog, env=os.environ)
            leader = make_leader(engine, lease_s=60.0)
            try:
                report = await run_alert_job(evaluator, leader)
            finally:
                await leader.release()
                await evaluator.aclose()
            if report is None:
                print("another process leads the alert evaluation (or it failed: see the log)")
            else:
                changes = ", ".join(f"{k} {v}" for k, v in sorted(report.actions.items()))
                print(
                    f"evaluated {report.rules} rules on {report.endpoints} endpoints:"
                    f" {changes or 'no changes'}; {report.delivery.delivered} notifications sent"
                )
            return 0
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per run is noise
        scheduler = AsyncIOScheduler()
        service = AlertService(engine, catalog, env=os.environ, interval_s=interval_s)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        scheduler.start()
        await service.start(scheduler)
        print(f"evaluating alert rules every {interval_s:g} s (Ctrl-C stops)", flush=True)
        try:
            await stop.wait()
        finally:
            await service.stop()
            scheduler.shutdown(wait=False)
        return 0
    finally:
        engine.dispose()
