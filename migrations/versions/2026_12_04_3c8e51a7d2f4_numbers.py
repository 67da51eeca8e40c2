"""exchange_rates (the ECB's euro reference rates), campaigns.archived_at, and the
credited click's time, visitor and country on orders (filled from the clicks for stored orders)

Revision ID: 3c8e51a7d2f4
Revises: a3f5b7c9d1e2
Create Date: 2026-12-04 01:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '3c8e51a7d2f4'
down_revision: str | None = 'a3f5b7c9d1e2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'exchange_rates',
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('per_eur', sa.Numeric(precision=20, scale=10), nullable=False),
        sa.PrimaryKeyConstraint('currency', 'day', name=op.f('pk_exchange_rates')),
    )
    with op.batch_alter_table('campaigns') as batch:
        batch.add_column(sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('clicked_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('click_visitor_hash', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('click_country', sa.String(length=2), nullable=True))
    # Orders credited before this revision: their click's facts, as attribution now copies them.
    op.execute(
        "UPDATE orders SET "
        "clicked_at = (SELECT c.occurred_at FROM clicks c WHERE c.click_id = orders.attributed_click_id), "
        "click_visitor_hash = (SELECT c.visitor_hash FROM clicks c WHERE c.click_id = orders.attributed_click_id "
        "AND c.kind = 'click'), "
        "click_country = (SELECT c.country FROM clicks c WHERE c.click_id = orders.attributed_click_id) "
        "WHERE attributed_click_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('click_country')
        batch.drop_column('click_visitor_hash')
        batch.drop_column('clicked_at')
    with op.batch_alter_table('campaigns') as batch:
        batch.drop_column('archived_at')
    op.drop_table('exchange_rates')
