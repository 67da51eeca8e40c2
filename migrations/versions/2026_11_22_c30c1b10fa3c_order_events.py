"""order events: refunds (deduplicated by refund id) and updates applied to an order, kept for audit

Revision ID: c30c1b10fa3c
Revises: fd930598be62
Create Date: 2026-11-22 08:06:52.091528
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'c30c1b10fa3c'
down_revision: str | None = 'fd930598be62'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('order_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('refund_id', sa.String(length=255), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raw_payload', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_events_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_events')),
    sa.UniqueConstraint('order_id', 'refund_id', name=op.f('uq_order_events_order_id_refund_id'))
    )


def downgrade() -> None:
    op.drop_table('order_events')
