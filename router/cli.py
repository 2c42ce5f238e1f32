"""``signalbox router [--host --port --workers]``: serve the routing API and the OpenAI-compatible
proxy, in one process or in several that share the port."""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import signal
import sys
import time

from signalbox.router.metrics import SharedMetrics, shared_folder
from signalbox.settings import Settings

log = logging.getLogger(__name__)
RESTART_DELAY_S = 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``signalbox router``."""
    parser.add_argument("--host", help="listen address (default settings.router_host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default settings.router_port, 8700)")
    parser.add_argument(
        "--workers",
        type=int,
        help="processes sharing the port through SO_REUSEPORT, each with its own statistics "
        "(default settings.router_workers, 1)",
    )


def serve(settings: Settings, worker: int | None = None) -> None:
    """One router process on ``settings.router_host:router_port`` until SIGINT/SIGTERM.
    ``worker`` (0..N-1) marks a process of a multi-worker router: it binds with SO_REUSEPORT."""
    import asyncio

    from signalbox.router.app import create_app
    from signalbox.router.server import serve_app

    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        pass
    # Background threads (store polls, decision and observation writes) run SQLAlchemy code that
    # holds the GIL; at the default 5 ms switch interval a request arriving meanwhile waits up to
    # that long per switch. 0.5 ms keeps the event loop's share of the GIL prompt (measured with
    # bench/bench_route.py --rate: open-loop p99 2.5 -> 1.5 ms, closed-loop 8.9k -> 11.2k req/s).
    sys.setswitchinterval(0.0005)
    app = create_app(settings, worker=worker)
    # a worker ignores SIGINT: its parent decides when workers stop (and sends SIGTERM)
    asyncio.run(
        serve_app(
            app,
            settings.router_host,
            settings.router_port,
            reuse_port=worker is not None,
            stop_on_sigint=worker is None,
        )
    )


def _worker_main(settings: Settings, worker: int) -> None:
    from signalbox.logs import configure_logging

    configure_logging(settings.log_level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    serve(settings, worker)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until interrupted: in this process, or in ``--workers`` child processes that the
    parent restarts if one dies and stops together on SIGINT/SIGTERM."""
    from signalbox.errors import CommandError

    settings = settings.with_overrides(
        router_host=args.host, router_port=args.port, router_workers=args.workers
    )
    workers = settings.router_workers
    if workers < 1:
        raise CommandError("--workers must be at least 1", 2)
    where = f"http://{settings.router_host}:{settings.router_port}"
    if workers == 1:
        print(f"signalbox router on {where}", flush=True)
        serve(settings)
        return 0
    from signalbox.catalog import load_catalog

    load_catalog(settings.catalog)  # a bad catalog is one error here, not a crash loop below
    print(f"signalbox router on {where} ({workers} workers)", flush=True)
    return _supervise(settings, workers)


def _supervise(settings: Settings, workers: int) -> int:
    ctx = mp.get_context("spawn")
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def start(i: int) -> mp.process.BaseProcess:
        proc = ctx.Process(target=_worker_main, args=(settings, i), name=f"router-{i}")
        proc.start()
        return proc

    SharedMetrics.reset(shared_folder(settings.data_dir, settings.router_port))
    procs = [start(i) for i in range(workers)]
    while not stopping:
        time.sleep(0.2)
        for i, proc in enumerate(procs):
            if not proc.is_alive() and not stopping:
                log.error(
                    "router worker %d exited with %s; restarting in %.0f s",
                    i,
                    proc.exitcode,
                    RESTART_DELAY_S,
                )
                time.sleep(RESTART_DELAY_S)
                procs[i] = start(i)
    for proc in procs:
        if proc.is_alive() and proc.pid is not None:
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.join(15)
        if proc.is_alive():
            proc.kill()
    return 0
