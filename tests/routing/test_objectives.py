"""The objective table is the one list: scoring, validation, parameters, the OpenAPI document, the
CLIs and the dashboard all offer exactly its entries."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from signalbox.catalog import CatalogError, parse_catalog
from signalbox.routing.objectives import DEFAULT_OBJECTIVE, OBJECTIVES, Objective
from signalbox.routing.scoring import PriceInfo, RequestShape, raw_value, score_all
from signalbox.stats import EndpointSnapshot

NAMES = list(OBJECTIVES)
CATALOG = '[[provider]]\nname = "p"\nbase_url = "http://x/v1"\n'


def test_every_entry_measures_or_blends_known_objectives_and_explains_itself() -> None:
    assert [o.value for o in Objective] == NAMES and DEFAULT_OBJECTIVE in OBJECTIVES
    for name, spec in OBJECTIVES.items():
        assert spec.name == name and spec.explanation
        assert (spec.measure is None) == bool(spec.blend)
        assert set(spec.shows) <= {"ttft", "tps", "price"}
        for part, weight in spec.blend.items():
            assert OBJECTIVES[part].measure is not None and weight > 0


def test_scores_follow_each_entry_direction_and_success_adjustment() -> None:
    fast = EndpointSnapshot.point(20, 0.0, 100.0, 200.0)
    slow = EndpointSnapshot.point(20, 0.5, 100.0, 200.0)  # same figures, half its attempts fail
    price = PriceInfo(1.0, 1.0)
    for name, spec in OBJECTIVES.items():
        scores = score_all([fast, slow], [price, price], Objective(name), RequestShape())
        assert scores[0] == pytest.approx(1.0) and scores[1] < scores[0], name
        if spec.measure is not None:
            plain = spec.measure(fast, price, RequestShape())
            adjusted = raw_value(slow, price, Objective(name), RequestShape())
            assert adjusted == pytest.approx(plain * 0.5 if spec.higher_is_better else plain / 0.5)


def test_router_parameters_and_openapi_offer_the_table() -> None:
    from signalbox.router.errors import ApiError
    from signalbox.router.openapi import OPENAPI
    from signalbox.router.params import parse_objective, route_query

    for name in NAMES:
        assert parse_objective(name) == name
        assert route_query({"model": f"m@{name}"}).objective == name
    with pytest.raises(ApiError, match=", ".join(NAMES)):
        parse_objective("vibes")
    route = OPENAPI["paths"]["/v1/route"]["get"]["parameters"]
    sort = next(p for p in route if p["name"] == "sort")
    assert sort["schema"]["enum"] == NAMES
    assert all(OBJECTIVES[n].explanation in sort["schema"]["description"] for n in NAMES)


def test_catalog_accepts_a_half_life_for_each_objective_and_names_the_choices() -> None:
    table = ", ".join(f"{n} = 60" for n in NAMES)
    catalog = parse_catalog(CATALOG + f"[routing]\nhalf_life_by_objective_s = {{ {table} }}\n")
    assert set(catalog.routing.half_life_by_objective_s) == set(NAMES)
    with pytest.raises(CatalogError) as info:
        parse_catalog(CATALOG + "[routing]\nhalf_life_by_objective_s = { speed = 60 }\n")
    assert info.value.problems == [
        f"routing.half_life_by_objective_s.speed: unknown objective; use one of {', '.join(NAMES)}"
    ]


@pytest.mark.parametrize("command", ["route", "replay"])
def test_cli_sort_choices_are_the_table(command: str) -> None:
    from signalbox.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sort = next(a for a in sub.choices[command]._actions if a.dest == "sort")
    assert list(sort.choices) == NAMES


def test_help_reads_the_table_without_loading_polars_or_dash() -> None:
    code = (
        "import sys\n"
        "from signalbox.cli import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in ('polars', 'dash') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "[]"


def test_dashboard_offers_the_table() -> None:
    from signalbox.dashboard.pages.replay import selection

    for name in NAMES:
        assert selection({"objective": name}, ["m"]).objective == name
    assert selection({"objective": "vibes"}, ["m"]).objective == DEFAULT_OBJECTIVE
