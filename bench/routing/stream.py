"""The seeded request stream, and one measured streaming request in either dialect (httpx)."""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass

import httpx

PROMPT = "Summarise the history of routing tables in a few paragraphs."


@dataclass(frozen=True, slots=True)
class Planned:
    """One request of the stream: when (seconds after the run starts) and how long an answer."""

    at_s: float
    max_tokens: int


def schedule(seed: int, rps: float, duration_s: float) -> list[Planned]:
    """A Poisson stream of ``rps`` requests per second for ``duration_s``; same seed, same stream."""
    rng = random.Random(seed)
    out, t = [], 0.0
    while True:
        t += rng.expovariate(rps)
        if t >= duration_s:
            return out
        out.append(Planned(round(t, 4), rng.choice([64, 128, 256])))


@dataclass(frozen=True, slots=True)
class Target:
    """Where a direct request goes."""

    provider: str
    dialect: str  # openai | anthropic
    base_url: str  # as in the catalog: OpenAI's includes /v1
    upstream_model: str
    api_key: str | None
    price_in: float
    price_out: float


@dataclass
class Result:
    """What one request delivered, as the app saw it."""

    sent_s: float
    provider: str | None
    ok: bool
    ttft_ms: float | None = None
    tps: float | None = None
    output_tokens: int = 0
    input_tokens: int = 0
    cost_usd: float = 0.0
    error: str | None = None
    tried: list[str] | None = None  # every attempt's provider in order (None: not known)

    def to_json(self) -> dict:
        """A JSON-safe dict."""
        return asdict(self)


def _openai_request(model: str, max_tokens: int) -> dict:
    return {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def send(
    client: httpx.AsyncClient,
    url: str,
    body: dict,
    headers: dict[str, str],
    dialect: str,
    sent_s: float,
    provider: str | None,
) -> Result:
    """POST a streaming request and measure TTFT (first content), decode tps and tokens; the
    attempts are the router's ``x-signalbox-tried``, else the one provider it was sent to."""
    seen: dict[str, str] = {}
    result = await _measure(client, url, body, headers, dialect, sent_s, provider, seen)
    if "tried" in seen:
        result.tried = seen["tried"].split(",")
    elif result.provider:
        result.tried = [result.provider]
    return result


async def _measure(
    client: httpx.AsyncClient, url: str, body: dict, headers: dict[str, str], dialect: str,
    sent_s: float, provider: str | None, seen: dict[str, str],
) -> Result:  # fmt: skip
    start = time.perf_counter()
    first = last = None
    chunks = 0
    usage_in = usage_out = 0
    done = False
    try:
        async with client.stream("POST", url, json=body, headers=headers) as resp:
            provider = resp.headers.get("x-signalbox-provider", provider)
            if "x-signalbox-tried" in resp.headers:
                seen["tried"] = resp.headers["x-signalbox-tried"]
            if resp.status_code != 200:
                await resp.aread()
                return Result(sent_s, provider, False, error=f"http_{resp.status_code}")
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    break
                event = json.loads(data)
                if "error" in event and dialect == "openai":
                    return Result(sent_s, provider, False, error="stream_error")
                text = ""
                if dialect == "openai":
                    for choice in event.get("choices") or []:
                        text += (choice.get("delta") or {}).get("content") or ""
                    if event.get("usage"):
                        usage_in = event["usage"].get("prompt_tokens", 0)
                        usage_out = event["usage"].get("completion_tokens", 0)
                else:
                    kind = event.get("type")
                    if kind == "content_block_delta":
                        text = (event.get("delta") or {}).get("text") or ""
                    elif kind == "message_start":
                        usage_in = event["message"]["usage"].get("input_tokens", 0)
                    elif kind == "message_delta":
                        usage_out = (event.get("usage") or {}).get("output_tokens", usage_out)
                    elif kind == "message_stop":
                        done = True
                    elif kind == "error":
                        return Result(sent_s, provider, False, error="stream_error")
                if text:
                    now = time.perf_counter()
                    first = first or now
                    last = now
                    chunks += 1
    except httpx.TimeoutException:
        return Result(sent_s, provider, False, error="timeout")
    except (httpx.HTTPError, json.JSONDecodeError) as exc:
        return Result(sent_s, provider, False, error=type(exc).__name__)
    if not done or first is None:
        return Result(sent_s, provider, False, error="truncated" if first else "empty")
    out = usage_out or chunks
    tps = (out - 1) / (last - first) if last and last > first and out > 1 else None
    return Result(
        sent_s,
        provider,
        True,
        ttft_ms=(first - start) * 1000,
        tps=tps,
        output_tokens=out,
        input_tokens=usage_in,
    )


async def send_direct(
    client: httpx.AsyncClient, target: Target, plan: Planned, sent_s: float
) -> Result:
    """Send one planned request straight to a provider endpoint of the simulator."""
    if target.dialect == "anthropic":
        url = f"{target.base_url}/v1/messages"
        headers = {"anthropic-version": "2023-06-01"}
        if target.api_key:
            headers["x-api-key"] = target.api_key
        body = {
            "model": target.upstream_model,
            "max_tokens": plan.max_tokens,
            "messages": [{"role": "user", "content": PROMPT}],
            "stream": True,
        }
    else:
        url = f"{target.base_url}/chat/completions"
        headers = {"authorization": f"Bearer {target.api_key}"} if target.api_key else {}
        body = _openai_request(target.upstream_model, plan.max_tokens)
    result = await send(client, url, body, headers, target.dialect, sent_s, target.provider)
    result.cost_usd = (
        result.input_tokens * target.price_in + result.output_tokens * target.price_out
    ) / 1e6
    return result


async def send_router(
    client: httpx.AsyncClient, router_url: str, model: str, plan: Planned, sent_s: float
) -> Result:
    """Send one planned request through the Signalbox router."""
    body = _openai_request(model, plan.max_tokens)
    return await send(client, f"{router_url}/v1/chat/completions", body, {}, "openai", sent_s, None)
