"""Click retention (`CLICKTRAIL_CLICK_RETENTION_DAYS`): raw clicks older than that are dropped.

The reports keep their numbers: they count whole hours and days from the roll-ups
(reports/rollups.py), which the recorder keeps with every batch and which are never dropped.
The cut falls on a UTC midnight, so every dropped day is a whole roll-up day. Orders keep their
attribution: an order copies the click's id, link, campaign, channel and app when it is
credited, and nothing refers to a clicks row by key. What ties a customer to a dropped click
(`customer_clicks`) goes with it.

Rows go in batches of one link's oldest clicks (the (link_id, occurred_at) index finds them),
each batch in its own short transaction, so the recorder and the webhooks are never held up
for long. On PostgreSQL one worker at a time runs it (an advisory lock), the others skip.
Afterwards `click_horizon` says from when on raw clicks are kept: the reports mark the days
before as counted from roll-ups only.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, case, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from clicktrail.clicks import partitions
from clicktrail.clicks.models import Click, ClickHorizon, CustomerClick
from clicktrail.db import utcnow
from clicktrail.links.models import Link
from clicktrail.periodic import Periodic

log = logging.getLogger("clicktrail.retention")

BATCH = 1000  # clicks per delete: well under SQLite's bound-parameter limit
_LOCK_KEY = 0x636C6B72  # "clkr": the advisory lock of the retention on PostgreSQL

clicks = Click.__table__
_horizon = ClickHorizon.__table__
_OLDEST_OF_LINK = (
    select(clicks.c.click_id)
    .where(clicks.c.link_id == bindparam("link_id"), clicks.c.occurred_at < bindparam("cutoff"))
    .order_by(clicks.c.occurred_at)
    .limit(bindparam("batch"))
)


def cutoff_for(days: int, now: datetime | None = None) -> datetime:
    """The UTC midnight `days` days back: clicks before it go."""
    moment = (now or utcnow()) - timedelta(days=days)
    return moment.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


async def horizon(session: AsyncSession | AsyncConnection) -> datetime | None:
    """Since when raw clicks are kept (None: all of them are)."""
    return await session.scalar(select(_horizon.c.raw_since).where(_horizon.c.id == 1))


async def _drop_batch(engine: AsyncEngine, link_id: int, cutoff: datetime, batch: int) -> int:
    async with engine.begin() as conn:
        ids = list((await conn.scalars(_OLDEST_OF_LINK, {"link_id": link_id, "cutoff": cutoff, "batch": batch})).all())
        if ids:
            await conn.execute(delete(CustomerClick).where(CustomerClick.click_id.in_(ids)))
            await conn.execute(delete(Click).where(Click.click_id.in_(ids)))
    return len(ids)


async def _raise_horizon(engine: AsyncEngine, cutoff: datetime) -> None:
    async with engine.begin() as conn:
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        statement = insert(_horizon).values(id=1, raw_since=cutoff)
        await conn.execute(statement.on_conflict_do_update(
            index_elements=[_horizon.c.id],
            # Never back: a later run with a shorter setting must not unmark dropped days.
            set_={"raw_since": case((statement.excluded.raw_since > _horizon.c.raw_since, statement.excluded.raw_since),
                                    else_=_horizon.c.raw_since)},
        ))


async def drop_clicks_before(engine: AsyncEngine, cutoff: datetime, batch: int | None = None) -> int:
    """Delete every click that happened before `cutoff`, a batch at a time; returns how many."""
    batch = batch or BATCH
    async with engine.connect() as conn:
        link_ids = list((await conn.scalars(select(Link.id).order_by(Link.id))).all())
    dropped = 0
    for link_id in link_ids:
        while True:
            n = await _drop_batch(engine, link_id, cutoff, batch)
            dropped += n
            if n < batch:
                break
    await _raise_horizon(engine, cutoff)
    return dropped


class ClickRetention:
    """The background task: every `interval` seconds, drop the clicks past the retention."""

    def __init__(self, engine: AsyncEngine, days: int, interval: float) -> None:
        self._engine = engine
        self.days = days
        self._periodic = Periodic("click-retention", self.run_once, interval, first_delay=min(60.0, interval))

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def run_once(self, now: datetime | None = None) -> int:
        """One pass; returns how many clicks were dropped (0 if another worker is at it)."""
        cutoff = cutoff_for(self.days, now)
        if self._engine.dialect.name != "postgresql":
            return await self._run(cutoff)
        async with self._engine.connect() as lock:
            got = await lock.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": _LOCK_KEY})
            await lock.commit()  # the lock is the session's: no transaction held open meanwhile
            if not got:
                return 0
            try:
                return await self._run(cutoff)
            finally:
                await lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
                await lock.commit()

    async def _run(self, cutoff: datetime) -> int:
        dropped = 0
        async with self._engine.begin() as conn:
            partitioned = await conn.run_sync(partitions.is_partitioned)
        if partitioned:
            # Whole months: the cut moves back to the first of its month (raw clicks are kept
            # up to a month longer than asked), and what is older goes with one DROP TABLE.
            cutoff = partitions.month_of(cutoff)
            async with self._engine.begin() as conn:
                names, dropped = await conn.run_sync(partitions.drop_before, cutoff)
            if names:
                log.info("dropped click partitions %s", ", ".join(names))
        # The rest (SQLite; PostgreSQL's default partition) a batch at a time.
        dropped += await drop_clicks_before(self._engine, cutoff)
        if dropped:
            log.info("dropped %d clicks from before %s (retention: %d days)", dropped, cutoff.date(), self.days)
        return dropped
