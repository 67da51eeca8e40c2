"""outbound_destinations, outbox_events, outbox_deliveries, order_signals: sales out (webhooks,
GA4, Meta, TikTok) through an outbox written with the order

Revision ID: 4c8e1f7a2b90
Revises: 4c1d7e9a2b60
Create Date: 2026-12-04 01:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '4c8e1f7a2b90'
down_revision: str | None = '4c1d7e9a2b60'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'outbound_destinations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('url', sa.String(length=2048), nullable=True),
        sa.Column('events', sa.String(length=200), nullable=True),
        sa.Column('account_id', sa.String(length=64), nullable=True),
        sa.Column('secret_sealed', sa.Text(), nullable=False),
        sa.Column('send_hashed_email', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('secret_rotated_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('previous_secret_sealed', sa.Text(), nullable=True),
        sa.Column('previous_secret_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('consecutive_failures', sa.Integer(), nullable=False),
        sa.Column('paused_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_destinations')),
    )
    op.create_table(
        'outbox_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.String(length=40), nullable=False),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('signals', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_outbox_events_order_id_orders'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_events')),
        sa.UniqueConstraint('event_id', name=op.f('uq_outbox_events_event_id')),
    )
    op.create_index('ix_outbox_events_order_id', 'outbox_events', ['order_id'])
    op.create_table(
        'outbox_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('destination_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('dedupe_key', sa.String(length=100), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claim', sa.String(length=32), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('email_sha256', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['destination_id'], ['outbound_destinations.id'],
                                name=op.f('fk_outbox_deliveries_destination_id_outbound_destinations'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'],
                                name=op.f('fk_outbox_deliveries_event_id_outbox_events'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_deliveries')),
        sa.UniqueConstraint('destination_id', 'dedupe_key', name=op.f('uq_outbox_deliveries_destination_id_dedupe_key')),
    )
    op.create_index('ix_outbox_deliveries_status_next_attempt_at', 'outbox_deliveries', ['status', 'next_attempt_at'])
    op.create_index('ix_outbox_deliveries_destination_id_id', 'outbox_deliveries', ['destination_id', 'id'])
    op.create_index(op.f('ix_outbox_deliveries_event_id'), 'outbox_deliveries', ['event_id'])
    op.create_table(
        'order_signals',
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('values', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_signals_order_id_orders'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('order_id', name=op.f('pk_order_signals')),
    )


def downgrade() -> None:
    op.drop_table('order_signals')
    op.drop_index(op.f('ix_outbox_deliveries_event_id'), table_name='outbox_deliveries')
    op.drop_index('ix_outbox_deliveries_destination_id_id', table_name='outbox_deliveries')
    op.drop_index('ix_outbox_deliveries_status_next_attempt_at', table_name='outbox_deliveries')
    op.drop_table('outbox_deliveries')
    op.drop_index('ix_outbox_events_order_id', table_name='outbox_events')
    op.drop_table('outbox_events')
    op.drop_table('outbound_destinations')
