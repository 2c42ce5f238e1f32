"""alert.route: alerts on a route (route_escalation_rate, issue #18), with no endpoint

A route's alert is keyed by (rule, route), so ``endpoint_id`` becomes nullable and a second
partial unique index keeps one open alert per (rule, route), as 0002 does per (rule, endpoint).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_OPEN = "state IN ('pending', 'firing')"


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("route", sa.String(length=200), nullable=True))
        batch_op.alter_column("endpoint_id", existing_type=sa.Integer(), nullable=True)
    op.create_index(
        "uq_alert_open_rule_route",
        "alert",
        ["rule", "route"],
        unique=True,
        postgresql_where=sa.text(_OPEN),
        sqlite_where=sa.text(_OPEN),
    )


def downgrade() -> None:
    op.drop_index("uq_alert_open_rule_route", table_name="alert")
    op.execute(
        "DELETE FROM alert_delivery WHERE alert_id IN (SELECT id FROM alert WHERE route IS NOT NULL)"
    )
    op.execute("DELETE FROM alert WHERE route IS NOT NULL")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.alter_column("endpoint_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("route")
