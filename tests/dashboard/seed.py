"""Seed a store for dashboard tests: a synced catalog, a day of synthetic observations in which the
fastest provider changes, firing and resolved alerts, and routing decisions."""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert

from signalbox.catalog import parse_catalog
from signalbox.rollup import run_rollups
from signalbox.schema import Alert, Decision, Observation, RouteDecision
from signalbox.sync import sync_catalog

MODEL = "llama-3.1-70b"
OTHER_MODEL = "qwen-2.5-72b"
# provider -> (tps base, phase of its daily cycle in hours, ttft_ms base, error rate)
PROFILES = {
    "alpha": (90.0, 0.0, 320.0, 0.01),
    "bravo": (85.0, 8.0, 260.0, 0.03),
    "charlie": (80.0, 16.0, 410.0, 0.08),
}
SILENT_PROVIDER = "delta"  # has an endpoint for MODEL but never any observation

CATALOG_TOML = """
[[provider]]
name = "alpha"
base_url = "http://127.0.0.1:9/alpha/v1"
api_key_env = "ALPHA_SECRET_KEY"

[[provider]]
name = "bravo"
base_url = "http://127.0.0.1:9/bravo/v1"
api_key_env = "BRAVO_SECRET_KEY"

[[provider]]
name = "charlie"
base_url = "http://127.0.0.1:9/charlie"
api = "anthropic"

[[provider]]
name = "delta"
base_url = "http://127.0.0.1:9/delta/v1"

[[model]]
name = "llama-3.1-70b"
[[model.endpoint]]
provider = "alpha"
upstream_model = "meta-llama/llama-3.1-70b"
price_input_per_mtok = 0.6
price_output_per_mtok = 0.8
[[model.endpoint]]
provider = "bravo"
upstream_model = "llama-3.1-70b-instruct"
price_input_per_mtok = 0.5
price_output_per_mtok = 0.9
[[model.endpoint]]
provider = "charlie"
upstream_model = "llama3-70b"
price_input_per_mtok = 0.4
price_output_per_mtok = 0.7
[[model.endpoint]]
provider = "delta"
upstream_model = "llama-70b"
price_input_per_mtok = 0.3
price_output_per_mtok = 0.5

[[model]]
name = "qwen-2.5-72b"
[[model.endpoint]]
provider = "alpha"
upstream_model = "qwen/qwen-2.5-72b"
price_input_per_mtok = 0.35
price_output_per_mtok = 0.4
[[model.endpoint]]
provider = "bravo"
upstream_model = "qwen2.5-72b"
price_input_per_mtok = 0.3
price_output_per_mtok = 0.45

[[webhook]]
name = "ops"
url = "https://hooks.example.invalid/T000/SECRET-WEBHOOK-TOKEN"
"""


PRICES = {
    (ref.provider.name, ref.model): (ref.spec.price_input_per_mtok, ref.spec.price_output_per_mtok)
    for ref in parse_catalog(CATALOG_TOML).endpoints()
}


@dataclass(frozen=True, slots=True)
class Seeded:
    """What was seeded: endpoint ids by (provider, model) and the reference time."""

    endpoint_ids: dict[tuple[str, str], int]
    now: datetime
    observations: int


def tps_at(provider: str, ts: datetime) -> float:
    """The synthetic true tps of ``provider`` at ``ts``: a daily cycle, so the best one changes."""
    base, phase_h, _, _ = PROFILES[provider]
    hours = ts.timestamp() / 3600.0
    return base + 25.0 * math.sin(2 * math.pi * (hours - phase_h) / 24.0)


def observation_rows(
    endpoint_ids: dict[tuple[str, str], int],
    now: datetime,
    *,
    hours: float = 24.0,
    step_s: float = 60.0,
    seed: int = 7,
) -> list[dict]:
    """Synthetic raw rows for every seeded endpoint but the silent one, ending at ``now``."""
    rng = random.Random(seed)
    rows: list[dict] = []
    count = int(hours * 3600 / step_s)
    for (provider, model), endpoint_id in sorted(endpoint_ids.items()):
        if provider not in PROFILES:
            continue
        _, _, ttft_base, err = PROFILES[provider]
        price_in, price_out = PRICES[(provider, model)]
        for i in range(count):
            ts = now - timedelta(seconds=i * step_s + rng.uniform(0, step_s / 2))
            source = "probe" if i % 3 else "traffic"
            ok = rng.random() >= err
            tps = tps_at(provider, ts) * rng.uniform(0.93, 1.07)
            out = rng.randint(180, 260) if ok else 0
            rows.append(
                {
                    "uid": uuid.uuid4(),
                    "endpoint_id": endpoint_id,
                    "ts": ts,
                    "source": source,
                    "ok": ok,
                    "error_class": None if ok else "http_5xx",
                    "http_status": 200 if ok else 503,
                    "ttft_ms": ttft_base * rng.lognormvariate(0, 0.25) if ok else None,
                    "tps": tps if ok else None,
                    "e2e_ms": (ttft_base + out / tps * 1000) if ok else None,
                    "input_tokens": 40,
                    "output_tokens": out,
                    "cost_usd": (40 * price_in + out * price_out) / 1e6 if ok else None,
                    "tokens_estimated": False,
                    "probe_shape": "short" if source == "probe" else None,
                }
            )
    return rows


def seed_store(engine: Engine, now: datetime, *, hours: float = 24.0) -> Seeded:
    """Sync the catalog and insert observations, rollups, alerts and decisions ending at ``now``."""
    report = sync_catalog(engine, parse_catalog(CATALOG_TOML))
    ids = report.endpoint_ids
    rows = observation_rows(ids, now, hours=hours)
    decisions = decision_rows(ids, now, hours=hours)
    with engine.begin() as conn:
        for i in range(0, len(rows), 2000):
            conn.execute(insert(Observation.__table__), rows[i : i + 2000])
        conn.execute(insert(Alert.__table__), alert_rows(ids, now))
        if decisions:
            conn.execute(insert(Decision.__table__), decisions)
    insert_route_decisions(engine, route_decision_rows(now, hours=hours, step_s=300.0))
    run_rollups(engine, now)
    return Seeded(endpoint_ids=ids, now=now, observations=len(rows))


def alert_rows(ids: dict[tuple[str, str], int], now: datetime) -> list[dict]:
    """One firing alert (charlie's error rate) and two resolved ones."""

    def alert(provider: str, rule: str, start_h: float, end_h: float | None, **kw) -> dict:
        started = now - timedelta(hours=start_h)
        return {
            "rule": rule,
            "endpoint_id": ids[(provider, MODEL)],
            "state": "firing" if end_h is None else "resolved",
            "severity": kw.get("severity", "warning"),
            "started_at": started,
            "firing_at": started + timedelta(minutes=2),
            "resolved_at": None if end_h is None else now - timedelta(hours=end_h),
            "value": kw.get("value"),
            "threshold": kw.get("threshold"),
            "reason": kw.get("reason"),
            "notified_firing": True,
            "notified_resolved": end_h is not None,
        }

    return [
        alert(
            "charlie",
            "high-error-rate",
            0.75,
            None,
            value=0.08,
            threshold=0.05,
            severity="critical",
            reason="error rate 8.0% > 5.0% for 2m",
        ),
        alert(
            "bravo",
            "ttft-regression",
            9.0,
            8.2,
            value=2.1,
            threshold=1.5,
            reason="TTFT p50 2.1x its baseline",
        ),
        alert("alpha", "no-data", 20.0, 19.5, threshold=600, reason="no successful observation"),
    ]


def decision_rows(
    ids: dict[tuple[str, str], int], now: datetime, *, hours: float, step_s: float = 300.0
) -> list[dict]:
    """Decisions every ``step_s``, with reasons worded as the router words them: the fastest
    provider by the synthetic truth for throughput, bravo for latency, now and then exploring."""
    rows = []
    for i in range(int(hours * 3600 / step_s)):
        ts = now - timedelta(seconds=step_s * i)
        best = max(PROFILES, key=lambda p: tps_at(p, ts))
        objective = "throughput" if i % 4 else "latency"
        if objective == "latency":
            best = "bravo"
            reason = (
                f"bravo: best for latency (ttft p50 {PROFILES['bravo'][2]:.0f} ms, p_success 0.97)"
            )
        elif i % 7:
            reason = f"{best}: best for throughput (tps p50 {tps_at(best, ts):.0f}, p_success 0.99)"
        else:
            reason = f"{best}: exploring, few samples (W={1 + i % 3:.1f})"
        rows.append(
            {
                "ts": ts,
                "model": MODEL,
                "objective": objective,
                "endpoint_id": ids[(best, MODEL)],
                "reason": reason,
                "ranking": [{"provider": best, "score": 1.0}],
                "source": "route",
            }
        )
    return rows


def seed_fresh_store(engine: Engine, now: datetime, *, minutes: float = 3.0) -> Seeded:
    """A store as a fresh install leaves it after a few minutes: observations every 5 s per
    endpoint and decisions every 2 s, rolled up; no alert yet."""
    report = sync_catalog(engine, parse_catalog(CATALOG_TOML))
    ids = report.endpoint_ids
    rows = observation_rows(ids, now, hours=minutes / 60, step_s=5.0)
    decisions = decision_rows(ids, now, hours=minutes / 60, step_s=2.0)
    with engine.begin() as conn:
        conn.execute(insert(Observation.__table__), rows)
        conn.execute(insert(Decision.__table__), decisions)
    insert_route_decisions(engine, route_decision_rows(now, hours=minutes / 60, step_s=3.0))
    run_rollups(engine, now)
    return Seeded(endpoint_ids=ids, now=now, observations=len(rows))


ROUTES = ["extract", "support"]  # routes of the seeded route decisions, sorted


def route_decision_rows(now: datetime, *, hours: float, step_s: float = 30.0) -> list[dict]:
    """Routed requests every ``step_s`` for two routes: mostly the small default answers; now and
    then a trigger escalates to the large model (10x the price), and rarely everything fails."""
    rng = random.Random(11)
    triggers = (
        ("finish_length", "finish reason length after 256 tokens"),
        ("invalid_json", "response_format json_object, the answer is not JSON"),
        ("failure", "every provider of small failed: http_5xx"),
    )
    rows = []
    for i in range(int(hours * 3600 / step_s)):
        for route in ROUTES:
            ts = now - timedelta(seconds=step_s * i + rng.uniform(0, step_s / 2))
            draw = rng.random()
            trigger = detail = None
            if draw < 0.03:
                outcome, path, final = "failed", ["small", "large"], None
            elif draw < (0.25 if route == "extract" else 0.12):
                trigger, detail = triggers[rng.randrange(len(triggers))]
                outcome, path, final = "escalated", ["small", "large"], "large"
            else:
                outcome, path, final = "ok", ["small"], "small"
            cost = 0.0001 * (11 if final == "large" else 1)
            rows.append(
                {
                    "uid": uuid.uuid4(),
                    "ts": ts,
                    "route": route,
                    "objective": "balanced",
                    "path": path,
                    "trigger": trigger,
                    "trigger_detail": detail,
                    "attempts": [{"model": m, "provider": "alpha", "outcome": "ok"} for m in path],
                    "final_model": final,
                    "final_provider": "alpha" if final else None,
                    "outcome": outcome,
                    "input_tokens": 40,
                    "output_tokens": 200 if final else 0,
                    "cost_usd": cost,
                    "latency_ms": 900.0 if final == "large" else 400.0,
                    "ttft_ms": 250.0 if final else None,
                    "stream": i % 2 == 0,
                    "buffered": False,
                    "prompt_tokens_estimated": True,
                }
            )
    return rows


def insert_route_decisions(engine: Engine, rows: list[dict]) -> None:
    """Write seeded route decisions."""
    with engine.begin() as conn:
        for i in range(0, len(rows), 2000):
            conn.execute(insert(RouteDecision.__table__), rows[i : i + 2000])
