"""A dedicated event loop on its own thread, where every probe is timed.

The main loop (writer, signal handling, router polling) may be busy; the probe loop only reads
sockets and takes timestamps. Work is handed over with :meth:`ProbeLoop.call` (main → probe) and
``loop.call_soon_threadsafe`` (probe → main).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# How long another Python thread may hold the GIL once the probe thread asks for it. CPython's
# default (5 ms) would let a writer batch delay a timestamp by up to 5 ms; 0.5 ms keeps that delay
# under the accuracy target at a small cost in thread switches.
GIL_SWITCH_INTERVAL_S = 0.0005


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when installed (lower wake-up latency), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


PROBE_THREAD_NICE = -10


def raise_thread_priority(nice: int = PROBE_THREAD_NICE) -> bool:
    """Give the calling thread a higher CPU priority (Linux: per-thread nice) when permitted.

    On a busy machine the probe thread otherwise waits a few ms for a CPU now and then, and every
    timestamp taken after the wait is late by as much. Without the privilege (CAP_SYS_NICE) this
    changes nothing and returns False; the lag monitor still marks late observations.
    """
    import os

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (OSError, AttributeError):
        return False
    return True


class ProbeLoop:
    """Runs an event loop forever on a daemon thread until :meth:`stop`."""

    def __init__(self, name: str = "probe-loop") -> None:
        self._name = name
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start the thread and wait until its loop runs; shorten the GIL switch interval."""
        if sys.getswitchinterval() > GIL_SWITCH_INTERVAL_S:
            sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("probe event loop did not start within 10 s")

    def _main(self) -> None:
        raise_thread_priority()
        loop = new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        loop.call_soon(self._ready.set)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the probe loop and await its result from the calling loop."""
        assert self.loop is not None, "ProbeLoop.start() first"
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wrap_future(future)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the loop and join the thread (its tasks must be finished or cancelled first)."""
        if self.loop is not None and self._thread is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout_s)
