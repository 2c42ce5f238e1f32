"""Fixtures shared by every test: real databases (SQLite and PostgreSQL), migrated by Alembic.

PostgreSQL comes from ``SIGNALBOX_TEST_POSTGRES_URL`` (default the local server). Each test session
creates its own throwaway database and drops it at the end. When no server answers, PostgreSQL tests
skip with the reason, unless ``SIGNALBOX_REQUIRE_POSTGRES=1``, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from signalbox.db import make_engine, normalize_url
from signalbox.migrate import upgrade

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _admin_url() -> str:
    return os.environ.get("SIGNALBOX_TEST_POSTGRES_URL", DEFAULT_PG)


def _with_database(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(normalize_url(url)).set(database=database).render_as_string(hide_password=False)


def create_pg_database(prefix: str = "sbx_test") -> str:
    """Create an empty PostgreSQL database and return its URL (skip/fail when no server)."""
    admin = make_engine(_admin_url(), isolation_level="AUTOCOMMIT", poolclass=None)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        reason = f"PostgreSQL not reachable at {_admin_url()}: {type(exc).__name__}"
        if os.environ.get("SIGNALBOX_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (SIGNALBOX_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    finally:
        admin.dispose()
    return _with_database(_admin_url(), name)


def drop_pg_database(url: str) -> None:
    """Drop a database made by :func:`create_pg_database`, closing its other sessions first."""
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin = make_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database for the whole session."""
    url = create_pg_database()
    upgrade(url)
    yield url
    drop_pg_database(url)


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database for one test (for tests that count every row)."""
    url = create_pg_database()
    upgrade(url)
    yield url
    drop_pg_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database file for one test."""
    url = f"sqlite:///{tmp_path / 'signalbox.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs twice: on a fresh SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'signalbox.db'}"
        upgrade(url)
        yield url
        return
    url = create_pg_database()
    upgrade(url)
    yield url
    drop_pg_database(url)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on :func:`db_url` (both databases)."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()
