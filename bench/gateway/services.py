"""The processes the gateway benchmark starts: simulator, Signalbox router and LiteLLM's proxy.

Each runs in its own session (process group) so that stopping it also stops anything it spawned;
every one listens on 127.0.0.1 only and logs to a file in the benchmark's temp dir.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LITELLM_VENV = ROOT / ".bench-venvs" / "litellm-proxy"
MODEL = "bench-model"

# A steady, error-free fleet: three OpenAI-dialect providers of one model, TTFT ~200 ms with little
# spread, 100 tokens/s, answers long enough that max_tokens always bounds them, no capacity limit
# in reach, no events and no daily cycle.
SCENARIO_TOML = f"""
name = "bench-gateway"
description = "Steady, error-free fleet for the gateway-overhead benchmark."
seed = 7
[defaults]
ttft_median_ms = 200.0
ttft_sigma = 0.02
tps = 100.0
output_tokens_median = 4000
output_tokens_sigma = 0.0
price_input_per_mtok = 0.5
price_output_per_mtok = 1.0

[[provider]]
name = "alpha"
dialect = "openai"
api_key = "sk-sim-alpha"
capacity = 100000
[[provider.model]]
model = "{MODEL}"
upstream = "alpha/bench-model-v1"

[[provider]]
name = "beta"
dialect = "openai"
api_key = "sk-sim-beta"
capacity = 100000
[[provider.model]]
model = "{MODEL}"
upstream = "beta-bench-model"

[[provider]]
name = "gamma"
dialect = "openai"
api_key = "sk-sim-gamma"
capacity = 100000
[[provider.model]]
model = "{MODEL}"
upstream = "gamma-bench-model"
"""

# Variables that would send a child to a database, a cache, a proxy or a real provider.
_DROPPED_ENV = {
    "DATABASE_URL", "DIRECT_URL", "DATABASE_HOST", "REDIS_HOST", "REDIS_URL", "REDIS_PORT",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
    "LITELLM_MASTER_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE",
    "SIGNALBOX_API_KEYS", "SIGNALBOX_CATALOG", "SIGNALBOX_DATABASE_URL", "SIGNALBOX_DATA_DIR",
}  # fmt: skip

# LiteLLM fetches several catalogs from GitHub at import or startup unless told to use the copies
# it ships; telemetry is off by default since 1.107 and no endpoint is set.
LITELLM_OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
    "DISABLE_ADMIN_UI": "True",
    "LITELLM_MODE": "PRODUCTION",  # do not load a .env found above the install dir
    "LITELLM_LOG": "ERROR",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


class ServiceError(RuntimeError):
    """A benchmark service did not start; the message carries the tail of its log."""


@dataclass
class Service:
    """A started child process and where it logs."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        """The child's process id (also its process group id)."""
        return self.proc.pid

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the child's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM the child's process group, then SIGKILL it if it lingers."""
        if self.proc.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait_s)
                return
            except subprocess.TimeoutExpired:
                continue


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without anything that points outside, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update({"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    env.update(extra)
    return env


def start(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Service:
    """Start ``argv`` in its own session with stdout and stderr to ``log_dir/name.log``."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=log_dir,
        )
    return Service(name, proc, log_path)


def wait_ready(service: Service, url: str, timeout_s: float) -> None:
    """Poll ``url`` until it answers 200; fail early if the process exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if service.proc.poll() is not None:
            raise ServiceError(
                f"{service.name} exited with {service.proc.returncode}:\n{service.log_tail()}"
            )
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ServiceError(
        f"{service.name} not ready at {url} after {timeout_s:g}s:\n{service.log_tail()}"
    )


def signalbox_argv(*args: str) -> list[str]:
    """The ``signalbox`` console script of the running interpreter's environment."""
    script = Path(sys.executable).parent / "signalbox"
    if not script.exists():
        raise ServiceError(f"{script} not found: install the project into this virtualenv")
    return [str(script), *args]


def start_simulator(work: Path, port: int) -> Service:
    """``signalbox simulate`` on the benchmark scenario, ready on return."""
    scenario_path = work / "scenario.toml"
    scenario_path.write_text(SCENARIO_TOML)
    service = start(
        "simulator",
        signalbox_argv(
            "simulate", "--scenario", str(scenario_path), "--host", "127.0.0.1", "--port", str(port)
        ),
        child_env({"SIGNALBOX_DATA_DIR": str(work)}),
        work,
    )
    wait_ready(service, f"http://127.0.0.1:{port}/truth", 30.0)
    return service


def start_signalbox(work: Path, port: int, sim_url: str, gateway_key: str) -> Service:
    """``signalbox router`` over a fresh SQLite store and a catalog pointing at the simulator;
    apps must present ``gateway_key`` (as they must to LiteLLM)."""
    from signalbox.simulator.catalog import api_key_environment, catalog_toml
    from signalbox.simulator.scenario import parse_scenario

    scenario = parse_scenario(SCENARIO_TOML)
    catalog = work / "catalog.toml"
    catalog.write_text(catalog_toml(scenario, sim_url))
    data_dir = work / "signalbox"
    data_dir.mkdir(exist_ok=True)
    env = child_env(
        {
            "SIGNALBOX_CATALOG": str(catalog),
            "SIGNALBOX_DATABASE_URL": f"sqlite:///{data_dir}/signalbox.db",
            "SIGNALBOX_DATA_DIR": str(data_dir),
            "SIGNALBOX_LOG_LEVEL": "WARNING",
            "SIGNALBOX_API_KEYS": gateway_key,
            **api_key_environment(scenario),
        }
    )
    subprocess.run(
        signalbox_argv("db", "upgrade"), env=env, check=True, capture_output=True, timeout=120
    )
    service = start(
        "signalbox-router",
        signalbox_argv("router", "--host", "127.0.0.1", "--port", str(port)),
        env,
        work,
    )
    wait_ready(service, f"http://127.0.0.1:{port}/healthz", 60.0)
    return service


def ensure_litellm(venv: Path) -> Path:
    """The ``litellm`` executable of ``venv``, creating the venv with ``litellm[proxy]`` if needed."""
    exe = venv / "bin" / "litellm"
    if exe.exists():
        return exe
    print(f"creating {venv} with litellm[proxy] (first use only)...", flush=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "litellm[proxy]"], check=True)
    if not exe.exists():
        raise ServiceError(f"pip installed litellm[proxy] into {venv} but {exe} is missing")
    return exe


def litellm_version(exe: Path) -> str:
    """The installed litellm version, read without importing it (import is slow)."""
    python = exe.parent / "python"
    code = "import importlib.metadata as m; print(m.version('litellm'))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or "unknown"


def litellm_config(sim_url: str) -> dict:
    """Proxy config: one deployment per simulator provider, no database, no callbacks."""
    from signalbox.simulator.catalog import api_key_env
    from signalbox.simulator.scenario import parse_scenario

    scenario = parse_scenario(SCENARIO_TOML)
    model_list = []
    for p in scenario.providers:
        spec = p.find_model(MODEL)
        assert spec is not None
        params = {
            "model": f"openai/{spec.upstream_model}",
            "api_base": f"{sim_url}/{p.name}/v1",
            "api_key": f"os.environ/{api_key_env(p.name)}",
            "timeout": 60,
            "stream_timeout": 60,
        }
        model_list.append({"model_name": MODEL, "litellm_params": params})
    return {
        "model_list": model_list,
        "litellm_settings": {"telemetry": False, "set_verbose": False, "request_timeout": 60},
        "router_settings": {"routing_strategy": "simple-shuffle", "num_retries": 0},
        "general_settings": {"disable_spend_logs": True, "disable_error_logs": True},
    }


def start_litellm(
    work: Path, port: int, sim_url: str, exe: Path, gateway_key: str, workers: int = 1
) -> Service:
    """LiteLLM's proxy (``litellm --config``) in front of the simulator, ready on return; its
    master key is ``gateway_key`` (it refuses to start without one), checked without a database."""
    from signalbox.simulator.catalog import api_key_environment
    from signalbox.simulator.scenario import parse_scenario

    config = work / "litellm.yaml"
    config.write_text(json.dumps(litellm_config(sim_url), indent=2))  # JSON is valid YAML
    home = work / "litellm-home"
    home.mkdir(exist_ok=True)
    env = child_env({**LITELLM_OFFLINE_ENV, **api_key_environment(parse_scenario(SCENARIO_TOML))})
    env["HOME"] = str(home)
    env["LITELLM_MASTER_KEY"] = gateway_key
    service = start(
        "litellm-proxy",
        [
            str(exe),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            str(workers),
        ],
        env,
        work,
    )
    wait_ready(service, f"http://127.0.0.1:{port}/health/liveliness", 180.0)
    return service


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` and its live descendants."""
    ticks = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue  # exited meanwhile
        ticks += sum(int(v) for v in fields[11:13])  # utime, stime
        todo.extend(int(c) for c in children)
    return ticks / os.sysconf("SC_CLK_TCK")
