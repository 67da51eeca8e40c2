"""Alembic environment: async engines, batch mode on SQLite, our metadata."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from clicktrail.clicks.partitions import is_partition_name
from clicktrail.db import UTCDateTime, create_engine
from clicktrail.models import Base

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from clicktrail.settings import Settings

    return Settings().resolved_database_url


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Migrations stay plain SQLAlchemy: our UTC wrapper is a Python-side concern.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _include_name(name: str | None, type_: str, _parent: Any) -> bool:
    # Click partitions (PostgreSQL, clicks/partitions.py) are made by the service, not models.
    return not (type_ == "table" and name is not None and is_partition_name(name))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=_include_name,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
        compare_type=True,
    )
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Rebuilding a table (batch mode) drops it: with foreign keys on, SQLite would cascade that
        # drop into every table that refers to it. Off while migrating, checked after.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migrations left rows whose foreign keys point nowhere: {broken[:5]}")
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")


async def _run_online() -> None:
    engine = create_engine(_database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Rebuilding a table (batch mode) drops it: with foreign keys on, SQLite would cascade that
        # drop into every table that refers to it. Off while migrating, checked after.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migrations left rows whose foreign keys point nowhere: {broken[:5]}")
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
else:
    asyncio.run(_run_online())
