"""Prometheus counters and a latency histogram, rendered as the text exposition format.

A multi-worker router shares its counters through small snapshot files (:class:`SharedMetrics`):
each worker writes its own every second, and ``/metrics`` on any worker answers for all of them,
every series labelled with its ``worker``, each family once (a scrape reaches one worker, chosen
by the kernel, so without this a scrape would see a random part of the counters).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ADDED_LATENCY_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


def _labels(names: tuple[str, ...], values: tuple[str, ...], const: str = "") -> str:
    parts = [const] if const else []
    for n, v in zip(names, values, strict=True):
        escaped = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{n}="{escaped}"')
    return "{" + ",".join(parts) + "}" if parts else ""


class Metrics:
    """The router's counters (owned by one app; nothing global). In a multi-worker router each
    process counts its own and labels every series with ``worker``, so series from different
    processes never look like one counter that went backwards."""

    COUNTERS = (
        "requests",
        "decisions",
        "upstream_errors",
        "fallbacks",
        "route_requests",
        "route_escalations",
    )

    def __init__(self, worker: int | None = None) -> None:
        self.worker = worker
        self.const = "" if worker is None else f'worker="{worker}"'
        self.requests: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.decisions: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.upstream_errors: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.fallbacks: defaultdict[tuple[str], int] = defaultdict(int)
        self.route_requests: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self.route_escalations: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.added_buckets = [0] * len(ADDED_LATENCY_BUCKETS_S)
        self.added_sum = 0.0
        self.added_count = 0

    def observe_added_latency(self, seconds: float) -> None:
        """Latency the router added to the first token (one proxied stream)."""
        self.added_sum += seconds
        self.added_count += 1
        for i, bound in enumerate(ADDED_LATENCY_BUCKETS_S):
            if seconds <= bound:
                self.added_buckets[i] += 1

    def snapshot(self, gauges: dict[str, float] | None = None) -> dict[str, Any]:
        """Every count and ``gauges`` as JSON-ready data (for :class:`SharedMetrics`)."""
        return {
            "worker": self.worker,
            **{name: [[*k, v] for k, v in getattr(self, name).items()] for name in self.COUNTERS},
            "added_buckets": self.added_buckets,
            "added_sum": self.added_sum,
            "added_count": self.added_count,
            "gauges": gauges or {},
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> tuple[Metrics, dict[str, float]]:
        """A :meth:`snapshot` back as counts and gauges."""
        metrics = cls(data["worker"])
        for name in cls.COUNTERS:
            target = getattr(metrics, name)
            for *key, value in data.get(name, ()):  # a worker of an older version has fewer
                target[tuple(key)] = int(value)
        if len(data["added_buckets"]) == len(ADDED_LATENCY_BUCKETS_S):
            metrics.added_buckets = [int(v) for v in data["added_buckets"]]
        metrics.added_sum = float(data["added_sum"])
        metrics.added_count = int(data["added_count"])
        return metrics, {str(k): float(v) for k, v in data["gauges"].items()}

    def render(self, gauges: dict[str, float] | None = None) -> str:
        """The Prometheus text format of this process alone."""
        return render_all([(self, gauges or {})])


def render_all(parts: list[tuple[Metrics, dict[str, float]]]) -> str:
    """The Prometheus text format of several workers' counts and gauges: each family once, with
    every worker's series (told apart by their ``worker`` label)."""
    out: list[str] = []

    def counter(name: str, help_: str, names: tuple[str, ...], attr: str) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} counter")
        for metrics, _ in parts:
            for key, value in sorted(getattr(metrics, attr).items()):
                out.append(f"{name}{_labels(names, key, metrics.const)} {value}")

    counter(
        "signalbox_router_requests_total",
        "HTTP requests by path and status.",
        ("path", "status"),
        "requests",
    )
    counter(
        "signalbox_router_decisions_total",
        "Routing decisions by model and chosen provider.",
        ("model", "provider"),
        "decisions",
    )
    counter(
        "signalbox_router_upstream_errors_total",
        "Failed upstream attempts by provider and error class.",
        ("provider", "error_class"),
        "upstream_errors",
    )
    counter(
        "signalbox_router_fallbacks_total",
        "Requests served by a later endpoint after a failed attempt.",
        ("model",),
        "fallbacks",
    )
    counter(
        "signalbox_route_requests_total",
        "Routed requests (a catalog route or a request's models list) by route, the models"
        " called in order and the outcome (ok, escalated, failed).",
        ("route", "path", "outcome"),
        "route_requests",
    )
    counter(
        "signalbox_route_escalations_total",
        "Moves of a routed request to the next model, by route and trigger.",
        ("route", "trigger"),
        "route_escalations",
    )
    name = "signalbox_router_added_latency_seconds"
    out.append(f"# HELP {name} First-token latency added by the router on proxied streams.")
    out.append(f"# TYPE {name} histogram")
    bounds = [*ADDED_LATENCY_BUCKETS_S, "+Inf"]
    for metrics, _ in parts:
        plain = _labels((), (), metrics.const)
        counts = [*metrics.added_buckets, metrics.added_count]
        for bound, count in zip(bounds, counts, strict=True):
            out.append(f"{name}_bucket{_labels(('le',), (str(bound),), metrics.const)} {count}")
        out.append(f"{name}_sum{plain} {metrics.added_sum}")
        out.append(f"{name}_count{plain} {metrics.added_count}")
    gauge_names = list(dict.fromkeys(g for _, gauges in parts for g in gauges))
    for gname in gauge_names:
        out.append(f"# TYPE {gname} gauge")
        for metrics, gauges in parts:
            if gname in gauges:
                out.append(f"{gname}{_labels((), (), metrics.const)} {gauges[gname]}")
    return "\n".join(out) + "\n"


def shared_folder(data_dir: Path, port: int) -> Path:
    """Where the workers of the router on ``port`` keep their snapshots."""
    return data_dir / f"router-{port}-metrics"


class SharedMetrics:
    """The snapshot files of a multi-worker router's workers, in one folder.

    A worker publishes its own snapshot every second (write and rename, so a reader never sees
    half a file) and renders its live counts with the other workers' latest. A file
    not rewritten for ``stale_s`` is left out: its worker died and its replacement has not
    written yet (its counts restart from zero, which Prometheus reads as a counter reset).
    """

    def __init__(self, folder: Path, worker: int, stale_s: float = 30.0) -> None:
        self.folder = folder
        self.worker = worker
        self.stale_s = stale_s

    @staticmethod
    def reset(folder: Path) -> None:
        """Empty ``folder`` (the supervisor, before starting workers: files of an earlier run
        with more workers must not be reported)."""
        folder.mkdir(parents=True, exist_ok=True)
        for path in folder.glob("worker-*.json"):
            path.unlink(missing_ok=True)

    def publish(self, metrics: Metrics, gauges: dict[str, float]) -> None:
        """Write this worker's snapshot."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"worker-{self.worker}.json"
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(metrics.snapshot(gauges)))
        os.replace(tmp, path)

    def render(self, metrics: Metrics, gauges: dict[str, float]) -> str:
        """This worker's live counts and every other live worker's last snapshot, as one text."""
        parts = [(metrics, gauges)]
        now = time.time()
        for path in sorted(self.folder.glob("worker-*.json")):
            if path.name == f"worker-{self.worker}.json":
                continue
            with contextlib.suppress(FileNotFoundError):
                if now - path.stat().st_mtime > self.stale_s:
                    continue
                try:
                    parts.append(Metrics.restore(json.loads(path.read_text())))
                except (ValueError, KeyError, TypeError) as exc:  # never fail a scrape on it
                    log.warning("unreadable metrics snapshot %s: %s", path.name, exc)
        parts.sort(key=lambda part: part[0].worker or 0)
        return render_all(parts)
