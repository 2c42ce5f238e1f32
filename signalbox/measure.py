"""Rules every measurement of a stream shares, the probe's and the router's (docs/architecture.md
§2): when the arrival times of content say something about decode speed."""

from __future__ import annotations


def bunched(content_events: int, burst: int) -> bool:
    """Whether one read after the first carried more than half of the later content events
    (``burst`` of ``content_events``, the first included). Their arrival times then measure a
    burst — an upstream that stalled and flushed, or a machine too busy to read — not the decode
    speed, so tps and inter-token latency are left out rather than recorded as thousands of
    tokens a second."""
    return burst >= 2 and 2 * burst > content_events - 1
