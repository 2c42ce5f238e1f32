"""Assemble a non-streaming ``chat.completion`` from OpenAI stream chunks (pure).

The router always streams from upstream, so TTFT, the first-token deadline and fallback work the
same for apps that did not ask for a stream."""

from __future__ import annotations

import time
from typing import Any


class CompletionBuilder:
    """Fold chunks in; ``result()`` is the completion object."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = "chatcmpl-sbx"
        self.created = int(time.time())
        self.choices: dict[int, dict[str, Any]] = {}
        self.usage: dict[str, Any] | None = None

    def add(self, chunk: dict[str, Any]) -> None:
        """Fold one parsed chunk."""
        self.id = chunk.get("id") or self.id
        self.created = chunk.get("created") or self.created
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for c in chunk.get("choices") or ():
            index = c.get("index", 0)
            slot = self.choices.setdefault(
                index,
                {
                    "content": [],
                    "reasoning": [],
                    "refusal": [],
                    "tools": {},
                    "finish": None,
                    "role": "assistant",
                },
            )
            delta = c.get("delta") or {}
            if delta.get("content"):
                slot["content"].append(delta["content"])
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                slot["reasoning"].append(reasoning)
            if delta.get("refusal"):  # OpenAI's structured refusal, kept for the app and routes
                slot["refusal"].append(delta["refusal"])
            for tc in delta.get("tool_calls") or ():
                call = slot["tools"].setdefault(
                    tc.get("index", 0),
                    {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
                )
                if tc.get("id"):
                    call["id"] = tc["id"]
                if tc.get("extra_content"):  # e.g. a Gemini thought signature, needed next turn
                    call["extra_content"] = tc["extra_content"]
                fn = tc.get("function") or {}
                call["function"]["name"] += fn.get("name") or ""
                call["function"]["arguments"] += fn.get("arguments") or ""
            if c.get("finish_reason"):
                slot["finish"] = c["finish_reason"]

    def result(self) -> dict[str, Any]:
        """The ``chat.completion`` object."""
        choices = []
        for index in sorted(self.choices):
            slot = self.choices[index]
            content: str | None = "".join(slot["content"])
            if not content and slot["tools"]:
                content = None  # as OpenAI answers a tools-only message
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if slot["reasoning"]:
                message["reasoning_content"] = "".join(slot["reasoning"])
            if slot["refusal"]:
                message["refusal"] = "".join(slot["refusal"])
            if slot["tools"]:
                message["tool_calls"] = [slot["tools"][i] for i in sorted(slot["tools"])]
            choices.append(
                {"index": index, "message": message, "finish_reason": slot["finish"] or "stop"}
            )
        out: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.usage:
            out["usage"] = self.usage
        return out
