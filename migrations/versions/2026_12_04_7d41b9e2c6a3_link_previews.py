"""preview cards of links: title, description, image URL and the version of an uploaded image on
links; the uploaded JPEGs in link_preview_images

Revision ID: 7d41b9e2c6a3
Revises: 3c8e5a1f0b27
Create Date: 2026-12-04 01:41:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '7d41b9e2c6a3'
down_revision: str | None = '3c8e5a1f0b27'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('links') as batch:
        batch.add_column(sa.Column('preview_title', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('preview_description', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('preview_image_url', sa.String(length=2048), nullable=True))
        batch.add_column(sa.Column('preview_image_version', sa.String(length=32), nullable=True))
    op.create_table(
        'link_preview_images',
        sa.Column('link_id', sa.Integer(), nullable=False),
        sa.Column('jpeg', sa.LargeBinary(), nullable=False),
        sa.Column('version', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_link_preview_images_link_id_links'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('link_id', name=op.f('pk_link_preview_images')),
    )


def downgrade() -> None:
    op.drop_table('link_preview_images')
    with op.batch_alter_table('links') as batch:
        batch.drop_column('preview_image_version')
        batch.drop_column('preview_image_url')
        batch.drop_column('preview_description')
        batch.drop_column('preview_title')
