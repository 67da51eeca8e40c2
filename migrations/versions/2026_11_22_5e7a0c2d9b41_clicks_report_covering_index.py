"""clicks: a covering index for reports (campaign, time, kind, link, channel, app, visitor),
replacing the (campaign, time) index it starts with

Revision ID: 5e7a0c2d9b41
Revises: c30c1b10fa3c
Create Date: 2026-11-22 09:10:00.000000
"""
from collections.abc import Sequence

from alembic import op


revision: str = '5e7a0c2d9b41'
down_revision: str | None = 'c30c1b10fa3c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('clicks', schema=None) as batch_op:
        batch_op.create_index(
            'ix_clicks_report_covering',
            ['campaign_id', 'occurred_at', 'kind', 'link_id', 'channel', 'app', 'visitor_hash'],
            unique=False,
        )
        # Same leading columns: the narrower index only cost every click write an update.
        batch_op.drop_index('ix_clicks_campaign_id_occurred_at')


def downgrade() -> None:
    with op.batch_alter_table('clicks', schema=None) as batch_op:
        batch_op.create_index('ix_clicks_campaign_id_occurred_at', ['campaign_id', 'occurred_at'], unique=False)
        batch_op.drop_index('ix_clicks_report_covering')
