"""Two ``signalbox router`` processes on one PostgreSQL (both following the store) rank the same
way, and within a second of each other once new observations land."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from signalbox.catalog import parse_catalog
from signalbox.db import make_engine
from signalbox.records import Observation, Source
from signalbox.sync import sync_catalog
from signalbox.writer import insert_observations
from tests.closed_catalog import closed_catalog_toml
from tests.fleet.procs import Service, poll, service_env, start_service

CATALOG_TOML = closed_catalog_toml(3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def store(db_url: str, ids: dict[str, int], ttft_ms: dict[str, float], n: int) -> None:
    """``n`` fresh probe observations per provider at the given TTFT."""
    now = datetime.now(UTC)
    rows = [
        Observation(
            endpoint_id=ids[provider],
            ts=now - timedelta(milliseconds=10 * i),
            source=Source.PROBE,
            ok=True,
            ttft_ms=ttft,
            tps=100.0,
            e2e_ms=ttft + 500,
        )
        for provider, ttft in ttft_ms.items()
        for i in range(n)
    ]
    engine = make_engine(db_url)
    try:
        insert_observations(engine, [row.to_row() for row in rows])
    finally:
        engine.dispose()


def order(client: httpx.Client, url: str) -> list[str] | None:
    """The deterministic part of a route decision: providers by descending score."""
    try:
        resp = client.get(f"{url}/v1/route", params={"model": "m", "sort": "latency"})
    except httpx.HTTPError:
        return None
    if resp.status_code != 200:
        return None
    ranking = resp.json()["ranking"]
    return [r["provider"] for r in sorted(ranking, key=lambda r: -r["score"])]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_routers_on_one_store_agree_on_the_ranking_within_a_second(
    fresh_pg_url: str, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(CATALOG_TOML)
    engine = make_engine(fresh_pg_url)
    try:
        report = sync_catalog(engine, parse_catalog(CATALOG_TOML))
    finally:
        engine.dispose()
    ids = {provider: eid for (provider, _model), eid in report.endpoint_ids.items()}
    store(fresh_pg_url, ids, {"p1": 100.0, "p2": 300.0, "p3": 600.0}, 20)

    services: list[Service] = []
    urls: list[str] = []
    try:
        # given two routers on one store, both warmed from it
        for name in ("a", "b"):
            port = free_port()
            env = service_env(fresh_pg_url, catalog, tmp_path / name, SIGNALBOX_API_KEYS="")
            args = ["router", "--host", "127.0.0.1", "--port", str(port)]
            services.append(start_service(f"router-{name}", args, env, tmp_path))
            urls.append(f"http://127.0.0.1:{port}")
        with httpx.Client(timeout=5) as client:
            before = ["p1", "p2", "p3"]
            for url in urls:
                poll(lambda url=url: order(client, url) == before, 60, f"{url} ranks {before}")

            # when new observations make p1 the slowest
            store(fresh_pg_url, ids, {"p1": 5000.0}, 300)

            # then both routers switch to the new order, within a second of each other
            after = ["p2", "p3", "p1"]
            seen: dict[str, float] = {}

            def both_switched() -> bool:
                for url in urls:
                    if url not in seen and order(client, url) == after:
                        seen[url] = time.monotonic()
                return len(seen) == 2

            poll(both_switched, 20, f"both routers rank {after}", every_s=0.02)
            assert abs(seen[urls[0]] - seen[urls[1]]) < 1.0
            assert [order(client, url) for url in urls] == [after, after]
    finally:
        for service in services:
            service.stop()
