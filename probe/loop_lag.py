"""Watches the probe event loop's own lag, so measurements taken while it was late are marked.

A task sleeps a short tick and records how late it woke up. Each probe opens a :class:`LagWindow`
for its duration; the monitor raises the window's maximum on every tick. A late wake-up means every
timestamp the loop took in that period may be late by as much, so the runner stores the maximum as
``loop_lag_ms`` and the scheduler drops observations whose lag exceeds its threshold.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator


class LagWindow:
    """The largest loop lag seen while one probe was running."""

    __slots__ = ("max_lag_ms",)

    def __init__(self) -> None:
        self.max_lag_ms = 0.0


class LoopLagMonitor:
    """Measures event-loop lag with a ``tick_s`` heartbeat; start and stop it on the probe loop."""

    def __init__(self, tick_s: float = 0.005) -> None:
        self.tick_s = tick_s
        self.last_lag_ms = 0.0
        self.max_lag_ms = 0.0
        self.ticks = 0
        self._windows: set[LagWindow] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the heartbeat on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._beat(), name="loop-lag")

    async def stop(self) -> None:
        """Stop the heartbeat."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @contextlib.contextmanager
    def window(self) -> Iterator[LagWindow]:
        """A window collecting the maximum lag until it closes (one more tick is taken at close)."""
        win = LagWindow()
        self._windows.add(win)
        try:
            yield win
        finally:
            self._windows.discard(win)
            # the tick in progress when the probe ended counts too
            late_ms = self._current_late_ms()
            if late_ms > win.max_lag_ms:
                win.max_lag_ms = late_ms

    def _current_late_ms(self) -> float:
        due = self._due_ns
        return max(0.0, (time.perf_counter_ns() - due) / 1e6) if due else 0.0

    _due_ns = 0

    async def _beat(self) -> None:
        tick_ns = int(self.tick_s * 1e9)
        while True:
            self._due_ns = time.perf_counter_ns() + tick_ns
            await asyncio.sleep(self.tick_s)
            lag_ms = max(0.0, (time.perf_counter_ns() - self._due_ns) / 1e6)
            self._due_ns = 0
            self.ticks += 1
            self.last_lag_ms = lag_ms
            self.max_lag_ms = max(self.max_lag_ms, lag_ms)
            for win in self._windows:
                if lag_ms > win.max_lag_ms:
                    win.max_lag_ms = lag_ms
