"""click_horizon: since when raw clicks are kept, once the click retention has dropped older ones

Revision ID: 7e2a9c4d1b35
Revises: 4c1d8e0b2f6a
Create Date: 2026-12-04 02:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '7e2a9c4d1b35'
down_revision: str | None = '4c1d8e0b2f6a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'click_horizon',
        sa.Column('id', sa.SmallInteger(), nullable=False),
        sa.Column('raw_since', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_click_horizon')),
    )


def downgrade() -> None:
    op.drop_table('click_horizon')
