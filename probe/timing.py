"""One timing record of raw ``perf_counter_ns`` marks, and the pure function deriving the metrics
of docs/architecture.md §2.

The marks are taken where the event happens (the trace hook when the request is written, the read
loop when bytes carrying content arrive); nothing here reads a clock, so the derivation is tested
directly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from signalbox.measure import bunched

NS_PER_MS = 1_000_000


@dataclass(slots=True)
class Marks:
    """Raw ``time.perf_counter_ns()`` marks of one streamed request; ``None`` when never reached.

    ``sent_ns`` is when the request body finished being written on an open connection (after any
    wait for a pool slot, a permit or a new connection): the server cannot start before then.
    """

    start_ns: int = 0
    connect_ns: int = 0  # TCP + TLS time spent opening a new connection; 0 when one was reused
    sent_ns: int | None = None
    headers_ns: int | None = None
    first_content_ns: int | None = None
    first_answer_ns: int | None = None
    chunk_ns: list[int] = field(default_factory=list)  # arrival of every content-bearing chunk
    end_ns: int | None = None

    @property
    def last_content_ns(self) -> int | None:
        """Arrival of the last content-bearing chunk."""
        return self.chunk_ns[-1] if self.chunk_ns else None

    def content(self, now_ns: int, *, answer: bool) -> None:
        """Record a content-bearing chunk arriving at ``now_ns`` (``answer``: not reasoning)."""
        if self.first_content_ns is None:
            self.first_content_ns = now_ns
        if answer and self.first_answer_ns is None:
            self.first_answer_ns = now_ns
        self.chunk_ns.append(now_ns)


@dataclass(frozen=True, slots=True)
class Metrics:
    """The timing metrics of one observation, in milliseconds and tokens per second."""

    ttft_ms: float | None
    ttfa_ms: float | None
    connect_ms: float | None
    tps: float | None
    itl_ms: float | None
    itl_p90_ms: float | None
    e2e_ms: float | None


def _ms(a: int | None, b: int | None) -> float | None:
    if a is None or b is None:
        return None
    return (b - a) / NS_PER_MS


def p90(values: list[float]) -> float:
    """The 90th percentile by linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    pos = 0.9 * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def derive(marks: Marks, output_tokens: int | None) -> Metrics:
    """docs/architecture.md §2: TTFT/TTFA from ``sent``; tps = (tokens - 1) / (last - first
    content); ITL; e2e."""
    first, last = marks.first_content_ns, marks.last_content_ns
    tps = None
    countable = output_tokens is not None and output_tokens >= 2
    # events of one read share its arrival time: the largest read after the first
    reads = Counter(marks.chunk_ns)
    burst = max((n for at, n in reads.items() if at != first), default=0)
    timed = not bunched(len(marks.chunk_ns), burst)
    if timed and countable and first is not None and last is not None and last > first:
        tps = (output_tokens - 1) / ((last - first) / 1e9)  # type: ignore[operator]
    gaps = [(b - a) / NS_PER_MS for a, b in zip(marks.chunk_ns, marks.chunk_ns[1:], strict=False)]
    gaps = gaps if timed else []
    return Metrics(
        ttft_ms=_ms(marks.sent_ns, first),
        ttfa_ms=_ms(marks.sent_ns, marks.first_answer_ns),
        connect_ms=marks.connect_ns / NS_PER_MS if marks.connect_ns else None,
        tps=tps,
        itl_ms=sum(gaps) / len(gaps) if gaps else None,
        itl_p90_ms=p90(gaps) if gaps else None,
        e2e_ms=_ms(marks.sent_ns, marks.end_ns),
    )
