"""Drive the benchmark's request stream through LiteLLM's Router (latency-based routing).

Runs inside its own virtualenv holding litellm (bench_routing.py creates it), so it imports only
the standard library and litellm. Reads a JSON job on argv[1], writes JSON results to argv[2].
Each result: sent_s, provider, ok, ttft_ms, tps, output_tokens, input_tokens, cost_usd, error.
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


async def drive(job: dict) -> list[dict]:
    """Send the job's schedule through a LiteLLM Router; one result dict per request."""
    import litellm
    from litellm import Router

    litellm.suppress_debug_info = True
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

    async def one(plan: dict, sent_s: float) -> None:
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
            results.append(
                {"sent_s": sent_s, "provider": provider, "ok": False, "error": type(exc).__name__}
            )
            return
        if first is None:
            results.append({"sent_s": sent_s, "provider": provider, "ok": False, "error": "empty"})
            return
        out = usage_out or chunks
        target = next((t for t in job["targets"] if t["provider"] == provider), None)
        cost = 0.0
        if target:
            cost = (usage_in * target["price_in"] + out * target["price_out"]) / 1e6
        results.append(
            {
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
        )

    # Warm-up outside the measured stream (imports, tokenizer fallback, connection pools).
    for _ in job["targets"]:
        stream = await router.acompletion(
            model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=4, stream=True
        )
        async for _chunk in stream:
            pass
    # the stream starts when every other policy's does (the job says when, in epoch seconds)
    t0 = time.monotonic() + max(float(job.get("start_at_epoch", 0)) - time.time(), 0.0)
    tasks = []
    for plan in job["schedule"]:
        delay = t0 + plan["at_s"] - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(plan, time.monotonic() - t0)))
    await asyncio.gather(*tasks)
    return results


if __name__ == "__main__":
    job = json.loads(Path(sys.argv[1]).read_text())
    Path(sys.argv[2]).write_text(json.dumps(asyncio.run(drive(job))))
