"""Alembic migrations for the Signalbox store, shared by SQLite and PostgreSQL."""
