"""The simulated provider fleet: pretends to be LLM providers, offline and on purpose.

One aiohttp server hosts many virtual providers speaking the OpenAI chat-completions, Anthropic
messages and Gemini generateContent dialects (one per wire protocol, ``dialects``), with paced SSE
streaming. A seeded TOML scenario sets each provider's
TTFT, tokens/s, prices, error mix, daily cycle, scheduled outages and degradations and capacity;
``GET /truth`` tells tests and benchmarks the true parameters at any time and ``POST /admin/fault``
breaks a provider on demand. Used by the demo, the tests and every benchmark.
"""
