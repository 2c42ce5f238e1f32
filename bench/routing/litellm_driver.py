"""Drive the benchmark's request stream through LiteLLM's Router (latency-based routing).

Runs inside its own virtualenv holding litellm (bench_routing.py creates it), so it imports only
the standard library and litellm. Reads a JSON job on argv[1], writes JSON results to argv[2].
Each result: sent_s, provider, ok, ttft_ms, tps, output_tokens, input_tokens, cost_usd, error,
tried (the provider of every attempt, in order: LiteLLM's pre-call callback, one per retry or
fallback, matched to the request by metadata).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

# Loopback only: LiteLLM otherwise fetches a price map and a tokenizer from the internet at start.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_TELEMETRY", "False")
GRACE_S = 30.0


def attempt_log(targets: list[dict]):  # type: ignore[no-untyped-def]
    """A LiteLLM callback recording each attempt's provider per request (``bench_i`` metadata)."""
    from litellm.integrations.custom_logger import CustomLogger

    class AttemptLog(CustomLogger):
        def __init__(self) -> None:
            super().__init__()
            self.tried: dict[int, list[str]] = {}

        def log_pre_api_call(self, model, messages, kwargs) -> None:  # type: ignore[no-untyped-def]
            params = kwargs.get("litellm_params") or {}
            meta = params.get("metadata") or {}
            i = meta.get("bench_i")
            base = str(params.get("api_base") or "")
            hits = [t for t in targets if base.startswith(t["base_url"])]
            if i is not None:
                name = max(hits, key=lambda t: len(t["base_url"]))["provider"] if hits else "?"
                self.tried.setdefault(int(i), []).append(name)

    return AttemptLog()


async def drive(job: dict) -> list[dict]:
    """Send the job's schedule through a LiteLLM Router; one result dict per request."""
    import litellm
    from litellm import Router

    litellm.suppress_debug_info = True
    log = attempt_log(job["targets"])
    litellm.callbacks = [log]
    model = job["model"]
    by_base: dict[str, dict] = {}
    model_list = []
    for t in job["targets"]:
        prefix = "anthropic" if t["dialect"] == "anthropic" else "openai"
        params = {
            "model": f"{prefix}/{t['upstream_model']}",
            "api_base": t["base_url"],
            "api_key": t["api_key"] or "none",
            "stream_timeout": 30,
        }
        model_list.append({"model_name": model, "litellm_params": params})
        by_base[t["base_url"]] = t
    router = Router(
        model_list=model_list,
        routing_strategy="latency-based-routing",
        num_retries=2,
        timeout=30,
    )
    results = []

    async def one(i: int, plan: dict, sent_s: float) -> None:
        result = await _one(i, plan, sent_s)
        result["tried"] = log.tried.get(i)
        results.append(result)

    async def _one(i: int, plan: dict, sent_s: float) -> dict:
        start = time.perf_counter()
        first = last = None
        chunks = 0
        provider = None
        usage_in = usage_out = 0
        try:
            stream = await router.acompletion(
                model=model,
                messages=[{"role": "user", "content": job["prompt"]}],
                max_tokens=plan["max_tokens"],
                stream=True,
                stream_options={"include_usage": True},
                metadata={"bench_i": i},
            )
            hidden = getattr(stream, "_hidden_params", {}) or {}
            base = hidden.get("api_base")
            provider = by_base.get(base, {}).get("provider") if base else None
            async for chunk in stream:
                choices = getattr(chunk, "choices", None) or []
                text = "".join((c.delta.content or "") for c in choices if c.delta)
                usage = getattr(chunk, "usage", None)
                if usage:
                    usage_in = usage.prompt_tokens or usage_in
                    usage_out = usage.completion_tokens or usage_out
                if text:
                    now = time.perf_counter()
                    first = first or now
                    last = now
                    chunks += 1
        except Exception as exc:  # any failure counts as an error, as the app sees it
            return {
                "sent_s": sent_s,
                "provider": provider,
                "ok": False,
                "error": type(exc).__name__,
            }
        if first is None:
            return {"sent_s": sent_s, "provider": provider, "ok": False, "error": "empty"}
        out = usage_out or chunks
        target = next((t for t in job["targets"] if t["provider"] == provider), None)
        cost = 0.0
        if target:
            cost = (usage_in * target["price_in"] + out * target["price_out"]) / 1e6
        return {
            "sent_s": sent_s,
            "provider": provider,
            "ok": True,
            "ttft_ms": (first - start) * 1000,
            "tps": (out - 1) / (last - first) if last > first and out > 1 else None,
            "output_tokens": out,
            "input_tokens": usage_in,
            "cost_usd": cost,
            "error": None,
        }

    # Warm-up outside the measured stream (imports, tokenizer fallback, connection pools).
    for _ in job["targets"]:
        stream = await router.acompletion(
            model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=4, stream=True
        )
        async for _chunk in stream:
            pass
    # the stream starts when every other policy's does (the job says when, in epoch seconds)
    t0 = time.monotonic() + max(float(job.get("start_at_epoch", 0)) - time.time(), 0.0)
    tasks, sent = [], {}
    for i, plan in enumerate(job["schedule"]):
        delay = t0 + plan["at_s"] - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        sent_s = time.monotonic() - t0
        task = asyncio.create_task(one(i, plan, sent_s))
        tasks.append(task)
        sent[task] = sent_s
    # the stream's requests get GRACE_S after the last one is sent; one still open then (LiteLLM
    # queued behind its own retries) counts as failed, as it would for an app with a deadline
    _, pending = await asyncio.wait(tasks, timeout=GRACE_S)
    for task in pending:
        task.cancel()
        results.append({"sent_s": sent[task], "provider": None, "ok": False, "error": "unfinished"})
    return results


if __name__ == "__main__":
    job = json.loads(Path(sys.argv[1]).read_text())
    Path(sys.argv[2]).write_text(json.dumps(asyncio.run(drive(job))))
