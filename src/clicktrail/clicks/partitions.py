"""Clicks by month on PostgreSQL (DESIGN.md, Data lifecycle): `clicks` is partitioned by range of
`occurred_at`, one partition per UTC month (`clicks_p2026_12`), and a default partition for any
click outside them (an import of old clicks, a clock far off). SQLite keeps one table.

- The service makes the partitions of this month and the next ones ahead of time (`ensure`, at
  start and daily), so the recorder's COPY always lands in a month partition. A month made while
  the default partition holds clicks of it takes those clicks over in the same transaction.
- Retention drops whole months (`drop_before`): a DROP TABLE, no dead rows, no long deletes.
- A click id starts with its time (clicks/ids.py), so a lookup by id also bounds `occurred_at`
  (`by_id`) and PostgreSQL reads one partition instead of all of them.
- The primary key is (click_id, occurred_at) here: PostgreSQL requires the partition key in every
  unique index of a partitioned table. Click ids are unique by construction (77 random bits).

Functions take a synchronous Connection (migrations; `AsyncConnection.run_sync` elsewhere).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.sql.elements import ColumnElement

from clicktrail.clicks.ids import click_time, is_click_id
from clicktrail.periodic import Periodic

log = logging.getLogger("clicktrail.partitions")

UTC = timezone.utc
PREFIX = "clicks_p"
DEFAULT = "clicks_p_default"
AHEAD = 3  # months made ahead of the current one
COPY_BATCH = 50_000  # clicks per statement when the migration copies a table (one transaction each)
_MONTH = re.compile(r"clicks_p(\d{4})_(\d{2})")
_LOCK_KEY = 0x636C6B70  # "clkp": one worker at a time changes partitions
# How far a click's occurred_at may be from the time in its id (both are taken at the tap).
ID_TIME_SLACK = timedelta(hours=1)


def is_partition_name(name: str) -> bool:
    """A partition of `clicks` (migrations' model comparison leaves them out: they are not models)."""
    return name == DEFAULT or _MONTH.fullmatch(name) is not None


def month_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(month: datetime) -> datetime:
    return (month + timedelta(days=32)).replace(day=1)


def name_of(month: datetime) -> str:
    return f"{PREFIX}{month.year:04d}_{month.month:02d}"


def _literal(at: datetime) -> str:
    return f"'{at.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')}+00'"


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(text(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = 'clicks' AND c.relkind = 'p' AND n.nspname = current_schema()"
    )).first())


def months(conn: Connection) -> list[datetime]:
    """The month partitions there are, oldest first."""
    names = conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'clicks'::regclass"
    )).scalars()
    found = [_MONTH.fullmatch(n) for n in names]
    return sorted(datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC) for m in found if m)


def create_default(conn: Connection) -> None:
    conn.execute(text(f"CREATE TABLE IF NOT EXISTS {DEFAULT} PARTITION OF clicks DEFAULT"))


def add_month(conn: Connection, month: datetime) -> bool:
    """Make the partition of `month` if missing, moving its clicks out of the default partition.
    Returns whether it was made."""
    if month in months(conn):
        return False
    name, low, high = name_of(month), _literal(month), _literal(next_month(month))
    in_range = f"occurred_at >= {low} AND occurred_at < {high}"
    stray = conn.execute(text(f"SELECT 1 FROM {DEFAULT} WHERE {in_range} LIMIT 1")).first()
    if stray is None:
        conn.execute(text(f"CREATE TABLE {name} PARTITION OF clicks FOR VALUES FROM ({low}) TO ({high})"))
        return True
    conn.execute(text(f"CREATE TABLE {name} (LIKE clicks INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    conn.execute(text(f"INSERT INTO {name} SELECT * FROM {DEFAULT} WHERE {in_range}"))
    conn.execute(text(f"DELETE FROM {DEFAULT} WHERE {in_range}"))
    conn.execute(text(f"ALTER TABLE clicks ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})"))
    return True


def ensure(conn: Connection, now: datetime | None = None, extra: Iterable[datetime] = ()) -> list[str]:
    """The partitions of this month and AHEAD more (and of the months of `extra` times), made if
    missing; returns the names made. In the caller's transaction, under an advisory lock."""
    if not is_partitioned(conn):
        return []
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    month = month_of(now or datetime.now(UTC))
    wanted = {month_of(at) for at in extra}
    for _ in range(AHEAD + 1):
        wanted.add(month)
        month = next_month(month)
    return [name_of(m) for m in sorted(wanted) if add_month(conn, m)]


def drop_before(conn: Connection, boundary: datetime) -> tuple[list[str], int]:
    """Drop the month partitions that end on or before `boundary`, with the identify links of
    their clicks; returns their names and how many clicks they held."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    dropped = [name_of(m) for m in months(conn) if next_month(m) <= boundary]
    rows = 0
    for name in dropped:
        rows += conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
        conn.execute(text(f"DELETE FROM customer_clicks c USING {name} k WHERE c.click_id = k.click_id"))
        conn.execute(text(f"DROP TABLE {name}"))
    return dropped, rows


class PartitionMaintenance:
    """The service's task that keeps the coming months' partitions made (PostgreSQL)."""

    def __init__(self, engine: Any, interval: float = 86_400.0) -> None:
        self._engine = engine
        self._periodic = Periodic("click-partitions", self.run_once, interval, first_delay=0.0)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def run_once(self, now: datetime | None = None) -> list[str]:
        async with self._engine.begin() as conn:
            made = await conn.run_sync(ensure, now)
        if made:
            log.info("made click partitions %s", ", ".join(made))
        return made


def id_time(click_id: str) -> datetime | None:
    """The time a click id of ours tells; None for another string, even one of the same shape
    whose time would be absurd (a shop's own id of 22 letters)."""
    if not is_click_id(click_id):
        return None
    try:
        at = click_time(click_id)
    except (ValueError, OverflowError, OSError):
        return None
    return at if 2000 <= at.year < 2200 else None


def by_id(column_id: ColumnElement, column_at: ColumnElement, click_id: str, dialect: str) -> list[ColumnElement]:
    """WHERE terms that find a click by id: on PostgreSQL with its time too, so that only its
    month's partition is read (ids not of our format are looked up in every partition)."""
    terms = [column_id == click_id]
    at = id_time(click_id) if dialect == "postgresql" else None
    if at is not None:
        terms += [column_at >= at - ID_TIME_SLACK, column_at <= at + ID_TIME_SLACK]
    return terms
