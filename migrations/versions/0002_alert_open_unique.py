"""one open alert per (rule, endpoint)

Leader election already keeps a second evaluator from opening a duplicate; this index makes the
database refuse one too (partial unique index: both PostgreSQL and SQLite support them).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OPEN = "state IN ('pending', 'firing')"


def upgrade() -> None:
    op.create_index(
        "uq_alert_open_rule_endpoint",
        "alert",
        ["rule", "endpoint_id"],
        unique=True,
        postgresql_where=sa.text(_OPEN),
        sqlite_where=sa.text(_OPEN),
    )


def downgrade() -> None:
    op.drop_index("uq_alert_open_rule_endpoint", table_name="alert")
