"""Test support for fleets: ``signalbox`` service processes on one store, polled with deadlines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

from sqlalchemy import text

from signalbox.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def poll(predicate: Callable[[], T], timeout_s: float, what: str, every_s: float = 0.1) -> T:
    """Call ``predicate`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:g} s: {what}")
        time.sleep(every_s)


@dataclass
class Service:
    """One ``python -m signalbox.cli ...`` child process with its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def log(self) -> str:
        """Everything the process logged so far."""
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, wait for the exit code (kill after ``timeout_s``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log_file.close()
        return self.proc.returncode


def start_service(name: str, args: list[str], env: dict[str, str], tmp_path: Path) -> Service:
    """Start ``signalbox <args>`` with ``env``, logging to ``tmp_path/<name>.log``."""
    log_path = tmp_path / f"{name}.log"
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "signalbox.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    return Service(name, proc, log_path, log_file)


def service_env(db_url: str, catalog: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a service on ``db_url`` with ``catalog`` (no inherited SIGNALBOX_*)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALBOX_")}
    data_dir.mkdir(parents=True, exist_ok=True)
    env.update(
        SIGNALBOX_DATABASE_URL=db_url,
        SIGNALBOX_CATALOG=str(catalog),
        SIGNALBOX_DATA_DIR=str(data_dir),
        SIGNALBOX_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def query(db_url: str, sql: str, **params: object) -> list[tuple]:
    """Rows of one SQL query on ``db_url``."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def execute(db_url: str, sql: str, **params: object) -> int:
    """Run one SQL statement on ``db_url`` and commit; the number of rows it changed."""
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            return conn.execute(text(sql), params).rowcount
    finally:
        engine.dispose()
