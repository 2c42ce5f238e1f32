"""``signalbox router [--host --port]``: serve the routing API and the OpenAI-compatible proxy."""

from __future__ import annotations

import argparse

from signalbox.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``signalbox router``."""
    parser.add_argument("--host", help="listen address (default settings.router_host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default settings.router_port, 8700)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until interrupted."""
    import asyncio

    from aiohttp import web

    from router.app import create_app

    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        pass
    settings = settings.with_overrides(router_host=args.host, router_port=args.port)
    app = create_app(settings)
    print(f"signalbox router on http://{settings.router_host}:{settings.router_port}", flush=True)
    web.run_app(
        app, host=settings.router_host, port=settings.router_port, access_log=None, print=None
    )
    return 0
