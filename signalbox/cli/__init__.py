"""The ``signalbox`` command: the layer above the core and the services.

Nothing below imports this package. Each command is a module with ``add_arguments(parser)`` and
``run(args, settings) -> int``: the compositions live here (``demo`` starts every service,
``probe`` runs the probe service with the cluster-wide jobs beside it, ``route``, ``alerts`` and
``replay`` are clients of the router and the store); services that need no composition keep their
own (``signalbox.router.cli``, ``signalbox.dashboard.cli``, ``signalbox.simulator.cli``). Heavy
imports happen inside ``run`` so that ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from signalbox.catalog import CatalogError
from signalbox.db import DatabaseURLError
from signalbox.errors import CommandError
from signalbox.logs import configure_logging
from signalbox.settings import Settings

# command name -> (module with add_arguments/run, help)
SERVICE_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("signalbox.cli.demo", "run the whole product on SQLite with the simulated fleet"),
    "probe": ("signalbox.cli.probe", "probe every endpoint on a schedule (or --once)"),
    "router": ("signalbox.router.cli", "serve the routing API and the OpenAI-compatible proxy"),
    "route": ("signalbox.cli.route", "print the current ranking for a model"),
    "dashboard": ("signalbox.dashboard.cli", "serve the Dash console"),
    "simulate": ("signalbox.simulator.cli", "serve the simulated provider fleet"),
    "alerts": ("signalbox.cli.alerts", "list firing alerts and recent history"),
    "replay": ("signalbox.cli.replay", "what a routing policy would have gained on stored history"),
}


def _global_flags(parser: argparse.ArgumentParser, default: object = None) -> None:
    """Flags every command takes, before or after its name (SUPPRESS keeps the earlier value)."""
    group = parser.add_argument_group("global options")
    group.add_argument(
        "--database-url", default=default, help="database URL (env SIGNALBOX_DATABASE_URL)"
    )
    group.add_argument(
        "--catalog", type=Path, default=default, help="catalog TOML (env SIGNALBOX_CATALOG)"
    )
    group.add_argument(
        "--data-dir", type=Path, default=default, help="local state dir (env SIGNALBOX_DATA_DIR)"
    )
    group.add_argument("--log-level", default=default, help="DEBUG, INFO, WARNING or ERROR")


def _add_command(
    sub: argparse._SubParsersAction, name: str, **kwargs: str
) -> argparse.ArgumentParser:
    sp = sub.add_parser(name, **kwargs)
    _global_flags(sp, default=argparse.SUPPRESS)
    return sp


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="signalbox",
        description="Signalbox: live telemetry and runtime routing for LLM providers.",
    )
    _global_flags(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = _add_command(sub, "db", help="database schema commands")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    _add_command(db_sub, "upgrade", help="apply migrations (running it twice is a no-op)")
    _add_command(db_sub, "current", help="print the schema revision of the database")
    sync = _add_command(db_sub, "sync", help="sync the catalog's providers and endpoints")
    sync.add_argument("--dry-run", action="store_true", help="report changes, write nothing")
    _add_command(sub, "check", help="validate the catalog and print a summary")

    for name, (module_name, help_text) in SERVICE_COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # a real import error inside the module: show it
                raise
            continue  # that service is not part of this build
        module.add_arguments(_add_command(sub, name, help=help_text))
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings: flags first, then SIGNALBOX_* environment variables, then defaults."""
    try:
        base = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper()
        raise CommandError(f"bad setting SIGNALBOX_{name}: {first['msg']}", 2) from None
    return base.with_overrides(
        database_url=args.database_url,
        catalog=args.catalog,
        data_dir=args.data_dir,
        log_level=args.log_level,
    )


def _run_db(args: argparse.Namespace, settings: Settings) -> int:
    from signalbox import migrate
    from signalbox.db import redact_url

    url = settings.effective_database_url
    if args.db_command == "upgrade":
        migrate.upgrade(url)
        print(f"database {redact_url(url)} is at revision {migrate.current_revision(url)}")
        return 0
    if args.db_command == "current":
        print(migrate.current_revision(url) or "empty (run: signalbox db upgrade)")
        return 0
    from signalbox.catalog import load_catalog
    from signalbox.db import make_engine
    from signalbox.sync import sync_catalog

    catalog = load_catalog(settings.catalog)
    engine = make_engine(url)
    try:
        report = sync_catalog(engine, catalog, dry_run=args.dry_run)
    finally:
        engine.dispose()
    print(report.summary())
    return 0


def _run_check(settings: Settings) -> int:
    from signalbox.catalog import load_catalog

    catalog = load_catalog(settings.catalog)
    n_endpoints = sum(len(m.endpoints) for m in catalog.models)
    print(
        f"{settings.catalog}: ok: {len(catalog.providers)} providers, {len(catalog.models)} models,"
        f" {n_endpoints} endpoints, {len(catalog.alerts)} alert rules,"
        f" {len(catalog.webhooks)} webhooks"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        configure_logging(settings.log_level)
        if args.command == "db":
            return _run_db(args, settings)
        if args.command == "check":
            return _run_check(settings)
        module = importlib.import_module(SERVICE_COMMANDS[args.command][0])
        return int(module.run(args, settings) or 0)
    except CatalogError as exc:
        print(f"signalbox: invalid catalog {exc.path}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except (CommandError, DatabaseURLError) as exc:
        print(f"signalbox: {exc}", file=sys.stderr)
        return getattr(exc, "code", 2)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        from sqlalchemy.exc import OperationalError

        if isinstance(exc, OperationalError):
            print(f"signalbox: database unreachable: {exc.orig}".splitlines()[0], file=sys.stderr)
            return 1
        if settings_debug():
            raise
        print(f"signalbox: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1


def settings_debug() -> bool:
    """Whether to show tracebacks (SIGNALBOX_LOG_LEVEL=DEBUG)."""
    return logging.getLogger().isEnabledFor(logging.DEBUG)
