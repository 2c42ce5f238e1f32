"""Uptime (share of ok observations) over fixed windows: 5 minutes, 30 minutes and a day.

A ring of one-minute slots over the last day; adding is O(1), reading sums the slots in range.
"""

from __future__ import annotations

SLOTS = 24 * 60
WINDOWS_S = {"5m": 300, "30m": 1800, "1d": 86400}


class UptimeWindows:
    """Per-minute (total, ok) counts over the last day."""

    __slots__ = ("_minute", "_ok", "_total")

    def __init__(self) -> None:
        self._minute = [-1] * SLOTS
        self._total = [0] * SLOTS
        self._ok = [0] * SLOTS

    def add(self, ts: float, ok: bool, count: int = 1, ok_count: int | None = None) -> None:
        """Count ``count`` observations in the minute of ``ts`` (``ok_count`` of them ok)."""
        minute = int(ts // 60)
        slot = minute % SLOTS
        if self._minute[slot] != minute:
            if self._minute[slot] > minute:
                return  # older than a day behind what the slot holds
            self._minute[slot] = minute
            self._total[slot] = 0
            self._ok[slot] = 0
        self._total[slot] += count
        self._ok[slot] += (count if ok else 0) if ok_count is None else ok_count

    def uptime(self, now: float, window_s: int) -> float | None:
        """The share of ok observations in the last ``window_s`` seconds, or None without data."""
        now_minute = int(now // 60)
        first = now_minute - (window_s // 60) + 1
        total = ok = 0
        for slot in range(SLOTS):
            m = self._minute[slot]
            if first <= m <= now_minute:
                total += self._total[slot]
                ok += self._ok[slot]
        return ok / total if total else None

    def windows(self, now: float) -> dict[str, float | None]:
        """Uptime over every window of :data:`WINDOWS_S`."""
        now_minute = int(now // 60)
        sums = {name: [0, 0] for name in WINDOWS_S}
        for slot in range(SLOTS):
            m = self._minute[slot]
            if m < 0 or m > now_minute:
                continue
            age_min = now_minute - m
            for name, window_s in WINDOWS_S.items():
                if age_min < window_s // 60:
                    sums[name][0] += self._total[slot]
                    sums[name][1] += self._ok[slot]
        return {name: (ok / total if total else None) for name, (total, ok) in sums.items()}
