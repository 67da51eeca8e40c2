"""clicks.ad_click_ids: the ad platforms' click ids (fbclid, gclid, ...) from the short URL's query

Revision ID: 4c1d7e9a2b60
Revises: b7c3d9e1f012
Create Date: 2026-12-04 02:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '4c1d7e9a2b60'
down_revision: str | None = 'b7c3d9e1f012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing, on SQLite or PostgreSQL.
    with op.batch_alter_table('clicks') as batch:
        batch.add_column(sa.Column('ad_click_ids', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('clicks') as batch:
        batch.drop_column('ad_click_ids')
