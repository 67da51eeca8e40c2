"""click_rollups, link_rollups: clicks per UTC hour / day, per campaign and per campaign, link,
channel and app, with visitor sketches, for the reports; filled from the clicks already recorded

Revision ID: 9b3f4d2e7a10
Revises: 5e7a0c2d9b41
Create Date: 2026-12-03 08:20:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '9b3f4d2e7a10'
down_revision: str | None = '5e7a0c2d9b41'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'click_rollups',
        sa.Column('hours', sa.SmallInteger(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('clicks', sa.Integer(), nullable=False),
        sa.Column('previews', sa.Integer(), nullable=False),
        sa.Column('bots', sa.Integer(), nullable=False),
        sa.Column('visitors', sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_click_rollups_campaign_id_campaigns'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('hours', 'starts_at', 'campaign_id', name=op.f('pk_click_rollups')),
    )
    op.create_table(
        'link_rollups',
        sa.Column('hours', sa.SmallInteger(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('link_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('app', sa.String(length=16), nullable=False),
        sa.Column('clicks', sa.Integer(), nullable=False),
        sa.Column('previews', sa.Integer(), nullable=False),
        sa.Column('bots', sa.Integer(), nullable=False),
        sa.Column('visitors', sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_link_rollups_campaign_id_campaigns'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_link_rollups_link_id_links'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('hours', 'starts_at', 'campaign_id', 'link_id', 'channel', 'app',
                                name=op.f('pk_link_rollups')),
    )
    # The clicks recorded so far are rolled up by the workspaces migration (5a7e0c1d2b3f): the
    # roll-ups' key gained workspace_id there, and the rebuild is the application's code, which
    # writes the schema of today, not of this step.


def downgrade() -> None:
    op.drop_table('link_rollups')
    op.drop_table('click_rollups')
