"""Stored webhook bodies and landing URLs brought under the per-platform allow-list: the buyers'
names, emails, phones, addresses, IPs and notes that 0.1 kept verbatim are removed

Revision ID: 4c1d8e0b2f6a
Revises: 7d41b9e2c6a3
Create Date: 2026-12-04 01:40:00.000000
"""
from collections.abc import Sequence

from alembic import op


revision: str = '4c1d8e0b2f6a'
down_revision: str | None = '7d41b9e2c6a3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The allow-list is the application's (the webhook path applies it from now on), so this
    # step uses its code. No schema change: the rows are rewritten, in batches.
    from clicktrail.conversions import redaction
    from clicktrail.settings import Settings

    redaction.redact_stored(op.get_bind(), Settings().click_id_param)


def downgrade() -> None:
    # What was removed is gone for good: there is nothing to put back.
    pass
