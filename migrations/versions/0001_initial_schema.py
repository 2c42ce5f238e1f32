"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lease',
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('holder', sa.String(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('observation_1h',
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('ok_n', sa.Integer(), nullable=False),
    sa.Column('ttft_p50_ms', sa.Float(), nullable=True),
    sa.Column('ttft_p90_ms', sa.Float(), nullable=True),
    sa.Column('ttft_p99_ms', sa.Float(), nullable=True),
    sa.Column('tps_p50', sa.Float(), nullable=True),
    sa.Column('tps_p90', sa.Float(), nullable=True),
    sa.Column('e2e_p50_ms', sa.Float(), nullable=True),
    sa.Column('itl_p50_ms', sa.Float(), nullable=True),
    sa.Column('input_tokens', sa.Integer(), nullable=False),
    sa.Column('output_tokens', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('endpoint_id', 'bucket', 'source')
    )
    op.create_table('observation_1m',
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('ok_n', sa.Integer(), nullable=False),
    sa.Column('ttft_p50_ms', sa.Float(), nullable=True),
    sa.Column('ttft_p90_ms', sa.Float(), nullable=True),
    sa.Column('ttft_p99_ms', sa.Float(), nullable=True),
    sa.Column('tps_p50', sa.Float(), nullable=True),
    sa.Column('tps_p90', sa.Float(), nullable=True),
    sa.Column('e2e_p50_ms', sa.Float(), nullable=True),
    sa.Column('itl_p50_ms', sa.Float(), nullable=True),
    sa.Column('input_tokens', sa.Integer(), nullable=False),
    sa.Column('output_tokens', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('endpoint_id', 'bucket', 'source')
    )
    op.create_table('probe_spend',
    sa.Column('day', sa.String(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )
    op.create_table('provider',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('base_url', sa.String(), nullable=False),
    sa.Column('api', sa.String(length=20), nullable=False),
    sa.Column('region', sa.String(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('endpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('upstream_model', sa.String(), nullable=False),
    sa.Column('price_input_per_mtok', sa.Float(), nullable=True),
    sa.Column('price_output_per_mtok', sa.Float(), nullable=True),
    sa.Column('price_source', sa.String(length=20), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_id', 'model', name='uq_endpoint_provider_model')
    )
    with op.batch_alter_table('endpoint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_endpoint_model'), ['model'], unique=False)
        batch_op.create_index(batch_op.f('ix_endpoint_provider_id'), ['provider_id'], unique=False)

    op.create_table('alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=100), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('severity', sa.String(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('firing_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('reason', sa.String(), nullable=True),
    sa.Column('last_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notified_firing', sa.Boolean(), nullable=False),
    sa.Column('notified_resolved', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['endpoint.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.create_index('ix_alert_rule_endpoint_state', ['rule', 'endpoint_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_state'), ['state'], unique=False)

    op.create_table('decision',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('model', sa.String(), nullable=False),
    sa.Column('objective', sa.String(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(), nullable=False),
    sa.Column('ranking', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['endpoint.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.create_index('ix_decision_model_ts', ['model', 'ts'], unique=False)

    op.create_table('observation',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('uid', sa.Uuid(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('region', sa.String(), nullable=True),
    sa.Column('probe_shape', sa.String(), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('error_class', sa.String(length=20), nullable=True),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('ttft_ms', sa.Float(), nullable=True),
    sa.Column('ttfa_ms', sa.Float(), nullable=True),
    sa.Column('connect_ms', sa.Float(), nullable=True),
    sa.Column('tps', sa.Float(), nullable=True),
    sa.Column('itl_ms', sa.Float(), nullable=True),
    sa.Column('itl_p90_ms', sa.Float(), nullable=True),
    sa.Column('e2e_ms', sa.Float(), nullable=True),
    sa.Column('input_tokens', sa.Integer(), nullable=True),
    sa.Column('output_tokens', sa.Integer(), nullable=True),
    sa.Column('tokens_estimated', sa.Boolean(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=True),
    sa.Column('loop_lag_ms', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_id'], ['endpoint.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uid', name='uq_observation_uid')
    )
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.create_index('ix_observation_endpoint_ts', ['endpoint_id', 'ts'], unique=False)

    op.create_table('alert_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('webhook', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_delivery_alert_id'), ['alert_id'], unique=False)


    if op.get_bind().dialect.name == "postgresql":
        # BRIN: tiny, and ts grows with id, so range scans over time stay cheap at 10^8 rows.
        op.execute("CREATE INDEX ix_observation_ts_brin ON observation USING brin (ts)")
        # Routers LISTEN here to follow new observations without polling latency.
        op.execute(
            """
            CREATE FUNCTION signalbox_notify_observation() RETURNS trigger AS $$
            BEGIN
                PERFORM pg_notify('signalbox_observation', '');
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER observation_notify AFTER INSERT ON observation "
            "FOR EACH STATEMENT EXECUTE FUNCTION signalbox_notify_observation()"
        )

def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS observation_notify ON observation")
        op.execute("DROP FUNCTION IF EXISTS signalbox_notify_observation()")
        op.execute("DROP INDEX IF EXISTS ix_observation_ts_brin")
    with op.batch_alter_table('alert_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_delivery_alert_id'))

    op.drop_table('alert_delivery')
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.drop_index('ix_observation_endpoint_ts')

    op.drop_table('observation')
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.drop_index('ix_decision_model_ts')

    op.drop_table('decision')
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_state'))
        batch_op.drop_index('ix_alert_rule_endpoint_state')

    op.drop_table('alert')
    with op.batch_alter_table('endpoint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_endpoint_provider_id'))
        batch_op.drop_index(batch_op.f('ix_endpoint_model'))

    op.drop_table('endpoint')
    op.drop_table('provider')
    op.drop_table('probe_spend')
    op.drop_table('observation_1m')
    op.drop_table('observation_1h')
    op.drop_table('lease')
