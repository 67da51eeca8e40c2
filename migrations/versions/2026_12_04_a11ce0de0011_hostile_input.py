"""hostile input: exact click limits (links.admitted_clicks), webhook delivery ids, the shop's
own order times, sign-in throttles per account and client, the one-row installation marker

Revision ID: a11ce0de0011
Revises: 9b3f4d2e7a10
Create Date: 2026-12-04 01:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'a11ce0de0011'
down_revision: str | None = '9b3f4d2e7a10'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admitted_clicks', sa.Integer(), server_default='0', nullable=False))
    # A limited link has let through the people it has counted so far.
    op.execute("UPDATE links SET admitted_clicks = click_count WHERE max_clicks IS NOT NULL")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'webhook_deliveries',
        sa.Column('source_id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.String(length=128), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['source_id'], ['order_sources.id'],
                                name=op.f('fk_webhook_deliveries_source_id_order_sources'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('source_id', 'delivery_id', name=op.f('pk_webhook_deliveries')),
    )
    op.create_index(op.f('ix_webhook_deliveries_received_at'), 'webhook_deliveries', ['received_at'])
    op.create_table(
        'sign_in_throttles',
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_sign_in_throttles')),
    )
    op.create_index(op.f('ix_sign_in_throttles_last_failed_at'), 'sign_in_throttles', ['last_failed_at'])
    op.create_table(
        'installation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('set_up_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_installation')),
    )
    # An installation that has accounts is set up already.
    op.execute("INSERT INTO installation (id, set_up_at) SELECT 1, MIN(created_at) FROM users HAVING COUNT(*) > 0")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('failed_logins')
        batch_op.drop_column('last_failed_login_at')


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_failed_login_at', sa.DateTime(timezone=True), nullable=True))
    op.drop_table('installation')
    op.drop_index(op.f('ix_sign_in_throttles_last_failed_at'), table_name='sign_in_throttles')
    op.drop_table('sign_in_throttles')
    op.drop_index(op.f('ix_webhook_deliveries_received_at'), table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('source_updated_at')
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.drop_column('admitted_clicks')
