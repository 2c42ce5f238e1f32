"""``signalbox demo``: the whole product on the embedded SQLite with the simulated provider fleet.

Like the rest of ``signalbox.cli`` this is a composition root, not core logic: it starts each service as its own
process (simulator, probe scheduler, router, dashboard), so that each keeps its own event loop, then
drives light traffic through the router with the official openai SDK until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

MARKER = ".signalbox-demo"
# A route across the demo's models (issue #18): the cheap open 70B model answers JSON requests,
# Gemini takes over when the answer fails its checks (the scenario gives Llama flaws on hard tasks), so the Routes page and the escalation
# alert have traffic to show. Left out when a custom scenario lacks either model.
DEMO_ROUTE = "assist"
DEMO_ROUTE_MODELS = ("llama-3.1-70b", "gemini-2.5-flash")
ROUTE_SHARE = 0.25  # of the demo's requests go to the route
HARD_SHARE = 0.2  # of those carry a hard task (a long document), which the cheap model fumbles
HARD_DOCUMENT = "Ada lived in London, England, then moved to Lyon, France. " * 64  # ~3,800 chars


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``signalbox demo``."""
    parser.add_argument("--host", default="127.0.0.1", help="address every service listens on")
    parser.add_argument("--router-port", type=int, default=8700)
    parser.add_argument("--dashboard-port", type=int, default=8050)
    parser.add_argument("--simulator-port", type=int, default=8701)
    parser.add_argument("--scenario", default="demo", help="simulator scenario (default demo)")
    parser.add_argument("--rps", type=float, default=3.0, help="demo traffic, requests per second")
    parser.add_argument(
        "--duration", type=float, help="stop by itself after this many seconds (default: Ctrl-C)"
    )
    parser.add_argument(
        "--probe-interval", type=float, default=5.0, help="seconds between probes of an endpoint"
    )


@dataclass
class Service:
    """One child process and its log file."""

    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.log is not None:
            self.log.close()


class DemoError(Exception):
    """The demo cannot start; the message says why and what to do."""


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _fresh_data_dir(path: Path) -> Path:
    """Empty ``path`` for a new demo run; refuse to wipe a directory the demo did not create."""
    if path.exists() and any(path.iterdir()):
        if not (path / MARKER).exists():
            raise DemoError(f"{path} is not empty and not a demo directory; choose --data-dir")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("created by signalbox demo\n")
    (path / "logs").mkdir()
    return path


def _wait_http(url: str, deadline_s: float, service: Service) -> None:
    import httpx

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if not service.alive():
            raise DemoError(f"{service.name} exited during start-up; see {service.log_path}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise DemoError(
        f"{service.name} did not answer {url} within {deadline_s:.0f}s; see {service.log_path}"
    )


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "signalbox.cli", *args]


def run(args: argparse.Namespace, settings: Any) -> int:
    """Start everything, print the URLs, drive traffic, stop everything on Ctrl-C."""
    from signalbox import migrate
    from signalbox.catalog import load_catalog
    from signalbox.db import make_engine
    from signalbox.simulator.catalog import api_key_environment, catalog_toml
    from signalbox.simulator.scenario import ScenarioError, load_scenario
    from signalbox.sync import sync_catalog

    host = args.host
    ports = {
        "router": args.router_port,
        "dashboard": args.dashboard_port,
        "simulator": args.simulator_port,
    }
    for name, port in ports.items():
        if not _port_free(host, port):
            print(
                f"signalbox demo: port {port} ({name}) is in use; pass --{name}-port",
                file=sys.stderr,
            )
            return 2
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"signalbox demo: {exc}".splitlines()[0], file=sys.stderr)
        return 2
    data_dir = _fresh_data_dir((settings.data_dir / "demo").resolve())
    sim_url = f"http://{host}:{ports['simulator']}"
    router_url = f"http://{host}:{ports['router']}"
    dashboard_url = f"http://{host}:{ports['dashboard']}"
    catalog_path = data_dir / "catalog.toml"
    catalog_text = catalog_toml(
        scenario, sim_url, probe_interval_s=args.probe_interval, probe_jitter_s=1.0
    )
    catalog_path.write_text(
        catalog_text + route_toml({m.model for p in scenario.providers for m in p.models})
    )
    db_url = f"sqlite:///{data_dir / 'signalbox.db'}"
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        sync_catalog(engine, load_catalog(catalog_path))
    finally:
        engine.dispose()

    env = dict(os.environ)
    env.update(api_key_environment(scenario))
    env.update(
        SIGNALBOX_DATABASE_URL=db_url,
        SIGNALBOX_CATALOG=str(catalog_path),
        SIGNALBOX_DATA_DIR=str(data_dir),
        SIGNALBOX_SIMULATOR_URL=sim_url,
        SIGNALBOX_ROUTER_URL=router_url,
        SIGNALBOX_API_KEYS="",
        PYTHONUNBUFFERED="1",
    )
    logs = data_dir / "logs"
    services = [
        Service(
            "simulator",
            _cli(
                "simulate",
                "--scenario",
                args.scenario,
                "--host",
                host,
                "--port",
                str(ports["simulator"]),
            ),
            logs / "simulator.log",
        ),
        # Short alert interval: the demo's outage should fire and resolve within its first minutes.
        Service("probe", _cli("probe", "--alert-interval", "5"), logs / "probe.log"),
        Service(
            "router",
            _cli("router", "--host", host, "--port", str(ports["router"])),
            logs / "router.log",
        ),
        Service(
            "dashboard",
            _cli("dashboard", "--host", host, "--port", str(ports["dashboard"])),
            logs / "dashboard.log",
        ),
    ]
    try:
        services[0].start(env)
        _wait_http(f"{sim_url}/truth", 30, services[0])
        for service in services[1:]:
            service.start(env)
        _wait_http(f"{router_url}/healthz", 60, services[2])
        _wait_http(f"{dashboard_url}/", 90, services[3])
        models = scenario_models(catalog_path)
        model = models[0]
        print(
            f"\nSignalbox demo is running (data in {data_dir}).\n"
            f"  dashboard  {dashboard_url}/\n"
            f"  router     {router_url}   (OpenAI-compatible: {router_url}/v1)\n"
            f"  simulator  {sim_url}   (ground truth: {sim_url}/truth)\n"
            f"  logs       {logs}/\n\n"
            f"Try:\n"
            f"  curl '{router_url}/v1/route?model={model}&sort=throughput'\n"
            f"  curl {router_url}/v1/chat/completions -H 'content-type: application/json' \\\n"
            f'    -d \'{{"model": "{model}@latency", "messages": '
            f'[{{"role": "user", "content": "hi"}}]}}\'\n\n'
            f"Ctrl-C stops everything.\n",
            flush=True,
        )
        routes = [DEMO_ROUTE] if set(DEMO_ROUTE_MODELS) <= set(models) else []
        asyncio.run(_drive(router_url, models, routes, args.rps, args.duration, services))
        return 0
    except DemoError as exc:
        print(f"signalbox demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        print("stopping...", flush=True)
        for service in reversed(services):
            service.stop()


def scenario_models(catalog_path: Path) -> list[str]:
    """The canonical model names of the demo catalog."""
    from signalbox.catalog import load_catalog

    return [m.name for m in load_catalog(catalog_path).models]


def route_toml(models: set[str]) -> str:
    """The demo's ``[[route]]`` for the catalog, or nothing when ``models`` lacks its models."""
    if not set(DEMO_ROUTE_MODELS) <= models:
        return ""
    default, large = DEMO_ROUTE_MODELS
    return (
        f'\n[[route]]\nname = "{DEMO_ROUTE}"\ndefault = "{default}"\nescalate = ["{large}"]\n'
        "buffer_for_validation = true\n\n[route.triggers]\nfinish_length = true\nempty = true\n"
        "refusal = true\ninvalid_json = true\nfailure = true\n"
    )


async def _drive(
    router_url: str,
    models: list[str],
    routes: list[str],
    rps: float,
    duration_s: float | None,
    services: list[Service],
) -> None:
    """Send ``rps`` streaming chat requests per second through the router until stopped; a share
    goes to ``routes`` asking for JSON, some of it hard."""
    from openai import APIError, AsyncOpenAI

    client = AsyncOpenAI(base_url=f"{router_url}/v1", api_key="demo", max_retries=0, timeout=30)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    objectives = ["", "@throughput", "@latency", "@e2e", "@cost", "@balanced"]
    rng = random.Random(7)
    inflight: set[asyncio.Task[None]] = set()
    counts = {"ok": 0, "error": 0}

    async def one() -> None:
        extra: dict[str, Any] = {}
        if routes and rng.random() < ROUTE_SHARE:
            model = rng.choice(routes)
            content = "Reply in JSON: the city and country of the Eiffel Tower."
            if rng.random() < HARD_SHARE:
                # Hard means a long document to read: the simulator derives difficulty from
                # prompt length on every protocol (metadata does not reach Anthropic's API).
                content = "Reply in JSON: every city and country named below.\n" + HARD_DOCUMENT
            extra = {"response_format": {"type": "json_object"}}
            max_tokens = 512  # room for a whole answer: `length` should mean a truncated one
        else:
            model = rng.choice(models) + rng.choice(objectives)
            content, max_tokens = "Tell me about routing.", rng.choice([32, 64, 128])
        try:
            stream = await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": content}],
                max_tokens=max_tokens,
                stream=True,
                **extra,
            )
            async for _ in stream:
                pass
            counts["ok"] += 1
        except APIError:
            counts["error"] += 1

    started = time.monotonic()
    next_report = started + 30
    try:
        while not stop.is_set():
            if duration_s is not None and time.monotonic() - started >= duration_s:
                break
            for service in services:
                if not service.alive():
                    raise DemoError(f"{service.name} stopped unexpectedly; see {service.log_path}")
            task = asyncio.create_task(one())
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            if time.monotonic() >= next_report:
                print(f"traffic: {counts['ok']} ok, {counts['error']} errors", flush=True)
                next_report += 30
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.expovariate(rps))
    finally:
        for task in inflight:
            task.cancel()
        await asyncio.gather(*inflight, return_exceptions=True)
        await client.close()
