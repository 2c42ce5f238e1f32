"""The route and gateway benchmarks' result files: figures built from small fake measurements,
written and read back through ``bench.record.Run``, give the README's rows, targets included."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench import bench_gateway, bench_route
from bench.record import Run


def _saved(tmp_path: Path, kind: str, settings: dict[str, Any], figures: dict[str, Any]) -> dict:
    """The result file as bench/report.py reads it (NaN refused: the file must be valid JSON)."""
    path = Run(kind, f"python bench/bench_{kind}.py", settings).save(
        figures, path=tmp_path / f"{kind}.json"
    )

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the result file")

    return json.loads(path.read_text(), parse_constant=refuse)


# -- route ---------------------------------------------------------------------------------------

ROUTE_SETTINGS = {
    "concurrency": 64,
    "duration": 5.0,
    "runs": 3,
    "workers": [1, 2],
    "client": "wrk",
    "rate": 2000.0,
    "profile": False,
    "baseline": True,
}


def _closed(rps: float, p50: float, p99: float, errors: int = 0) -> list[bench_route.ClosedRun]:
    """Three runs whose medians are the given figures (the others on either side, out of order)."""
    return [
        (rps * 1.1, p50 * 0.9, p99 * 0.8, 0),
        (rps, p50, p99, errors),
        (rps * 0.8, p50 * 1.2, p99 * 1.5, 0),
    ]


def _open(p50: float, p99: float) -> list[bench_route.OpenRun]:
    return [(p50 + 0.1, p99 + 1.0), (p50 - 0.1, p99 - 0.2), (p50, p99)]


def _route(
    tmp_path: Path,
    one: tuple[float, float, float],
    two: tuple[float, float, float],
    open_p99: tuple[float, float] = (1.5, 1.2),
) -> dict:
    figures = bench_route.figures_from(
        _closed(32_091, 1.9, 4.0),
        {1: _closed(*one), 2: _closed(*two)},
        {1: _open(0.33, open_p99[0]), 2: _open(0.30, open_p99[1])},
        2000.0,
        (4.2, 31.0),
    )
    return _saved(tmp_path, "route", ROUTE_SETTINGS, figures)


def test_route_figures_keep_every_run_and_their_medians(tmp_path: Path) -> None:
    data = _route(tmp_path, (21_396, 2.9, 5.3), (46_579, 1.2, 2.5))
    figures = data["figures"]
    one = figures["routers"][0]
    assert one["workers"] == 1 and len(one["runs"]) == 3
    assert one["median"] == {"rps": 21_396, "p50_ms": 2.9, "p99_ms": 5.3}
    assert math.isclose(one["ratio_to_baseline"], 21_396 / 32_091)
    assert one["open_loop"]["rate"] == 2000.0
    assert one["open_loop"]["median"] == {"p50_ms": 0.33, "p99_ms": 1.5}
    assert figures["baseline"]["median"]["rps"] == 32_091
    assert figures["decision_us"] == {"cached": 4.2, "fresh": 31.0}
    assert figures["targets"] == {"rps": 10_000.0, "p99_ms": 2.0}


def test_route_row_gives_each_worker_count_the_baseline_and_the_targets(tmp_path: Path) -> None:
    data = _route(tmp_path, (21_396, 2.9, 5.3), (46_579, 1.2, 2.5))
    (row,) = bench_route.readme_rows(data)
    assert row.what == "`GET /v1/route`, 64 connections (wrk)"
    assert row.result == (
        "1 worker: 21,396 req/s, p50 2.9 ms, p99 5.3 ms; `--workers 2`: **46,579 req/s**, "
        "p50 1.2 ms, p99 2.5 ms; open loop at 2,000 req/s, 1 worker: p50 0.33 ms, p99 1.50 ms; "
        "`--workers 2`: p50 0.30 ms, p99 1.20 ms"
    )
    assert row.baseline == "bare aiohttp returning a constant, 1 process: 32,091 req/s, p50 1.9 ms"
    assert row.verdict == (
        "1 worker 0.67x, 2 workers 1.45x bare aiohttp; target 10k req/s met; "
        "p99 < 2 ms: open loop met; closed loop at 64 clients missed "
        "(Little's law: mean wait = 64 / throughput, under 2 ms only above 32k req/s)"
    )


def test_route_targets_flip_per_worker_count(tmp_path: Path) -> None:
    data = _route(tmp_path, (8_000, 2.9, 5.3), (36_000, 1.0, 1.8), open_p99=(2.5, 1.2))
    (row,) = bench_route.readme_rows(data)
    assert row.result.startswith("1 worker: 8,000 req/s, p50 2.9 ms, p99 5.3 ms; `--workers 2`: **")
    assert row.verdict == (
        "1 worker 0.25x, 2 workers 1.12x bare aiohttp; "
        "target 10k req/s met with 2 workers, missed with 1 worker; "
        "p99 < 2 ms: open loop met with 2 workers, missed with 1 worker; "
        "closed loop at 64 clients met with 2 workers, missed with 1 worker "
        "(Little's law: mean wait = 64 / throughput, under 2 ms only above 32k req/s)"
    )
    data = _route(tmp_path, (8_000, 2.9, 5.3), (9_000, 2.0, 3.0), open_p99=(2.5, 2.0))
    (row,) = bench_route.readme_rows(data)
    assert (
        "target 10k req/s missed; p99 < 2 ms: open loop missed; closed loop at 64 clients missed"
        in (row.verdict)
    )


def test_route_row_without_baseline_or_open_loop_names_the_client_and_errors(
    tmp_path: Path,
) -> None:
    figures = bench_route.figures_from(None, {1: _closed(9_500, 3.4, 6.0, errors=7)}, {}, 0.0, None)
    settings = {**ROUTE_SETTINGS, "client": "python", "concurrency": 32, "workers": [1]}
    data = _saved(tmp_path, "route", settings, figures)
    assert data["figures"]["routers"][0]["ratio_to_baseline"] is None
    assert data["figures"]["routers"][0]["open_loop"] is None
    (row,) = bench_route.readme_rows(data)
    assert row.what == "`GET /v1/route`, 32 connections (asyncio client)"
    assert row.result == "1 worker: **9,500 req/s**, p50 3.4 ms, p99 6.0 ms, 7 errors"
    assert row.baseline == "-"
    assert row.verdict == (
        "target 10k req/s missed; p99 < 2 ms: closed loop at 32 clients missed "
        "(Little's law: mean wait = 32 / throughput, under 2 ms only above 16k req/s)"
    )


# -- gateway -------------------------------------------------------------------------------------

LOADS: list[bench_gateway.Load] = [
    ("stream c=5", True, 5, 128),
    ("stream c=20", True, 20, 128),
    ("stream c=100", True, 100, 128),
    ("unary c=32", False, 32, 16),
]
GATEWAY_SETTINGS = {"runs": 3, "streams": [5, 20, 100], "unary": 32, "litellm_version": "1.108.7"}
DIRECT = [(200.0, 210.0), (190.0, 260.0), (205.0, 215.0)]  # each run's direct p50, p99


def _phase(stream: bool, p50: float, p99: float, rps: float, errors: int, cpu: float) -> dict:
    """One run of one path, as bench_gateway.measure records it."""
    lat = {
        "ttft_p50_ms": p50,
        "ttft_p99_ms": p99,
        "total_p50_ms": math.nan,
        "total_p99_ms": math.nan,
    }
    if not stream:  # non-streaming rows time the whole answer
        lat = {
            "ttft_p50_ms": math.nan,
            "ttft_p99_ms": math.nan,
            "total_p50_ms": p50,
            "total_p99_ms": p99,
        }
    return {
        "requests": 100,
        "errors": errors,
        **lat,
        "rps": rps,
        "error_kinds": {"http_500": errors} if errors else {},
        "served": 100 - errors,
        "cpu_ms_per_request": cpu,
    }


def _path(stream: bool, added: tuple[float, float] | None, rps: float, **kw: Any) -> list[dict]:
    """Three runs of a path adding ``added`` ms (p50, p99) over that run's direct, as medians: the
    runs add a little less, exactly that, and more."""
    out = []
    for (d50, d99), spread in zip(DIRECT, (-0.1, 0.0, 0.5), strict=True):
        a50, a99 = (0.0, 0.0) if added is None else (added[0] + spread, added[1] + spread)
        out.append(
            _phase(stream, d50 + a50, d99 + a99, rps, kw.get("errors", 0), kw.get("cpu", 1.0))
        )
    return out


def _load(stream: bool, sb: tuple[float, float], ll: tuple[float, float], **kw: Any) -> dict:
    return {
        "direct": _path(stream, None, kw.get("direct_rps", 40.0), cpu=math.nan),
        "signalbox": _path(stream, sb, kw.get("sb_rps", 40.0), cpu=kw.get("sb_cpu", 7.8)),
        "litellm": _path(
            stream,
            ll,
            kw.get("ll_rps", 39.0),
            errors=kw.get("ll_errors", 0),
            cpu=kw.get("ll_cpu", 54.5),
        ),
    }


def _gateway(tmp_path: Path, c20_signalbox_p50: float = 1.72) -> dict:
    rows = {
        "stream c=5": _load(True, (2.0, 2.2), (9.4, 11.1)),
        "stream c=20": _load(True, (c20_signalbox_p50, 2.2), (15.3, 368.3)),
        "stream c=100": _load(
            True,
            (1.2, 1.2),
            (1036.0, 1962.0),
            sb_rps=67.8,
            direct_rps=67.9,
            ll_rps=22.0,
            ll_errors=12,
        ),
        "unary c=32": _load(
            False, (0.96, 0.7), (175.0, 603.0), sb_rps=90.9, direct_rps=91.0, ll_rps=61.1
        ),
    }
    figures = bench_gateway.figures_from(LOADS, rows, "1.108.7")
    return _saved(tmp_path, "gateway", GATEWAY_SETTINGS, figures)


def test_gateway_figures_keep_every_run_and_pair_each_run_with_its_direct(tmp_path: Path) -> None:
    data = _gateway(tmp_path)
    loads = data["figures"]["loads"]
    assert [x["load"] for x in loads] == ["stream c=5", "stream c=20", "stream c=100", "unary c=32"]
    c20 = loads[1]
    assert len(c20["runs"]["signalbox"]) == 3
    sb = c20["medians"]["signalbox"]
    # paired per run: direct's p99 jumps in run 2, the added latency does not
    assert math.isclose(sb["added_p50_ms"], 1.72) and math.isclose(sb["added_p99_ms"], 2.2)
    assert c20["medians"]["direct"]["cpu_ms_per_request"] is None  # NaN written as null
    assert c20["runs"]["direct"][0]["total_p50_ms"] is None
    assert math.isclose(c20["ratio"]["p50"]["value"], 15.3 / 1.72)
    assert c20["ratio"]["p99"]["lower_bound"] is False
    assert loads[3]["ratio"]["p50"] == {"value": 175.0, "lower_bound": True}
    assert data["figures"]["litellm_version"] == "1.108.7"


def test_gateway_rows_one_per_load_headline_first_with_computed_verdicts(tmp_path: Path) -> None:
    rows = bench_gateway.readme_rows(_gateway(tmp_path))
    assert [(r.what, r.result, r.baseline, r.verdict) for r in rows] == [
        (
            "gateway overhead vs LiteLLM proxy, streaming, 20 concurrent",
            "Signalbox adds +1.7 ms p50 / +2.2 ms p99 TTFT; 40.0 req/s (direct 40.0)",
            "LiteLLM proxy 1.108.7 adds +15.3 / +368 ms; 39.0 req/s",
            "8.9x / 167x lower (target >= 10x: met at p99, not at p50)",
        ),
        (
            "gateway overhead, streaming, 100 concurrent",
            "Signalbox +1.2 / +1.2 ms; 67.8 req/s (direct 67.9)",
            "LiteLLM +1,036 / +1,962 ms; 22.0 req/s, 36 errors",
            "863x / 1,635x lower (target >= 10x: met)",
        ),
        (
            "gateway overhead, streaming, 5 concurrent",
            "Signalbox +2.0 / +2.2 ms; 40.0 req/s (direct 40.0)",
            "LiteLLM +9.4 / +11.1 ms; 39.0 req/s",
            "4.7x / 5.0x lower (target >= 10x: missed; gateway CPU 7.8 vs 54.5 ms per request)",
        ),
        (
            "gateway overhead, non-streaming, 32 concurrent",
            "Signalbox +1.0 / +0.7 ms; 90.9 req/s (direct 91.0)",
            "LiteLLM +175 / +603 ms; 61.1 req/s",
            ">= 175x / >= 603x lower (target >= 10x: met)",
        ),
    ]


def test_gateway_target_flips_with_signalbox_overhead(tmp_path: Path) -> None:
    (head, *_) = bench_gateway.readme_rows(_gateway(tmp_path, c20_signalbox_p50=1.5))
    assert head.verdict == "10x / 167x lower (target >= 10x: met)"


def test_overhead_ratio_bounds_noise_and_unmeasured_figures() -> None:
    ratio = bench_gateway.overhead_ratio
    assert ratio(20.0, 2.0) == {"value": 10.0, "lower_bound": False}
    assert ratio(20.0, -0.4) == {"value": 20.0, "lower_bound": True}  # Signalbox's figure: noise
    assert ratio(0.5, 0.2) == {"value": None, "lower_bound": False}  # neither adds 1 ms
    assert ratio(None, 2.0)["value"] is None and ratio(math.nan, 2.0)["value"] is None
    assert [bench_gateway.ratio(r) for r in (ratio(20.0, -0.4), ratio(0.5, 0.2))] == [
        ">= 20x",
        "n/a",
    ]


def test_gateway_row_without_a_measured_ratio_says_so(tmp_path: Path) -> None:
    rows = {"stream c=8": _load(True, (0.3, 0.4), (0.5, 0.6))}
    figures = bench_gateway.figures_from([("stream c=8", True, 8, 128)], rows, "1.108.7")
    (row,) = bench_gateway.readme_rows(_saved(tmp_path, "gateway", GATEWAY_SETTINGS, figures))
    assert row.what == "gateway overhead vs LiteLLM proxy, streaming, 8 concurrent"
    assert row.verdict == "n/a / n/a (target >= 10x: not measured)"
