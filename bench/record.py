"""Checkable results: each benchmark run writes one JSON under bench/results/ (committed), with the
commit it measured, the machine's load around it, its settings and its figures; bench/report.py
builds the README's table from these files only."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the README's table of benchmarks, read off a result file by the benchmark's own
    ``readme_rows(data)`` (so each benchmark's figures are formatted in one place, its script)."""

    what: str  # what was measured, e.g. "observation writer into PostgreSQL"
    result: str  # the figure (medians over the run's repetitions), formatted
    baseline: str  # the baseline measured in the same run, or "-"
    verdict: str  # ratio to the baseline and/or the target, met or missed


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (a figure with no sample: NaN) as None, in nested
    dicts and lists too: JSON has no NaN, and a result file must load anywhere."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def medians(runs: list[dict[str, Any]]) -> dict[str, float | None]:
    """Per figure, the median over the runs that have it (None or NaN counts as not having it);
    None where no run has it."""
    out: dict[str, float | None] = {}
    for key in dict.fromkeys(k for r in runs for k in r):
        values = [v for r in runs if (v := r.get(key)) is not None and math.isfinite(v)]
        out[key] = statistics.median(values) if values else None
    return out


def command_line(script: str) -> str:
    """How this run was invoked, as a reader would type it: ``python bench/<script> <args>``."""
    return " ".join(["python", f"bench/{script}", *sys.argv[1:]])


def commit(tree: Path = ROOT) -> dict[str, Any]:
    """The measured commit (of this tree, or of another source tree) and whether the tree had
    uncommitted changes."""

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=tree, capture_output=True, text=True)
        return out.stdout.strip()

    # results written by earlier runs are untracked files: not a change to the measured code
    dirty = bool(git("status", "-s", "--untracked-files=no"))
    return {"commit": git("rev-parse", "--short=12", "HEAD"), "dirty": dirty}


def machine() -> dict[str, Any]:
    """CPU count and the 1/5/15-minute load averages now (other work on a shared machine)."""
    return {"cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()]}


class Run:
    """One benchmark run's record: started now, written by :meth:`save`."""

    def __init__(
        self, benchmark: str, command: str, settings: dict[str, Any], tree: Path = ROOT
    ) -> None:
        """``tree``: the checkout measured, when it is not this one."""
        self.benchmark = benchmark
        self.started = datetime.now(UTC)
        self.data: dict[str, Any] = {
            "benchmark": benchmark,
            "command": command,
            **commit(tree),
            "started_at": self.started.isoformat(timespec="seconds"),
            "machine_at_start": machine(),
            "settings": settings,
        }

    def save(self, figures: dict[str, Any], path: Path | None = None) -> Path:
        """Write the record with ``figures`` (again on every call: a crash keeps what was done)."""
        now = datetime.now(UTC)
        self.data.update(
            figures=json_safe(figures),
            runtime_s=round((now - self.started).total_seconds(), 1),
            machine_at_end=machine(),
        )
        stamp = self.started.strftime("%Y%m%dT%H%M%SZ")
        path = path or RESULTS / f"{self.benchmark}-{stamp}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.data, indent=1, sort_keys=False) + "\n")
        return path
