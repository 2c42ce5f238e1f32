"""Deriving docs/architecture.md §2 metrics from raw timing marks."""

from __future__ import annotations

import pytest

from signalbox.probe.timing import Marks, derive, p90

MS = 1_000_000


def marks_with(chunks_ms: list[float], *, sent_ms: float = 0.0, answer_from: int = 0) -> Marks:
    marks = Marks(start_ns=0, sent_ns=int(sent_ms * MS))
    for i, t in enumerate(chunks_ms):
        marks.content(int(t * MS), answer=i >= answer_from)
    marks.end_ns = int((chunks_ms[-1] + 1) * MS) if chunks_ms else None
    return marks


def test_ttft_runs_from_request_written_to_first_content() -> None:
    metrics = derive(marks_with([150, 160, 170], sent_ms=10), output_tokens=3)
    assert metrics.ttft_ms == pytest.approx(140)
    assert metrics.e2e_ms == pytest.approx(161)


def test_tps_excludes_ttft_and_counts_tokens_after_the_first() -> None:
    # 11 tokens, first at 100 ms, last at 600 ms: 10 tokens in 0.5 s
    metrics = derive(marks_with([100, 350, 600]), output_tokens=11)
    assert metrics.tps == pytest.approx(20.0)


def test_tps_is_null_with_fewer_than_two_tokens_or_a_single_chunk() -> None:
    assert derive(marks_with([100]), output_tokens=1).tps is None
    assert derive(marks_with([100]), output_tokens=5).tps is None
    assert derive(marks_with([100, 200]), output_tokens=None).tps is None


def test_itl_is_the_mean_and_p90_of_gaps_between_content_chunks() -> None:
    metrics = derive(marks_with([100, 110, 130, 160]), output_tokens=4)
    assert metrics.itl_ms == pytest.approx(20.0)
    assert metrics.itl_p90_ms == pytest.approx(p90([10, 20, 30]))


def test_ttfa_waits_for_the_first_answer_after_reasoning() -> None:
    metrics = derive(marks_with([100, 200, 300], answer_from=2), output_tokens=3)
    assert metrics.ttft_ms == pytest.approx(100)
    assert metrics.ttfa_ms == pytest.approx(300)


def test_no_content_gives_null_latencies_and_connect_time_only_when_connecting() -> None:
    marks = Marks(start_ns=0, sent_ns=0, connect_ns=0)
    metrics = derive(marks, output_tokens=None)
    assert (metrics.ttft_ms, metrics.tps, metrics.itl_ms, metrics.connect_ms) == (None,) * 4
    assert derive(Marks(connect_ns=3 * MS), None).connect_ms == pytest.approx(3.0)


def test_p90_interpolates_like_numpy() -> None:
    assert p90([1.0]) == 1.0
    assert p90([0.0, 10.0]) == pytest.approx(9.0)


def test_a_stream_that_arrived_in_one_burst_has_no_decode_speed() -> None:
    # the first token at 600 ms, then 63 more in the next read, 1.8 ms later: a stall flushed
    burst = marks_with([600.0, *[601.8] * 63])
    metrics = derive(burst, output_tokens=64)
    assert metrics.tps is None and metrics.itl_ms is None and metrics.itl_p90_ms is None
    assert metrics.ttft_ms == pytest.approx(600.0)  # TTFT and e2e still stand
    # a few events coalescing in a read is ordinary streaming and keeps its figures
    steady = marks_with([100.0, 110.0, 110.0, 120.0, 130.0, 130.0, 140.0])
    assert derive(steady, output_tokens=7).tps == pytest.approx(6 / 0.04)
