"""A multi-worker router's /metrics answers for every worker: snapshots merge into one valid
exposition, each family once, each series under its worker's label."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from signalbox.router.metrics import Metrics, SharedMetrics


def worker_metrics(worker: int, requests: int) -> Metrics:
    metrics = Metrics(worker)
    metrics.requests[("/v1/route", "200")] = requests
    metrics.decisions[("llama-3.1-70b", "alpha")] = requests
    metrics.observe_added_latency(0.0015 * (worker + 1))
    return metrics


def series(text: str, name: str) -> dict[str, float]:
    """``worker`` label -> value of the samples of ``name``."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            worker = re.search(r'worker="(\d+)"', line)
            assert worker is not None, line
            found[worker.group(1)] = float(line.rsplit(" ", 1)[1])
    return found


def test_a_snapshot_restores_every_count_and_gauge() -> None:
    metrics = worker_metrics(3, 7)
    metrics.upstream_errors[("beta", "http_5xx")] = 2
    metrics.fallbacks[("llama-3.1-70b",)] = 1
    restored, gauges = Metrics.restore(metrics.snapshot({"signalbox_router_degraded": 1.0}))
    assert restored.render(gauges) == metrics.render({"signalbox_router_degraded": 1.0})


def test_each_worker_renders_all_workers_once_each(tmp_path: Path) -> None:
    SharedMetrics.reset(tmp_path)
    shares = [SharedMetrics(tmp_path, i) for i in range(3)]
    live = [worker_metrics(i, 10 * (i + 1)) for i in range(3)]
    for share, metrics in zip(shares, live, strict=True):
        share.publish(metrics, {"signalbox_router_observations_pending": float(metrics.worker)})
    live[1].requests[("/v1/route", "200")] += 5  # counted since worker 1 last published

    text = shares[1].render(live[1], {"signalbox_router_observations_pending": 1.0})
    assert series(text, "signalbox_router_requests_total") == {"0": 10, "1": 25, "2": 30}
    assert series(text, "signalbox_router_added_latency_seconds_count") == {"0": 1, "1": 1, "2": 1}
    assert series(text, "signalbox_router_observations_pending") == {"0": 0, "1": 1, "2": 2}
    # a valid exposition: every family's TYPE once, its samples together after it
    types = re.findall(r"^# TYPE (\S+) ", text, flags=re.M)
    assert len(types) == len(set(types))
    families = [
        re.sub(r"_(bucket|sum|count)$", "", line.split("{")[0])  # a histogram is one family
        for line in text.splitlines()
        if not line.startswith("#")
    ]
    order = [name for i, name in enumerate(families) if i == 0 or families[i - 1] != name]
    assert len(order) == len(set(order))


def test_a_dead_workers_old_snapshot_and_a_torn_one_are_left_out(tmp_path: Path) -> None:
    SharedMetrics.reset(tmp_path)
    SharedMetrics(tmp_path, 0).publish(worker_metrics(0, 4), {})
    SharedMetrics(tmp_path, 2).publish(worker_metrics(2, 9), {})
    stale = time.time() - 120
    os.utime(tmp_path / "worker-2.json", (stale, stale))
    (tmp_path / "worker-3.json").write_text('{"worker": 3, "requ')
    text = SharedMetrics(tmp_path, 1).render(worker_metrics(1, 1), {})
    assert series(text, "signalbox_router_requests_total") == {"0": 4, "1": 1}


def test_reset_forgets_an_earlier_run(tmp_path: Path) -> None:
    SharedMetrics(tmp_path, 5).publish(worker_metrics(5, 1), {})
    SharedMetrics.reset(tmp_path)
    text = SharedMetrics(tmp_path, 0).render(worker_metrics(0, 2), {})
    assert series(text, "signalbox_router_requests_total") == {"0": 2}
