"""links.label: which group, post or placement of its channel a link is for

Revision ID: 3c8e5a1f0b27
Revises: 4c8e1f7a2b90
Create Date: 2026-12-04 01:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '3c8e5a1f0b27'
down_revision: str | None = '4c8e1f7a2b90'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('links') as batch:
        batch.add_column(sa.Column('label', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('links') as batch:
        batch.drop_column('label')
