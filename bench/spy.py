"""py-spy on a benchmarked process: raw stacks of one run, for looking into where its CPU goes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def py_spy(pid: int, out: Path, duration_s: float, subprocesses: bool = False) -> subprocess.Popen:
    """Start ``py-spy record`` on ``pid`` (and its child processes with ``subprocesses``) for
    ``duration_s`` at 200 Hz, without pausing it; raw stacks go to ``out``. Returns the process."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "-p",
            str(pid),
            *(["--subprocesses"] if subprocesses else []),
            "-o",
            str(out),
            "-d",
            str(max(int(duration_s), 1)),
            "-r",
            "200",
            "--nonblocking",
            "-f",
            "raw",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
