"""Fixtures: one fast simulator for the whole package, its faults cleared after each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from signalbox.simulator.testing import SimulatorThread

CHAT_BODY = {
    "model": "meta-llama/Llama-3.1-70B-Instruct",
    "messages": [{"role": "user", "content": "Say something."}],
    "max_tokens": 16,
}
MESSAGES_BODY = {
    "model": "llama-3-1-70b",
    "messages": [{"role": "user", "content": "Say something."}],
    "max_tokens": 16,
}
CHARLIE_KEY = {"x-api-key": "sk-ant-sim-charlie"}


@pytest.fixture(scope="session")
def sim_thread() -> Iterator[SimulatorThread]:
    with SimulatorThread("fast") as sim:
        yield sim


@pytest.fixture
def sim(sim_thread: SimulatorThread) -> Iterator[SimulatorThread]:
    yield sim_thread
    sim_thread.clear_faults()


@pytest.fixture
def client(sim: SimulatorThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, timeout=10) as c:
        yield c


def sse_data(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


def sse_events(text: str) -> list[str]:
    """The ``event:`` names of an SSE body, in order."""
    return [line[len("event: ") :] for line in text.split("\n") if line.startswith("event: ")]
