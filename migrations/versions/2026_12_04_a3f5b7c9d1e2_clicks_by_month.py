"""clicks partitioned by month of occurred_at on PostgreSQL (SQLite keeps one table); existing
clicks are copied over in batches, each committed on its own, so nothing is locked for long

Revision ID: a3f5b7c9d1e2
Revises: 7e2a9c4d1b35
Create Date: 2026-12-04 02:30:00.000000

The table is swapped first (one short transaction: rename, create the partitioned table with the
same columns, indexes and foreign keys, and its partitions), so the service records new clicks
into the new table while the old ones are copied. Interrupted, it resumes: `clicks_old` still
there means copying is not finished. The downgrade does the same the other way.
"""
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text


revision: str = 'a3f5b7c9d1e2'
down_revision: str | None = '7e2a9c4d1b35'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "clicks_old"


def _exists(name: str) -> bool:
    return op.get_bind().execute(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name}).scalar()


def _swap(partitioned: bool) -> None:
    """Rename `clicks` to OLD and make a new, empty `clicks` like it: the same columns, indexes
    and foreign keys (read from the catalog, so whatever later migrations added comes along),
    partitioned by month or not."""
    bind = op.get_bind()
    indexes = bind.execute(text(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = 'clicks'::regclass AND NOT x.indisprimary")).all()
    foreign = bind.execute(text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'clicks'::regclass AND contype = 'f'")).all()
    op.execute(f"ALTER TABLE clicks RENAME TO {OLD}")
    op.execute(f"ALTER TABLE {OLD} RENAME CONSTRAINT pk_clicks TO pk_{OLD}")
    for name, _ in indexes:
        op.execute(f'ALTER INDEX "{name}" RENAME TO "{name[:55]}_old"')
    for name, _ in foreign:
        op.execute(f'ALTER TABLE {OLD} RENAME CONSTRAINT "{name}" TO "{name[:55]}_old"')
    by_month = " PARTITION BY RANGE (occurred_at)" if partitioned else ""
    op.execute(f"CREATE TABLE clicks (LIKE {OLD} INCLUDING DEFAULTS){by_month}")
    # A partitioned table's unique keys must hold the partition key: click ids are unique anyway.
    key = "click_id, occurred_at" if partitioned else "click_id"
    op.execute(f"ALTER TABLE clicks ADD CONSTRAINT pk_clicks PRIMARY KEY ({key})")
    for name, definition in foreign:
        op.execute(f'ALTER TABLE clicks ADD CONSTRAINT "{name}" {definition}')
    for _name, definition in indexes:
        # Read before the rename, so they name `clicks`; a partitioned table's read "ON ONLY",
        # which on a new partitioned table would index no partition.
        op.execute(definition.replace(" ON ONLY ", " ON "))


def _copy_and_drop() -> None:
    """Copy OLD into `clicks` in id order, COPY_BATCH rows per committed statement, then drop it."""
    from clicktrail.clicks.partitions import COPY_BATCH

    with op.get_context().autocommit_block():
        bind = op.get_bind()
        last = ""
        while True:
            row = bind.execute(text(
                f"WITH batch AS (SELECT * FROM {OLD} WHERE click_id > :last ORDER BY click_id LIMIT :n), "
                "moved AS (INSERT INTO clicks SELECT * FROM batch ON CONFLICT DO NOTHING) "
                "SELECT max(click_id) FROM batch"), {"last": last, "n": COPY_BATCH}).first()
            if row is None or row[0] is None:
                break
            last = row[0]
        op.execute(f"DROP TABLE {OLD} CASCADE")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    from datetime import datetime, timezone

    from clicktrail.clicks import partitions
    from clicktrail.clicks.ids import click_time, is_click_id, new_click_id

    if not _exists(OLD):
        bind = op.get_bind()
        # The months the old clicks span, from the time in their first and last ids (the primary
        # key: no scan); clicks outside go to the default partition, which is correct, if slower.
        # Bounded by the ids of the epoch and of tomorrow, so that ids of another format (which
        # sort anywhere) do not stretch the span.
        now = datetime.now(timezone.utc)
        bounds = {"low": "0" * 22, "high": new_click_id(int(now.timestamp() * 1000) + 86_400_000)}
        first = bind.execute(text("SELECT min(click_id) FROM clicks WHERE click_id >= :low"), bounds).scalar()
        last = bind.execute(text("SELECT max(click_id) FROM clicks WHERE click_id <= :high"), bounds).scalar()
        span = [click_time(i) for i in (first, last) if i and is_click_id(i)]
        months = []
        if len(span) == 2 and span[0] <= now:
            month = partitions.month_of(span[0])
            while month <= span[1] and len(months) < 240:
                months.append(month)
                month = partitions.next_month(month)
        _swap(partitioned=True)
        partitions.create_default(bind)
        partitions.ensure(bind, now, extra=months)
    _copy_and_drop()


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    if not _exists(OLD):
        _swap(partitioned=False)
    _copy_and_drop()
