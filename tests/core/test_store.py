"""Migrations and catalog sync, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, select

from signalbox.catalog import parse_catalog
from signalbox.migrate import current_revision, head_revision, upgrade
from signalbox.schema import Endpoint, Provider, SQLModel
from signalbox.sync import sync_catalog
from tests.core.factories import CATALOG_TOML

TABLES = {
    "provider",
    "endpoint",
    "observation",
    "observation_1m",
    "observation_1h",
    "alert",
    "alert_delivery",
    "decision",
    "lease",
    "probe_spend",
    "rollup_mark",
    "route_decision",
}


def test_upgrade_builds_every_table_and_twice_is_a_no_op(db_url: str, engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()


def test_the_migrations_build_what_the_models_declare(engine: Engine) -> None:
    """A model changed without a migration (or the reverse) shows up here, on both databases."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    # the BRIN index is PostgreSQL's own, made by the migration only (tested below)
    diff = [
        d for d in diff if not (d[0] == "remove_index" and d[1].name == "ix_observation_ts_brin")
    ]
    assert diff == []


def test_postgres_gets_brin_index_on_observation_ts(db_url: str, engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        method = conn.execute(
            text(
                "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam"
                " WHERE c.relname = 'ix_observation_ts_brin'"
            )
        ).scalar()
    assert method == "brin"


def test_cli_db_upgrade_runs_twice(db_url: str) -> None:
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-m", "signalbox.cli", "db", "upgrade", "--database-url", db_url],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert f"revision {head_revision()}" in proc.stdout


def test_sync_creates_then_changes_nothing(engine: Engine) -> None:
    catalog = parse_catalog(CATALOG_TOML)
    first = sync_catalog(engine, catalog)
    assert len(first.created) == 4 and len(first.endpoint_ids) == 2
    second = sync_catalog(engine, catalog)
    assert not second.changed
    assert second.endpoint_ids == first.endpoint_ids


def test_sync_disables_removed_endpoint_and_keeps_its_row(engine: Engine) -> None:
    first = sync_catalog(engine, parse_catalog(CATALOG_TOML))
    without_beta = CATALOG_TOML.split('[[model.endpoint]]\nprovider = "beta"')[0]
    report = sync_catalog(engine, parse_catalog(without_beta))
    assert "endpoint beta/llama-3.1-70b" in report.disabled
    with Session(engine) as session:
        beta = session.get(Endpoint, first.endpoint_ids[("beta", "llama-3.1-70b")])
        assert beta is not None and beta.enabled is False
        assert len(session.exec(select(Provider)).all()) == 2
    again = sync_catalog(engine, parse_catalog(CATALOG_TOML))
    assert again.endpoint_ids == first.endpoint_ids
    assert "endpoint beta/llama-3.1-70b" in again.updated


def test_sync_updates_changed_price(engine: Engine) -> None:
    sync_catalog(engine, parse_catalog(CATALOG_TOML))
    report = sync_catalog(engine, parse_catalog(CATALOG_TOML.replace("= 1.5", "= 2.5")))
    assert report.updated == ["endpoint alpha/llama-3.1-70b"]


def test_processes_syncing_together_on_an_empty_store_all_succeed(db_url: str) -> None:
    import threading

    from signalbox.db import make_engine

    catalog = parse_catalog(CATALOG_TOML)
    engines = [make_engine(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    reports: list[object] = []
    errors: list[BaseException] = []

    def run(engine: Engine) -> None:
        barrier.wait()
        try:
            reports.append(sync_catalog(engine, catalog).endpoint_ids)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for e in engines:
        e.dispose()
    assert errors == []
    assert len(reports) == 4 and all(r == reports[0] for r in reports)
