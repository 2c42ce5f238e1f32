"""The content of one answer: text, JSON (valid against the asked schema, or flawed), a tool call or
a refusal, cut into the request plan's chunks.

Pure: a plan, what the request asks (``ask``) and the drawn flaw (``capability``) in, an
:class:`Answer` out. Plain text answers are the plan's words exactly as before; JSON answers hold
the same words inside string values, so the token count stays the plan's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

import orjson

from signalbox.simulator.ask import Ask
from signalbox.simulator.model import VOCAB, Plan, chunk_texts

REFUSAL_TEXT = "I'm sorry, but I can't help with that request."


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call: ``arguments`` as string wires carry them (OpenAI, Anthropic's
    ``input_json_delta``), ``args`` as object wires do (Gemini, a whole Anthropic message)."""

    id: str
    name: str
    arguments: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Answer:
    """What the server sends: the plan (its chunks and tokens), one text piece per chunk, the
    finish reason (``stop``, ``length``, ``refusal`` or ``tool_calls``; each dialect maps it)."""

    kind: str  # "text", "refusal" or "tool"
    plan: Plan
    pieces: tuple[str, ...]
    finish_reason: str
    tool: ToolCall | None = None

    @property
    def text(self) -> str:
        """The whole text (the refusal, or the tool call's arguments for a tool answer)."""
        return "".join(self.pieces)


def _words(plan: Plan) -> list[str]:
    return [VOCAB[(plan.text_offset + k) % len(VOCAB)] for k in range(plan.output_tokens)]


def _string_slots(schema: Any) -> int:
    """How many string values :func:`document` fills for ``schema``."""
    if not isinstance(schema, dict):
        return 1
    if schema.get("enum") or "const" in schema:
        return 0
    kind = _type(schema)
    if kind == "object":
        return sum(_string_slots(s) for s in _properties(schema).values())
    if kind == "array":
        return _string_slots(schema.get("items"))
    return 1 if kind == "string" else 0


def _type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        return "object" if "properties" in schema else "string"
    return str(kind)


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    """Every listed property, and the required ones not listed (as strings)."""
    props = dict(schema.get("properties") or {})
    for key in schema.get("required") or []:
        props.setdefault(str(key), {"type": "string"})
    return props or {"answer": {"type": "string"}}


def _value(schema: Any, take: Any) -> Any:
    if not isinstance(schema, dict):
        return take()
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = _type(schema)
    if kind == "object":
        return {key: _value(sub, take) for key, sub in _properties(schema).items()}
    if kind == "array":
        return [_value(schema.get("items"), take)]
    if kind == "string":
        return take()
    return {"integer": 42, "number": 0.5, "boolean": True}.get(kind)  # "null" and unknown: None


def document(schema: dict[str, Any] | None, words: list[str]) -> Any:
    """A JSON value valid against ``schema`` (type object with its properties and required keys;
    enums, consts and the scalar types), its strings holding ``words`` in order."""
    schema = schema or {"type": "object", "properties": {"answer": {"type": "string"}}}
    if _type(schema) != "object":
        schema = {"type": "object", "properties": {"answer": schema}}
    per = max(1, len(words) // max(1, _string_slots(schema)))
    state = {"i": 0}

    def take() -> str:
        i = state["i"]
        state["i"] += per
        return " ".join(words[i : i + per]) or "done"

    out = _value(schema, take)
    # words left over (a schema with few strings) go to the last string, so tokens add up
    rest = words[state["i"] :]
    if rest and isinstance(out, dict):
        last = next((k for k in reversed(out) if isinstance(out[k], str)), None)
        if last is not None:
            out[last] = (out[last] + " " + " ".join(rest)).strip()
    return out


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _cut(text: str, rng: random.Random) -> str:
    """A prefix of ``text`` (40-80 %), as an answer cut by the token limit."""
    return text[: max(1, int(len(text) * rng.uniform(0.4, 0.8)))]


def _broken_json(doc: Any, schema: dict[str, Any] | None, rng: random.Random) -> str:
    """Text that is not valid JSON, or valid JSON that misses the schema's required keys."""
    required = set((schema or {}).get("required") or [])
    ways = ["prose", "unclosed"] + (["missing"] if required and isinstance(doc, dict) else [])
    way = rng.choice(ways)
    if way == "prose":
        return "Sure! Here is the JSON you asked for: " + _dumps(doc)
    if way == "unclosed":
        return _dumps(doc)[:-1] + ","
    return _dumps({k: v for k, v in doc.items() if k not in required})


def split(text: str, chunks: tuple[int, ...]) -> tuple[str, ...]:
    """``text`` cut into one piece per chunk, each in proportion to its tokens."""
    total = sum(chunks)
    if not chunks:
        return ()
    out, start, acc = [], 0, 0
    for size in chunks:
        acc += size
        end = round(len(text) * acc / total)
        out.append(text[start:end])
        start = end
    return tuple(out)


def _regroup(plan: Plan, words: list[str]) -> tuple[Plan, tuple[str, ...]]:
    """A plan re-chunked for other words (a refusal): one token first, then up to three."""
    chunks, texts, i = [], [], 0
    while i < len(words):
        size = 1 if i == 0 else min(3, len(words) - i)
        chunks.append(size)
        texts.append(("" if i == 0 else " ") + " ".join(words[i : i + size]))
        i += size
    # The plan's jittered gaps belong to its old chunks: the new ones stream evenly at its tps.
    regrouped = replace(plan, chunks=tuple(chunks), output_tokens=len(words), gaps_s=())
    return regrouped, tuple(texts)


def _tool_answer(plan: Plan, ask: Ask, flaw: str | None, rng: random.Random) -> Answer:
    assert ask.tool is not None
    args = document(ask.tool.parameters, _words(plan))
    arguments = _dumps(args)
    finish = "tool_calls"
    if flaw == "truncated" or plan.finish_reason == "length":
        arguments, finish = _cut(arguments, rng), "length"
    elif flaw == "invalid_tool_args":
        arguments = _cut(arguments, rng)
        required = set(ask.tool.parameters.get("required") or [])
        args = {k: v for k, v in args.items() if k not in required}
    call = ToolCall(f"call_{rng.getrandbits(64):016x}", ask.tool.name, arguments, args)
    return Answer("tool", plan, split(arguments, plan.chunks), finish, call)


def shape_answer(plan: Plan, ask: Ask, flaw: str | None, rng: random.Random) -> Answer:
    """The answer of a request whose plan succeeds, given its flaw (None: a sound answer)."""
    if flaw == "empty" or plan.outcome == "empty_answer":
        return Answer("text", replace(plan, chunks=(), output_tokens=0, gaps_s=()), (), "stop")
    if flaw == "refused":
        refusal_plan, pieces = _regroup(plan, REFUSAL_TEXT.split())
        return Answer("refusal", refusal_plan, pieces, "refusal")
    if ask.tool is not None:
        return _tool_answer(plan, ask, flaw, rng)
    truncated = flaw == "truncated" or plan.finish_reason == "length"
    finish = "length" if truncated else plan.finish_reason
    if not ask.wants_json:
        return Answer("text", plan, tuple(chunk_texts(plan)), finish)
    doc = document(ask.schema, _words(plan))
    if truncated:
        text = _cut(_dumps(doc), rng)
    elif flaw == "invalid_json":
        text = _broken_json(doc, ask.schema, rng)
    else:
        text = _dumps(doc)
    return Answer("text", plan, split(text, plan.chunks), finish)
