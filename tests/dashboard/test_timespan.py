"""Time axes fit the data: a bucket for the data's span, a range from the first data to now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from signalbox.dashboard.timespan import MIN_SPAN, fitted_bucket, fitted_range

NOW = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
DAY = (NOW - timedelta(days=1), NOW)


def test_two_minutes_of_data_in_a_day_window_get_ten_second_buckets_and_a_short_axis() -> None:
    first = NOW - timedelta(minutes=2)
    bucket = fitted_bucket(first, NOW, timedelta(seconds=10), timedelta(minutes=10))
    assert bucket == timedelta(seconds=10)
    start, end = fitted_range(DAY, first, bucket)
    assert end == NOW and NOW - timedelta(minutes=3) < start < first


def test_data_covering_the_window_keeps_the_windows_bucket_and_range() -> None:
    first = NOW - timedelta(days=2)
    assert fitted_bucket(first, NOW, timedelta(minutes=1), timedelta(minutes=10)) == timedelta(
        minutes=10
    )
    assert fitted_range(DAY, first, timedelta(minutes=10)) == DAY


def test_the_bucket_is_never_finer_than_the_source_holds() -> None:
    # hour rollups cannot be drawn per minute, however little data there is
    first = NOW - timedelta(minutes=30)
    assert fitted_bucket(first, NOW, timedelta(hours=1), timedelta(hours=4)) == timedelta(hours=1)


def test_no_data_keeps_the_window() -> None:
    assert fitted_range(DAY, None, timedelta(minutes=10)) == DAY
    assert fitted_bucket(None, NOW, timedelta(seconds=10), timedelta(minutes=10)) == timedelta(
        minutes=10
    )


def test_a_single_fresh_point_still_gets_a_readable_span() -> None:
    start, end = fitted_range(DAY, NOW - timedelta(seconds=5), timedelta(seconds=10))
    assert end - start >= MIN_SPAN
