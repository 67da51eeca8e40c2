"""exchange_rates (the ECB's euro reference rates), campaigns.archived_at, links.label

Revision ID: 3c8e51a7d2f4
Revises: 9b3f4d2e7a10
Create Date: 2026-12-04 01:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '3c8e51a7d2f4'
down_revision: str | None = '9b3f4d2e7a10'
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


def downgrade() -> None:
    with op.batch_alter_table('campaigns') as batch:
        batch.drop_column('archived_at')
    op.drop_table('exchange_rates')
