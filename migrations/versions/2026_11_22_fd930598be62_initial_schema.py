"""initial schema

Revision ID: fd930598be62
Revises: 
Create Date: 2026-11-22 07:38:14.020422
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'fd930598be62'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('destination_url', sa.String(length=2048), nullable=False),
    sa.Column('utm_medium', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('slug', name=op.f('uq_campaigns_slug'))
    )
    op.create_table('customer_clicks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_hash', sa.String(length=64), nullable=False),
    sa.Column('click_id', sa.String(length=24), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_clicks'))
    )
    with op.batch_alter_table('customer_clicks', schema=None) as batch_op:
        batch_op.create_index('ix_customer_clicks_customer_hash_created_at', ['customer_hash', 'created_at'], unique=False)

    op.create_table('order_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('secret', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('secret_rotated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_sources'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('last_failed_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_keys_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_table('links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.BigInteger(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('destination_url', sa.String(length=2048), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('utm_source', sa.String(length=255), nullable=True),
    sa.Column('utm_medium', sa.String(length=255), nullable=True),
    sa.Column('utm_campaign', sa.String(length=255), nullable=True),
    sa.Column('utm_content', sa.String(length=255), nullable=True),
    sa.Column('utm_term', sa.String(length=255), nullable=True),
    sa.Column('coupon_code', sa.String(length=100), nullable=True),
    sa.Column('referrer', sa.String(length=255), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('max_clicks', sa.Integer(), nullable=True),
    sa.Column('click_count', sa.BigInteger(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_links_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_links')),
    sa.UniqueConstraint('campaign_id', 'coupon_code', name=op.f('uq_links_campaign_id_coupon_code')),
    sa.UniqueConstraint('slug', name=op.f('uq_links_slug'))
    )
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_links_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index('ix_links_coupon_code', ['coupon_code'], unique=False)

    op.create_table('clicks',
    sa.Column('click_id', sa.String(length=24), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('app', sa.String(length=16), nullable=True),
    sa.Column('device', sa.String(length=8), nullable=False),
    sa.Column('os', sa.String(length=64), nullable=True),
    sa.Column('browser', sa.String(length=64), nullable=True),
    sa.Column('referrer_host', sa.String(length=255), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('visitor_hash', sa.String(length=32), nullable=True),
    sa.Column('user_agent', sa.String(length=512), nullable=True),
    sa.Column('is_qr', sa.Boolean(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_clicks_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_clicks_link_id_links'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('click_id', name=op.f('pk_clicks'))
    )
    with op.batch_alter_table('clicks', schema=None) as batch_op:
        batch_op.create_index('ix_clicks_campaign_id_occurred_at', ['campaign_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_clicks_link_id_occurred_at', ['link_id', 'occurred_at'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('ordered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('click_id', sa.String(length=64), nullable=True),
    sa.Column('coupon_codes', sa.String(length=1000), nullable=True),
    sa.Column('landing_url', sa.String(length=4096), nullable=True),
    sa.Column('customer_hash', sa.String(length=64), nullable=True),
    sa.Column('attribution_state', sa.String(length=16), nullable=False),
    sa.Column('attribution_method', sa.String(length=16), nullable=True),
    sa.Column('attributed_click_id', sa.String(length=24), nullable=True),
    sa.Column('link_id', sa.Integer(), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('app', sa.String(length=16), nullable=True),
    sa.Column('raw_payload', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_orders_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_orders_link_id_links'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_id'], ['order_sources.id'], name=op.f('fk_orders_source_id_order_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('source_id', 'external_id', name=op.f('uq_orders_source_id_external_id'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_attribution_state', ['attribution_state'], unique=False)
        batch_op.create_index('ix_orders_campaign_id_ordered_at', ['campaign_id', 'ordered_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_campaign_id_ordered_at')
        batch_op.drop_index('ix_orders_attribution_state')

    op.drop_table('orders')
    with op.batch_alter_table('clicks', schema=None) as batch_op:
        batch_op.drop_index('ix_clicks_link_id_occurred_at')
        batch_op.drop_index('ix_clicks_campaign_id_occurred_at')

    op.drop_table('clicks')
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.drop_index('ix_links_coupon_code')
        batch_op.drop_index(batch_op.f('ix_links_campaign_id'))

    op.drop_table('links')
    op.drop_table('api_keys')
    op.drop_table('users')
    op.drop_table('order_sources')
    with op.batch_alter_table('customer_clicks', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_clicks_customer_hash_created_at')

    op.drop_table('customer_clicks')
    op.drop_table('campaigns')
