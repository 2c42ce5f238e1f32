"""The event-loop lag monitor marks the probes that ran while the loop was late."""

from __future__ import annotations

import asyncio
import time

from signalbox.probe.loop_lag import LoopLagMonitor


async def test_a_blocked_loop_shows_up_in_the_windows_open_at_the_time() -> None:
    monitor = LoopLagMonitor(tick_s=0.005)
    monitor.start()
    try:
        await asyncio.sleep(0.02)
        with monitor.window() as during:
            time.sleep(0.05)  # noqa: ASYNC251 - block the loop, as heavy synchronous work would
            await asyncio.sleep(0.02)
        with monitor.window() as after:
            await asyncio.sleep(0.02)
    finally:
        await monitor.stop()
    assert during.max_lag_ms >= 25
    assert after.max_lag_ms < during.max_lag_ms
    assert monitor.ticks > 0
