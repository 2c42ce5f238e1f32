"""The simulator's dialects, one per wire protocol of ``signalbox.protocols``, by protocol name."""

from __future__ import annotations

from signalbox.simulator.anthropic_dialect import AnthropicDialect
from signalbox.simulator.dialect import Dialect
from signalbox.simulator.gemini_dialect import GeminiDialect
from signalbox.simulator.openai_dialect import OpenAIDialect

DIALECTS: dict[str, Dialect] = {
    d.name: d for d in (OpenAIDialect(), AnthropicDialect(), GeminiDialect())
}
