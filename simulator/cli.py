"""``signalbox simulate``: serve a scenario's provider fleet until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``signalbox simulate``."""
    parser.add_argument(
        "--scenario", default="demo", help="built-in scenario name or TOML file (default demo)"
    )
    parser.add_argument("--host", help="listen address (default settings.simulator_host)")
    parser.add_argument("--port", type=int, help="listen port (default settings.simulator_port)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--time-scale", type=float, help="scenario seconds per real second")
    parser.add_argument(
        "--start-offset",
        type=float,
        help="scenario time at start in seconds; negative gives a lead-in before t = 0",
    )
    parser.add_argument(
        "--print-catalog",
        action="store_true",
        help="print a Signalbox catalog for this fleet and exit",
    )


def run(args: argparse.Namespace, settings: Any) -> int:
    """Load the scenario and serve it; returns the exit code."""
    import asyncio
    import gc
    import signal

    from aiohttp import web

    from signalbox.simulator.catalog import catalog_toml
    from signalbox.simulator.loop import new_event_loop
    from signalbox.simulator.scenario import ScenarioError, load_scenario
    from signalbox.simulator.server import build_app

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"signalbox simulate: {exc}".splitlines()[0], file=sys.stderr)
        return 2
    if args.seed is not None:
        scenario = scenario.with_seed(args.seed)
    if args.time_scale is not None:
        if args.time_scale <= 0:
            print("signalbox simulate: --time-scale must be positive", file=sys.stderr)
            return 2
        scenario = scenario.model_copy(update={"time_scale": args.time_scale})
    if args.start_offset is not None:
        if not math.isfinite(args.start_offset):
            print("signalbox simulate: --start-offset must be a finite number", file=sys.stderr)
            return 2
        scenario = scenario.model_copy(update={"start_offset_s": args.start_offset})
    host = args.host or settings.simulator_host
    port = settings.simulator_port if args.port is None else args.port
    base_url = f"http://{host}:{port}"
    if args.print_catalog:
        print(catalog_toml(scenario, base_url), end="")
        return 0

    async def serve() -> None:
        # Everything loaded so far lives for the whole run: keep it out of the cyclic GC, whose
        # full collections would otherwise stall every stream for tens of milliseconds.
        gc.collect()
        gc.freeze()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runner = web.AppRunner(build_app(scenario), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            n = sum(len(p.models) for p in scenario.providers)
            print(
                f"simulator {scenario.name!r} (seed {scenario.seed}): {len(scenario.providers)}"
                f" providers, {n} endpoints at {base_url}",
                flush=True,
            )
            await stop.wait()
        finally:
            await runner.cleanup()

    loop = new_event_loop()
    try:
        loop.run_until_complete(serve())
    except OSError as exc:
        print(
            f"signalbox simulate: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr
        )
        return 1
    finally:
        loop.close()
    print("simulator stopped", flush=True)
    return 0
