"""Pure: time axes that fit the data, not just the window asked for.

A store a few minutes old drawn over a 24-hour window squeezes every line into the right edge, in
one bucket. So each chart takes a bucket from the span its data covers (within the window's
finest and coarsest bucket) and an x range from the first data to now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Buckets a reader counts in; a fitted bucket is the smallest of these that keeps the chart to
# about ``TARGET_POINTS`` points.
NICE_BUCKETS = tuple(
    timedelta(seconds=s)
    for s in (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400)
)
TARGET_POINTS = 60
MIN_SPAN = timedelta(minutes=2)  # a chart narrower than this shows too little context


def floor_to(ts: datetime, bucket: timedelta) -> datetime:
    """``ts`` rounded down to a multiple of ``bucket`` since the epoch (UTC)."""
    step = bucket.total_seconds()
    return datetime.fromtimestamp((ts.timestamp() // step) * step, UTC)


def fitted_bucket(
    first: datetime | None, now: datetime, finest: timedelta, coarsest: timedelta
) -> timedelta:
    """The bucket for data from ``first`` to ``now``: about ``TARGET_POINTS`` points, never finer
    than the source allows (``finest``) nor coarser than the window's own (``coarsest``)."""
    if first is None:
        return coarsest
    wanted = max((now - first) / TARGET_POINTS, finest)
    for bucket in NICE_BUCKETS:
        if bucket >= wanted:
            return min(bucket, coarsest)
    return coarsest


def fitted_range(
    window: tuple[datetime, datetime], first: datetime | None, bucket: timedelta
) -> tuple[datetime, datetime]:
    """The x range: the window, cut to start one bucket before the first data (at least
    ``MIN_SPAN`` before its end), so what exists fills the chart."""
    start, end = window
    if first is None:
        return window
    begin = floor_to(first, bucket) - bucket
    return (max(start, min(begin, end - MIN_SPAN)), end)


# The windows of the pages that chart decisions (routing, routes): key -> (span, coarsest
# bucket), their labels, and the finest bucket a decision's own timestamp allows.
DECISION_WINDOWS = {
    "1h": (timedelta(hours=1), timedelta(minutes=5)),
    "24h": (timedelta(hours=24), timedelta(hours=1)),
    "7d": (timedelta(days=7), timedelta(hours=6)),
}
DECISION_WINDOW_LABELS = {"1h": "1 hour", "24h": "24 hours", "7d": "7 days"}
DECISION_FINEST_BUCKET = timedelta(seconds=10)
