"""``signalbox dashboard [--host --port]``: serve the console (waitress when installed, else
Werkzeug's threaded server)."""

from __future__ import annotations

import argparse
import logging

from signalbox.settings import Settings

log = logging.getLogger("dashboard")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's flags."""
    parser.add_argument("--host", help="address to listen on (default settings.dashboard_host)")
    parser.add_argument("--port", type=int, help="port (default settings.dashboard_port, 8050)")
    parser.add_argument("--refresh", type=float, default=30.0, help="page refresh, seconds")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Build the app on the configured store and serve it until interrupted."""
    from signalbox.dashboard.app import create_app
    from signalbox.db import redact_url

    settings = settings.with_overrides(dashboard_host=args.host, dashboard_port=args.port)
    app = create_app(settings, refresh_s=args.refresh)
    host, port = settings.dashboard_host, settings.dashboard_port
    print(
        f"signalbox dashboard on http://{host}:{port}/ "
        f"(store {redact_url(settings.effective_database_url)})",
        flush=True,
    )
    try:
        import waitress
    except ImportError:
        from werkzeug.serving import run_simple

        run_simple(host, port, app.server, threaded=True, use_reloader=False)
        return 0
    waitress.serve(app.server, host=host, port=port, threads=8, ident="signalbox")
    return 0
