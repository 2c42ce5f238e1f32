"""The triggers that move a routed request from one model to the next, as one table (issue #18).

Each trigger has an id (what ``x-signalbox-trigger``, ``/metrics``, the ``route_decision`` table
and the console show), a kind and a one-line explanation:

- ``pre``: decided before any call, from the request alone (it picks the starting model);
- ``post``: decided from the answer (non-streaming requests always; streaming requests only when
  the route holds the stream with ``buffer_for_validation``);
- ``failure``: the step's providers all failed, or its first-token deadline passed, before a byte
  reached the app.

``catalog_key`` is the key under ``[route.triggers]`` that turns it on, ``catalog_type`` its TOML
type (``bool`` switches, a number for a threshold). Catalog validation, the router's OpenAPI
document and the README read this table; adding a trigger is an entry here and its check in
``signalbox.router.escalate``. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

TriggerKind = Literal["pre", "post", "failure"]


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    """One trigger: its id, kind, the ``[route.triggers]`` key and type, and what it means."""

    id: str
    kind: TriggerKind
    catalog_key: str
    catalog_type: type
    explanation: str


_SPECS = (
    TriggerSpec(
        "prompt_tokens",
        "pre",
        "prompt_tokens_above",
        int,
        "the prompt has more tokens than the threshold (estimated as characters / 4 when no"
        " tokenizer is installed; the decision says so): start at the first escalation model",
    ),
    TriggerSpec(
        "context_window",
        "pre",
        "context_window",
        bool,
        "the prompt plus max_tokens exceeds a model's context_window: skip that model",
    ),
    TriggerSpec(
        "hint",
        "pre",
        "hint",
        bool,
        "the app asked for more (header x-signalbox-tier: high, or metadata.tier = high):"
        " start at the first escalation model",
    ),
    TriggerSpec(
        "tools",
        "pre",
        "tools_unsupported",
        bool,
        "the request has tools and the model has supports_tools = false: skip that model",
    ),
    TriggerSpec(
        "finish_length",
        "post",
        "finish_length",
        bool,
        "the answer stopped at the token limit (finish_reason length)",
    ),
    TriggerSpec("empty", "post", "empty", bool, "the answer has neither text nor a tool call"),
    TriggerSpec(
        "refusal",
        "post",
        "refusal",
        bool,
        "the model refused (a refusal field, finish_reason content_filter, or an answer that"
        ' opens with a refusal such as "I can\'t help with that")',
    ),
    TriggerSpec(
        "invalid_json",
        "post",
        "invalid_json",
        bool,
        "response_format asks for JSON and the answer is not JSON, or does not validate against"
        " the json_schema given (the detail says where)",
    ),
    TriggerSpec(
        "invalid_tool_args",
        "post",
        "invalid_tool_args",
        bool,
        "a tool call's arguments are not a JSON object, or do not match the tool's parameters"
        " schema",
    ),
    TriggerSpec(
        "failure",
        "failure",
        "failure",
        bool,
        "every provider of the model failed (or none qualified) before a byte reached the app",
    ),
    TriggerSpec(
        "deadline",
        "failure",
        "first_token_deadline_ms",
        float,
        "no first token within the route's first_token_deadline_ms on any provider of the model"
        " (the last model of the path is not held to it: a slow answer beats none)",
    ),
)

TRIGGERS: MappingProxyType[str, TriggerSpec] = MappingProxyType({s.id: s for s in _SPECS})
BY_CATALOG_KEY: MappingProxyType[str, TriggerSpec] = MappingProxyType(
    {s.catalog_key: s for s in _SPECS}
)
POST_CALL = tuple(s.id for s in _SPECS if s.kind == "post")
NONE = "none"  # the header value when nothing escalated


def describe() -> str:
    """Every trigger as ``id (kind): explanation`` lines (for documents)."""
    return "\n".join(f"- `{s.id}` ({s.kind}): {s.explanation}" for s in _SPECS)
