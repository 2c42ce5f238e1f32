"""Capability, pure: flaw curves by difficulty, one draw per answer, and the answers' content."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from signalbox.simulator.answer import document, shape_answer, split
from signalbox.simulator.ask import Ask, ToolAsk, openai_ask, parse_difficulty
from signalbox.simulator.capability import CapabilitySpec, applicable_flaws, draw_flaw
from signalbox.simulator.dialect import BadRequest
from signalbox.simulator.model import Plan
from signalbox.simulator.scenario import ScenarioError, parse_scenario

SPEC = CapabilitySpec(
    truncated=(0.0, 0.1),
    empty=(0.02, 0.04),
    refused=(0.0, 0.06),
    invalid_json=(0.01, 0.5),
    invalid_tool_args=(0.0, 0.3),
)
SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "confidence": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "label": {"enum": ["yes", "no"]},
        "detail": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    },
    "required": ["answer", "confidence", "label", "detail", "extra"],
}


def _plan(tokens: int = 40, finish: str = "stop") -> Plan:
    chunks = (1,) + (3,) * ((tokens - 1) // 3) + ((((tokens - 1) % 3),) if (tokens - 1) % 3 else ())
    return Plan("ok", 10.0, 100.0, tokens, finish, chunks, 1, 1.0, 3)


def _rates(spec: CapabilitySpec, ask: Ask, n: int) -> dict[str | None, float]:
    rng = random.Random(11)
    counts: dict[str | None, int] = {}
    for _ in range(n):
        flaw = draw_flaw(spec, ask, rng)
        counts[flaw] = counts.get(flaw, 0) + 1
    return {k: v / n for k, v in counts.items()}


def _close(measured: float, p: float, n: int) -> bool:
    """Within four standard errors of a binomial proportion (and a hair for p near 0)."""
    return abs(measured - p) <= 4 * math.sqrt(p * (1 - p) / n) + 1e-3


def test_probability_interpolates_linearly_between_difficulty_0_and_1() -> None:
    assert SPEC.probability("invalid_json", 0.0) == pytest.approx(0.01)
    assert SPEC.probability("invalid_json", 1.0) == pytest.approx(0.5)
    assert SPEC.probability("invalid_json", 0.5) == pytest.approx(0.255)
    assert SPEC.probability("truncated", 2.0) == pytest.approx(0.1)  # clamped


def test_difficulty_is_the_requests_own_else_prompt_length_over_hard_prompt_chars() -> None:
    spec = CapabilitySpec(hard_prompt_chars=1000)
    assert spec.difficulty(Ask(input_chars=250)) == pytest.approx(0.25)
    assert spec.difficulty(Ask(input_chars=5000)) == 1.0
    assert spec.difficulty(Ask(input_chars=5000, difficulty=0.1)) == pytest.approx(0.1)


@pytest.mark.parametrize("difficulty", [0.0, 0.3, 1.0])
def test_measured_flaw_rates_match_the_configured_curves(difficulty: float) -> None:
    ask = Ask(difficulty=difficulty, wants_json=True)
    n = 40_000
    rates = _rates(SPEC, ask, n)
    for flaw in ("truncated", "empty", "refused", "invalid_json"):
        p = SPEC.probability(flaw, difficulty)
        assert _close(rates.get(flaw, 0.0), p, n), (flaw, rates.get(flaw), p)
    assert "invalid_tool_args" not in rates


def test_json_flaws_need_json_asked_and_tool_flaws_a_tool_call() -> None:
    tool = ToolAsk("lookup", {"type": "object"})
    assert "invalid_json" not in applicable_flaws(Ask())
    assert "invalid_json" in applicable_flaws(Ask(wants_json=True))
    assert applicable_flaws(Ask(wants_json=True, tool=tool))[-1] == "invalid_tool_args"
    rates = _rates(SPEC, Ask(difficulty=1.0), 5000)
    assert "invalid_json" not in rates and "invalid_tool_args" not in rates


def test_probabilities_summing_past_one_are_scaled_to_one() -> None:
    spec = CapabilitySpec(truncated=(1.0, 1.0), refused=(1.0, 1.0))
    rates = _rates(spec, Ask(difficulty=0.5), 10_000)
    assert None not in rates
    assert _close(rates["truncated"], 0.5, 10_000)


def test_no_capability_means_no_flaw() -> None:
    assert draw_flaw(None, Ask(difficulty=1.0, wants_json=True), random.Random(1)) is None


def test_draws_repeat_given_the_generators_seed() -> None:
    ask = Ask(difficulty=0.7, wants_json=True)
    first = [draw_flaw(SPEC, ask, random.Random(f"7:p:m:{i}")) for i in range(300)]
    again = [draw_flaw(SPEC, ask, random.Random(f"7:p:m:{i}")) for i in range(300)]
    assert first == again and any(first)


@pytest.mark.parametrize(
    ("value", "expected"), [("0.8", 0.8), (0.25, 0.25), (1, 1.0), ("0", 0.0), (None, None)]
)
def test_difficulty_accepts_numbers_and_numeric_strings(value: Any, expected: Any) -> None:
    assert parse_difficulty(value, "metadata.difficulty") == expected


@pytest.mark.parametrize("value", ["hard", "1.5", -0.1, True, "nan", [0.5]])
def test_a_difficulty_outside_0_1_or_not_a_number_is_a_bad_request(value: Any) -> None:
    with pytest.raises(BadRequest) as exc:
        parse_difficulty(value, "metadata.difficulty")
    assert exc.value.param == "metadata.difficulty"


def _valid(value: Any, schema: dict[str, Any]) -> bool:
    """The subset of JSON Schema the simulator promises: types, enums, required keys."""
    if "enum" in schema:
        return value in schema["enum"]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if kind == "object":
        props = schema.get("properties", {})
        return (
            isinstance(value, dict)
            and all(k in value for k in schema.get("required", []))
            and all(_valid(value[k], s) for k, s in props.items() if k in value)
        )
    checks = {
        "string": lambda v: isinstance(v, str) and v,
        "number": lambda v: isinstance(v, (int, float)),
        "integer": lambda v: isinstance(v, int),
        "array": lambda v: isinstance(v, list) and all(_valid(x, schema["items"]) for x in v),
    }
    return bool(checks[kind](value))


def test_a_json_document_is_valid_against_the_schema_and_holds_every_word() -> None:
    words = [f"w{i}" for i in range(30)]
    doc = document(SCHEMA, words)
    assert _valid(doc, SCHEMA)
    held = " ".join(v for v in [doc["answer"], *doc["tags"], doc["extra"]])
    assert held.split() == words


def test_without_a_schema_the_json_is_an_object_with_an_answer() -> None:
    assert document(None, ["a", "b"]) == {"answer": "a b"}


def test_a_sound_json_answer_parses_and_its_pieces_follow_the_chunks() -> None:
    plan = _plan(40)
    answer = shape_answer(plan, Ask(wants_json=True, schema=SCHEMA), None, random.Random(3))
    assert _valid(json.loads(answer.text), SCHEMA)
    assert len(answer.pieces) == len(plan.chunks) and all(answer.pieces)
    assert answer.finish_reason == "stop"


@pytest.mark.parametrize("seed", range(12))
def test_an_invalid_json_answer_does_not_parse_or_misses_required_keys(seed: int) -> None:
    ask = Ask(wants_json=True, schema=SCHEMA)
    answer = shape_answer(_plan(40), ask, "invalid_json", random.Random(seed))
    try:
        assert not _valid(json.loads(answer.text), SCHEMA)
    except json.JSONDecodeError:
        pass
    assert answer.finish_reason == "stop"


def test_a_truncated_json_answer_is_cut_with_finish_length() -> None:
    answer = shape_answer(_plan(40), Ask(wants_json=True), "truncated", random.Random(1))
    assert answer.finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.text)


def test_hitting_max_tokens_truncates_json_too() -> None:
    answer = shape_answer(_plan(40, "length"), Ask(wants_json=True), None, random.Random(1))
    assert answer.finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.text)


def test_an_empty_answer_has_no_chunks_and_no_tokens() -> None:
    answer = shape_answer(_plan(40), Ask(wants_json=True), "empty", random.Random(1))
    assert answer.plan.chunks == () and answer.plan.output_tokens == 0 and answer.text == ""


def test_a_refusal_is_rechunked_to_its_own_words() -> None:
    answer = shape_answer(_plan(40), Ask(), "refused", random.Random(1))
    assert answer.kind == "refusal" and answer.finish_reason == "refusal"
    assert answer.text.startswith("I'm sorry")
    assert answer.plan.output_tokens == len(answer.text.split())
    assert answer.plan.chunks[0] == 1 and sum(answer.plan.chunks) == answer.plan.output_tokens


def test_plain_text_answers_are_unchanged_without_json_or_flaw() -> None:
    answer = shape_answer(_plan(10), Ask(), None, random.Random(1))
    assert answer.kind == "text" and len(answer.text.split()) == 10


TOOL = ToolAsk(
    "lookup",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
)


def test_a_sound_tool_call_has_json_arguments_with_the_required_keys() -> None:
    answer = shape_answer(_plan(20), Ask(tool=TOOL), None, random.Random(2))
    assert answer.kind == "tool" and answer.finish_reason == "tool_calls"
    assert answer.tool is not None and answer.tool.name == "lookup"
    args = json.loads(answer.tool.arguments)
    assert _valid(args, TOOL.parameters) and args == answer.tool.args
    assert answer.text == answer.tool.arguments


def test_bad_tool_arguments_are_not_json_and_their_object_misses_required_keys() -> None:
    answer = shape_answer(_plan(20), Ask(tool=TOOL), "invalid_tool_args", random.Random(2))
    assert answer.tool is not None
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.tool.arguments)
    assert not _valid(answer.tool.args, TOOL.parameters)


def test_openai_tool_choice_none_means_a_text_answer() -> None:
    body = {
        "tools": [{"type": "function", "function": {"name": "a"}}],
        "tool_choice": "none",
    }
    assert openai_ask(body, 10).tool is None
    forced = {
        "tools": [
            {"type": "function", "function": {"name": "a"}},
            {"type": "function", "function": {"name": "b"}},
        ],
        "tool_choice": {"type": "function", "function": {"name": "b"}},
    }
    tool = openai_ask(forced, 10).tool
    assert tool is not None and tool.name == "b"


def test_split_cuts_text_in_proportion_to_chunk_tokens() -> None:
    assert split("abcdefgh", (1, 3)) == ("ab", "cdefgh")
    assert "".join(split("x" * 37, (1, 4, 4, 2))) == "x" * 37


def test_a_scenario_model_takes_a_capability_and_refuses_a_bad_curve() -> None:
    text = """
    [[provider]]
    name = "p"
    [[provider.model]]
    model = "m"
    capability = { invalid_json = [0.01, 0.5], hard_prompt_chars = 2000 }
    """
    spec = parse_scenario(text).providers[0].models[0].capability
    assert spec is not None and spec.invalid_json == (0.01, 0.5) and spec.hard_prompt_chars == 2000
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text.replace("0.5]", "1.5]"))
    assert "provider[0].model[0].capability.invalid_json" in str(exc.value)
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text.replace("invalid_json", "confused"))
    assert "capability.confused" in str(exc.value)
