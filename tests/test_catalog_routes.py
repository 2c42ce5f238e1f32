"""``[[route]]`` in the catalog: a good route parses with its triggers; a bad one is refused with
every problem listed by key path (unknown model, name clash, cycle, nested route, trigger keys
and types)."""

from __future__ import annotations

import pytest

from signalbox.catalog import CatalogError, parse_catalog
from signalbox.routing.triggers import BY_CATALOG_KEY, TRIGGERS

BASE = """
[[provider]]
name = "p"
base_url = "http://127.0.0.1:9/p/v1"

[[model]]
name = "small"
context_window = 8000
supports_tools = false
[[model.endpoint]]
provider = "p"
upstream_model = "s"

[[model]]
name = "large"
[[model.endpoint]]
provider = "p"
upstream_model = "l"
"""


def test_a_route_parses_with_its_path_triggers_and_defaults() -> None:
    catalog = parse_catalog(
        BASE
        + """
[[route]]
name = "support"
default = "small"
escalate = ["large"]
buffer_for_validation = true
[route.triggers]
prompt_tokens_above = 2000
invalid_json = true
first_token_deadline_ms = 4000
"""
    )
    route = catalog.route("support")
    assert route is not None and route.path == ["small", "large"]
    assert route.buffer_for_validation
    assert route.prompt_tokens_above == 2000 and route.first_token_deadline_ms == 4000.0
    assert route.on("invalid_json") and route.on("deadline") and route.on("prompt_tokens")
    assert not route.on("refusal") and not route.on("hint")
    # switched on unless turned off: model fallback and the hard limits of a model
    assert route.on("failure") and route.on("context_window") and route.on("tools")
    assert catalog.model("small").context_window == 8000
    assert not catalog.model("small").supports_tools and catalog.model("large").supports_tools


def test_a_trigger_can_be_switched_off() -> None:
    catalog = parse_catalog(
        BASE + '[[route]]\nname = "r"\ndefault = "small"\n[route.triggers]\nfailure = false\n'
    )
    route = catalog.route("r")
    assert route is not None and not route.on("failure")


def test_every_route_problem_is_listed_with_its_path() -> None:
    with pytest.raises(CatalogError) as info:
        parse_catalog(
            BASE
            + """
[[route]]
name = "large"
default = "small"
escalate = ["huge", "small"]
[route.triggers]
finish_lenght = true
refusal = "yes"
prompt_tokens_above = 2.5
first_token_deadline_ms = -1

[[route]]
name = "large"
default = "large"
escalate = ["large"]

[[route]]
name = "nested"
default = "small"
escalate = ["large"]

[[route]]
name = "outer"
default = "nested"

[[route]]
name = "lonely"
default = "small"
[route.triggers]
hint = true
"""
        )
    problems = info.value.problems
    expected = [
        "route[0].name: 'large' is also a model",
        "route[0].escalate[0]: unknown model 'huge'",
        "route[0].escalate[1]: 'small' is already in the path (a cycle)",
        "route[0].triggers.finish_lenght: unknown trigger",
        "route[0].triggers.refusal: must be true or false",
        "route[0].triggers.prompt_tokens_above: must be a whole number",
        "route[0].triggers.first_token_deadline_ms: must be a positive number",
        "route[1].name: duplicate route name 'large'",
        "route[1].escalate[0]: 'large' is already in the path (a cycle)",
        "route[3].default: 'nested' is a route",
        "route[4].triggers.hint: needs an escalate list",
    ]
    for line in expected:
        assert any(p.startswith(line) for p in problems), (line, problems)


def test_a_route_with_a_wrong_field_type_or_unknown_field_is_refused() -> None:
    with pytest.raises(CatalogError) as info:
        parse_catalog(
            BASE
            + '[[route]]\nname = "r"\ndefault = "small"\nescalate = "large"\n'
            + 'buffer_for_validation = 1\nobjective = "fastest"\ncolour = "red"\n'
        )
    problems = info.value.problems
    for prefix in (
        "route[0].escalate",
        "route[0].buffer_for_validation",
        "route[0].objective: unknown objective 'fastest'",
        "route[0].colour",
    ):
        assert any(p.startswith(prefix) for p in problems), (prefix, problems)


def test_the_trigger_table_names_each_catalog_key_once() -> None:
    assert set(TRIGGERS) == {
        "prompt_tokens",
        "context_window",
        "hint",
        "tools",
        "finish_length",
        "empty",
        "refusal",
        "invalid_json",
        "invalid_tool_args",
        "failure",
        "deadline",
    }
    assert len(BY_CATALOG_KEY) == len(TRIGGERS)
