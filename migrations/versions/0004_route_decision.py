"""route_decision: one row per routed request (routes and per-request model fallbacks, issue #18)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "route_decision",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("objective", sa.String(length=20), nullable=False),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("trigger", sa.String(length=30), nullable=True),
        sa.Column("trigger_detail", sa.String(), nullable=True),
        sa.Column("attempts", sa.JSON(), nullable=False),
        sa.Column("final_model", sa.String(length=200), nullable=True),
        sa.Column("final_provider", sa.String(length=100), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("stream", sa.Boolean(), nullable=False),
        sa.Column("buffered", sa.Boolean(), nullable=False),
        sa.Column("prompt_tokens_estimated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uid", name="uq_route_decision_uid"),
    )
    op.create_index("ix_route_decision_route_ts", "route_decision", ["route", "ts"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_route_decision_route_ts", table_name="route_decision")
    op.drop_table("route_decision")
