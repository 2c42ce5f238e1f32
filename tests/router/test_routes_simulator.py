"""End to end on the simulator's capability: a small model that fails hard requests (truncated,
refused, invalid JSON) behind a route to a large one. Hard requests escalate and every answer
served is valid JSON; easy ones stay on the small model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from signalbox.catalog import parse_catalog
from signalbox.simulator.catalog import catalog_toml
from signalbox.simulator.scenario import parse_scenario
from signalbox.simulator.testing import SimulatorThread
from tests.router.conftest import answer_text, running_router

SCENARIO = """
name = "routes-capability"
seed = 18
[defaults]
ttft_median_ms = 1.0
ttft_sigma = 0.0
tps = 50000.0
output_tokens_median = 20
output_tokens_sigma = 0.2
[[provider]]
name = "cheap"
dialect = "openai"
[[provider.model]]
model = "small"
capability = { truncated = [0.0, 0.3], refused = [0.0, 0.2], invalid_json = [0.0, 0.5] }
[[provider]]
name = "strong"
dialect = "openai"
[[provider.model]]
model = "large"
"""
ROUTE = """
[[route]]
name = "extract"
default = "small"
escalate = ["large"]
buffer_for_validation = true
[route.triggers]
finish_length = true
refusal = true
invalid_json = true
empty = true
"""


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(parse_scenario(SCENARIO)) as running:
        yield running


async def _ask(http: httpx.AsyncClient, difficulty: str, stream: bool) -> tuple[str, str]:
    body = {
        "model": "extract",
        "messages": [{"role": "user", "content": "Name and city of: Ada, London. JSON."}],
        "response_format": {"type": "json_object"},
        "metadata": {"difficulty": difficulty},
        "stream": stream,
    }
    response = await http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    text = answer_text(response, stream)
    assert isinstance(orjson.loads(text), dict), text  # every answer served is a JSON object
    return response.headers["x-signalbox-path"], response.headers["x-signalbox-trigger"]


async def test_hard_requests_escalate_and_every_served_answer_is_json(
    sim: SimulatorThread, tmp_path: Path
) -> None:
    catalog = parse_catalog(catalog_toml(sim.scenario, sim.base_url) + ROUTE)
    async with (
        running_router(tmp_path, catalog, sim) as router,
        httpx.AsyncClient(base_url=router.url, timeout=30) as http,
    ):
        hard = Counter()
        for i in range(30):
            path, trigger = await _ask(http, "1", stream=i % 2 == 1)
            hard[trigger] += 1
            assert path == ("small" if trigger == "none" else "small,large")
        easy = Counter([(await _ask(http, "0", stream=False))[1] for _ in range(10)])
    assert hard["none"] < 30 and set(hard) <= {"none", "finish_length", "refusal", "invalid_json"}
    assert len(set(hard) - {"none"}) >= 2  # more than one kind of flaw was caught
    assert easy == Counter({"none": 10})
