"""Capability: how often a model's answer is flawed, as a function of how hard the request is.

A scenario's model entry may carry ``capability``, one curve per flaw. A curve is a pair
``[p0, p1]``: the flaw's probability at difficulty 0 and at difficulty 1, linearly interpolated
between (``p = p0 + (p1 - p0) * d``)::

    capability = { truncated = [0.0, 0.1], empty = [0.0, 0.02], refused = [0.0, 0.02],
                   invalid_json = [0.01, 0.5], invalid_tool_args = [0.0, 0.3] }

Flaws: ``truncated`` (finish reason ``length``, the text cut short), ``empty`` (no content at
all), ``refused`` (a refusal: OpenAI's ``refusal`` field, Anthropic's ``stop_reason: "refusal"``,
Gemini's ``finishReason: "SAFETY"``), ``invalid_json`` (only when the request asks for JSON: the
text is not valid JSON) and ``invalid_tool_args`` (only when the answer is a tool call: its
arguments are not valid JSON, or on Gemini, whose wire carries them as an object, lack the schema's
required properties).

Difficulty ``d`` in [0, 1]: the request's ``metadata.difficulty`` (a number or a numeric string,
since OpenAI's ``metadata`` holds strings; Gemini: ``labels.difficulty``), else derived from the
prompt's length: ``d = min(1, prompt_chars / hard_prompt_chars)`` (``hard_prompt_chars`` defaults
to 4000, about 1000 tokens).

One draw per request: ``u`` uniform in [0, 1) against the cumulative probabilities of the flaws
that apply, in the order above (scaled down if they sum past 1), so each flaw's measured rate is
its configured probability. The generator is seeded by (scenario seed, provider, model, request
index): runs repeat given the seed.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from signalbox.simulator.ask import Ask

Prob = Annotated[float, Field(ge=0, le=1)]
Curve = tuple[Prob, Prob]
FLAWS: tuple[str, ...] = ("truncated", "empty", "refused", "invalid_json", "invalid_tool_args")
DEFAULT_HARD_PROMPT_CHARS = 4000


class CapabilitySpec(BaseModel):
    """Per flaw, its probability at difficulty 0 and 1 (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    truncated: Curve = (0.0, 0.0)
    empty: Curve = (0.0, 0.0)
    refused: Curve = (0.0, 0.0)
    invalid_json: Curve = (0.0, 0.0)
    invalid_tool_args: Curve = (0.0, 0.0)
    hard_prompt_chars: Annotated[int, Field(ge=1)] = DEFAULT_HARD_PROMPT_CHARS

    def probability(self, flaw: str, difficulty: float) -> float:
        """The flaw's probability at ``difficulty`` (clamped to [0, 1])."""
        p0, p1 = getattr(self, flaw)
        d = min(1.0, max(0.0, difficulty))
        return p0 + (p1 - p0) * d

    def difficulty(self, ask: Ask) -> float:
        """The request's difficulty: its own, else from the prompt's length."""
        if ask.difficulty is not None:
            return ask.difficulty
        return min(1.0, ask.input_chars / self.hard_prompt_chars)


def applicable_flaws(ask: Ask) -> tuple[str, ...]:
    """The flaws a request can suffer: JSON flaws only when JSON is asked (and the answer is text),
    tool-argument flaws only when the answer is a tool call."""
    out = ["truncated", "empty", "refused"]
    if ask.tool is not None:
        out.append("invalid_tool_args")
    elif ask.wants_json:
        out.append("invalid_json")
    return tuple(out)


def draw_flaw(spec: CapabilitySpec | None, ask: Ask, rng: random.Random) -> str | None:
    """The flaw of one answer, or None for a sound one (one uniform draw; module docstring)."""
    if spec is None:
        return None
    d = spec.difficulty(ask)
    flaws = applicable_flaws(ask)
    probs = [spec.probability(f, d) for f in flaws]
    total = sum(probs)
    scale = 1.0 / total if total > 1.0 else 1.0
    u, acc = rng.random(), 0.0
    for flaw, p in zip(flaws, probs, strict=True):
        acc += p * scale
        if u < acc:
            return flaw
    return None


class CapabilityDice:
    """Seeded generators for capability draws, one stream per endpoint, by request index (apart
    from the request plan's generator, so adding a capability leaves timing draws unchanged)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._count: Counter[tuple[str, str]] = Counter()

    def rng(self, provider: str, model: str) -> random.Random:
        """The generator of the next request to (provider, model)."""
        index = self._count[(provider, model)]
        self._count[(provider, model)] += 1
        return random.Random(f"{self.seed}:{provider}:{model}:{index}:capability")
