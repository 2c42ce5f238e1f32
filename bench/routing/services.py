"""The processes of one routing-benchmark run: simulators, Signalbox (prober + router), LiteLLM."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from signalbox.catalog import BreakerSettings, RoutingSettings
from signalbox.simulator.catalog import catalog_toml
from signalbox.simulator.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
LITELLM_VENV = ROOT / ".bench-venvs" / "litellm"
# Pinned: every figure is LiteLLM's at this version (also the gateway benchmark's).
LITELLM_VERSION = "1.108.7"

# The Signalbox rows. "signalbox": the catalog as `catalog_toml` writes it, no [routing] table, so
# every routing setting is the shipped default (made for real time: a 15-minute half-life, 15 s
# probes and breaker cooldown), on a run whose clock is compressed (x10 for generated scenarios).
# "signalbox-scaled": the same defaults with every duration divided by the run's time scale, no
# value chosen by hand: the default router living through the scenario at its own pace (only the
# traffic is not scaled, so it sees ten times fewer requests per scenario second than it would).
# "signalbox-tuned": half-life, staleness and probe interval picked by hand for the compression
# (the first build's second row, kept for comparison with its results).
SIGNALBOX_SETTINGS = {
    "signalbox": {"probe_interval_s": 15.0, "probe_jitter_s": 2.0, "routing": {}},
    "signalbox-tuned": {
        "probe_interval_s": 2.0,
        "probe_jitter_s": 0.5,
        "routing": {"half_life_s": 20.0, "stale_after_s": 10.0},
    },
}


CANDIDATE = "@candidate"  # suffix of a row run by another installation (an A/B's candidate)


def row_settings(row: str, time_scale: float) -> dict:
    """The settings of Signalbox row ``row`` on a run compressed ``time_scale``-fold (a
    candidate row has its base row's: an A/B changes the code, not the settings)."""
    row = row.removesuffix(CANDIDATE)
    if row != "signalbox-scaled":
        return SIGNALBOX_SETTINGS[row]
    default = SIGNALBOX_SETTINGS["signalbox"]
    routing, breaker = RoutingSettings(), BreakerSettings()
    return {
        "probe_interval_s": default["probe_interval_s"] / time_scale,
        "probe_jitter_s": default["probe_jitter_s"] / time_scale,
        "routing": {
            "half_life_s": routing.half_life_s / time_scale,
            "stale_after_s": routing.stale_after_s / time_scale,
            "breaker": {
                "cooldown_s": breaker.cooldown_s / time_scale,
                "max_cooldown_s": breaker.max_cooldown_s / time_scale,
                "trial_timeout_s": breaker.trial_timeout_s / time_scale,
            },
        },
    }


def routing_toml(routing: dict) -> str:
    """A ``[routing]`` table (and ``[routing.breaker]``) from a row's routing settings."""
    if not routing:
        return ""
    flat = {k: v for k, v in routing.items() if not isinstance(v, dict)}
    text = "\n[routing]\n" + "".join(f"{k} = {v!r}\n" for k, v in flat.items())
    for table, values in routing.items():
        if isinstance(values, dict):
            text += f"\n[routing.{table}]\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items())
    return text


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str, python: str = sys.executable) -> list[str]:
    """The argv of a ``signalbox`` subcommand in this interpreter (or ``python``)."""
    return [python, "-m", "signalbox.cli", *args]


def wait_http(url: str, deadline_s: float = 60) -> None:
    """Block until ``url`` answers below 500."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {deadline_s}s")


def start(
    argv: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a process logging to ``log`` (in ``cwd``, default this one's)."""
    return subprocess.Popen(argv, env=env, cwd=cwd, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate, then kill what is left after 15 s."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


def start_simulator(
    scenario_arg: str, scale: float, warmup_s: float, env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """A simulator whose scenario time 0 comes ``warmup_s`` real seconds after its start."""
    port = free_port()
    argv = cli(
        "simulate",
        "--scenario",
        scenario_arg,
        "--port",
        str(port),
        "--time-scale",
        str(scale),
        "--start-offset",
        str(-warmup_s * scale),
    )
    return start(argv, env, log), f"http://127.0.0.1:{port}"


class SignalboxRow:
    """Signalbox's store, prober and router in front of ``sim_url`` with ``row``'s settings; the
    store's migration starts at once (it takes seconds), the processes at :meth:`launch`.

    ``python``: run Signalbox with that interpreter, of an environment where another checkout is
    installed (a worktree at the commit to try): the candidate of an A/B, measured in the same run
    as the code it is compared with. Its processes start in the row's own directory, as with
    ``-m`` the working directory comes first on ``sys.path`` and this checkout's would shadow
    the candidate's packages. (A PYTHONPATH to the other tree is not enough: ``signalbox.router``
    and the other services are mapped to their folders by the installation, not found by path.)"""

    def __init__(
        self,
        row: str,
        scenario: Scenario,
        sim_url: str,
        workdir: Path,
        env: dict[str, str],
        time_scale: float,
        python: str | None = None,
    ) -> None:
        settings = row_settings(row, time_scale)
        self.python = python
        self.home = workdir / row
        self.home.mkdir(exist_ok=True)
        text = catalog_toml(
            scenario,
            sim_url,
            probe_interval_s=settings["probe_interval_s"],
            probe_jitter_s=settings["probe_jitter_s"],
        )
        text += routing_toml(settings["routing"])
        catalog = self.home / "catalog.toml"
        catalog.write_text(text)
        self.url = f"http://127.0.0.1:{free_port()}"
        self.env = dict(
            env,
            SIGNALBOX_DATABASE_URL=f"sqlite:///{self.home / 'signalbox.db'}",
            SIGNALBOX_CATALOG=str(catalog),
            SIGNALBOX_DATA_DIR=str(self.home),
            # the prober asks this router which endpoints to probe sooner (without it, it polled
            # the default port, where nothing answers)
            SIGNALBOX_ROUTER_URL=self.url,
        )
        self.migrate = self._start("db.log", "db", "upgrade")

    def _start(self, log: str, *args: str) -> subprocess.Popen[bytes]:
        if self.python is None:
            return start(cli(*args), self.env, self.home / log)
        return start(cli(*args, python=self.python), self.env, self.home / log, cwd=self.home)

    def launch(self) -> list[subprocess.Popen[bytes]]:
        """After the migration: the prober and the router (call once the simulator answers)."""
        if self.migrate.wait() != 0:
            raise RuntimeError(f"db upgrade failed; see {self.home / 'db.log'}")
        port = self.url.rsplit(":", 1)[1]
        return [
            self._start("probe.log", "probe"),
            self._start("router.log", "router", "--port", port),
        ]


def ensure_litellm() -> Path:
    """The python of a virtualenv holding the pinned litellm, made (or repinned) once."""
    python = LITELLM_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
    code = "import importlib.metadata as m; print(m.version('litellm'))"
    have = subprocess.run([str(python), "-c", code], capture_output=True, text=True).stdout.strip()
    if have != LITELLM_VERSION:
        pip = [str(python), "-m", "pip", "install", "-q", f"litellm=={LITELLM_VERSION}"]
        subprocess.run(pip, check=True)
    return python
