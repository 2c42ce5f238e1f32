"""One log format for every Signalbox process, and quiet libraries."""

from __future__ import annotations

import logging


def configure_logging(level: str) -> None:
    """One log format for every command (and for the router's worker processes)."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Library chatter (a line per HTTP request, per migration step) drowns what matters.
    quiet = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in ("alembic", "httpx", "httpx2", "httpcore", "openai", "waitress.queue"):
        logging.getLogger(name).setLevel(max(quiet, logging.getLogger(name).level))
