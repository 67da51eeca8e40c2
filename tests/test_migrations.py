"""The migrations build exactly the schema the models describe, and can be undone."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from clicktrail import migrate
from clicktrail.clicks.partitions import is_partition_name
from clicktrail.db import create_engine
from clicktrail.models import Base

from conftest import Backend


async def _diff_and_tables(url: str) -> tuple[list, set[str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            def inspect_sync(sync_conn):
                # Click partitions (PostgreSQL) are tables of the database, not models.
                def include_name(name, type_, _parent) -> bool:
                    return not (type_ == "table" and is_partition_name(name))

                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True, "include_name": include_name})
                tables = {t for t in inspect(sync_conn).get_table_names() if not is_partition_name(t)}
                return compare_metadata(ctx, Base.metadata), tables

            return await conn.run_sync(inspect_sync)
    finally:
        await engine.dispose()


def test_upgrade_head_matches_models_and_downgrade_base_works(backend: Backend) -> None:
    url = backend.new_database()
    migrate.upgrade(url)
    diff, tables = asyncio.run(_diff_and_tables(url))
    assert diff == [], f"models and migrations disagree: {diff}"
    assert {t.name for t in Base.metadata.sorted_tables} <= tables

    migrate.downgrade(url, "base")
    _diff, tables = asyncio.run(_diff_and_tables(url))
    assert tables <= {"alembic_version"}

    migrate.upgrade(url)  # and back up again: downgrades leave nothing behind that blocks it
    diff, _tables = asyncio.run(_diff_and_tables(url))
    assert diff == []
