"""Click roll-ups per campaign and UTC hour / UTC day, kept by the recorder with every batch.

The overview reads every campaign's clicks of its period: at 10M clicks, counting them and above
all their distinct visitors takes seconds. So the recorder, in the transaction that writes a
batch of clicks, adds the batch to one row per (campaign, UTC hour) and one per (campaign, UTC
day): clicks, previews and bots — exact counts — and a HyperLogLog sketch of the visitor hashes
of the people's clicks. The spool replay goes through the same path, and only rows actually
written are added, so the roll-ups stay exact (counts) and current.

Distinct visitors cannot be added up across hours exactly (one person clicking on Monday and on
Tuesday is one visitor): sketches can, with a small error (lg_k = 12: about 1.6% standard error
at large counts; below ~380 visitors a sketch keeps the hashes themselves and counts exactly). The
overview estimates with them; the per-campaign reports still count exactly from the clicks.

Concurrent workers: the upsert takes the row lock before the sketch is read back (RETURNING),
and rows are upserted in key order, so two batches merge one after the other, never over each
other and never in a deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from datasketches import hll_sketch, hll_union, tgt_hll_type
from sqlalchemy import Connection, and_, bindparam, delete, false, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from clicktrail.clicks.models import Click
from clicktrail.reports.models import ClickRollup

LG_K = 12  # 4,096 registers
STORED = tgt_hll_type.HLL_4  # the compact form: ~2 KiB at most per row
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
UTC = timezone.utc
CHUNK = 500  # rows per statement (SQLite caps bound parameters)

rollups = ClickRollup.__table__
clicks = Click.__table__

Key = tuple[int, int, datetime]  # campaign id, hours (1 or 24), UTC start


@dataclass
class Tally:
    clicks: int = 0
    previews: int = 0
    bots: int = 0
    visitors: set[str] = field(default_factory=set)

    def count(self, kind: str, visitor: str | None) -> None:
        if kind == "click":
            self.clicks += 1
            if visitor:
                self.visitors.add(visitor)
        elif kind == "preview":
            self.previews += 1
        else:
            self.bots += 1


def floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def tally(rows: Iterable[tuple[int | None, str, str | None, datetime]], into: dict[Key, Tally] | None = None) -> dict[Key, Tally]:
    """(campaign id, kind, visitor hash, occurred at) → the additions to each roll-up row."""
    tallies: dict[Key, Tally] = {} if into is None else into
    for campaign_id, kind, visitor, at in rows:
        if campaign_id is None:  # a click of a link outside any campaign: in no overview row
            continue
        if at.tzinfo is None:  # SQLite hands back naive UTC
            at = at.replace(tzinfo=UTC)
        hour = floor_hour(at)
        for key in ((campaign_id, 1, hour), (campaign_id, 24, hour.replace(hour=0))):
            entry = tallies.get(key)
            if entry is None:
                entry = tallies[key] = Tally()
            entry.count(kind, visitor)
    return tallies


def sketch_of(stored: bytes | None) -> hll_sketch:
    return hll_sketch(LG_K, STORED) if stored is None else hll_sketch.deserialize(stored)


def estimate(sketches: Iterable[bytes]) -> hll_union:
    union = hll_union(LG_K)
    for stored in sketches:
        union.update(hll_sketch.deserialize(stored))
    return union


def add(conn: Connection, rows: Iterable[tuple[int | None, str, str | None, datetime]]) -> None:
    """Add written clicks to their roll-ups, in the caller's transaction (sync: `run_sync`)."""
    write(conn, tally(rows))


def write(conn: Connection, tallies: dict[Key, Tally]) -> None:
    if not tallies:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    keys = sorted(tallies)
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        statement = insert(rollups).values([
            {"campaign_id": c, "hours": h, "starts_at": at, "clicks": tallies[(c, h, at)].clicks,
             "previews": tallies[(c, h, at)].previews, "bots": tallies[(c, h, at)].bots}
            for c, h, at in chunk
        ])
        statement = statement.on_conflict_do_update(
            index_elements=[rollups.c.hours, rollups.c.starts_at, rollups.c.campaign_id],
            set_={
                "clicks": rollups.c.clicks + statement.excluded.clicks,
                "previews": rollups.c.previews + statement.excluded.previews,
                "bots": rollups.c.bots + statement.excluded.bots,
            },
        ).returning(rollups.c.campaign_id, rollups.c.hours, rollups.c.starts_at, rollups.c.visitors)
        merged = []
        for campaign_id, hours, starts_at, stored in conn.execute(statement).all():
            visitors = tallies[(campaign_id, hours, starts_at.astimezone(UTC))].visitors
            if not visitors:
                continue
            sketch = sketch_of(stored)
            for visitor in visitors:
                sketch.update(visitor)
            merged.append({"c": campaign_id, "h": hours, "at": starts_at, "v": sketch.serialize_compact()})
        if merged:
            conn.execute(
                update(rollups)
                .where(rollups.c.campaign_id == bindparam("c"), rollups.c.hours == bindparam("h"),
                       rollups.c.starts_at == bindparam("at"))
                .values(visitors=bindparam("v")),
                merged,
            )


def rebuild(conn: Connection, window: timedelta = timedelta(days=7), flush_every: int = 1_000_000) -> int:
    """Recompute every roll-up from the clicks table (the migration that adds them, bulk loads).

    Clicks are read one campaign and one week at a time (a range of the reports' index; a
    server-side cursor through the async drivers was 8x slower per row). Tallies are flushed
    as they grow — writing adds — so memory stays bounded however many clicks there are.
    Returns the number of clicks read."""
    conn.execute(delete(rollups))
    spans = conn.execute(
        select(clicks.c.campaign_id, func.min(clicks.c.occurred_at), func.max(clicks.c.occurred_at))
        .where(clicks.c.campaign_id.is_not(None)).group_by(clicks.c.campaign_id).order_by(clicks.c.campaign_id)
    ).all()
    tallies: dict[Key, Tally] = {}
    read = pending = 0
    for campaign_id, first, last in spans:
        start = _floor(first if first.tzinfo else first.replace(tzinfo=UTC), DAY)
        while start <= last:
            part = conn.execute(
                select(clicks.c.campaign_id, clicks.c.kind, clicks.c.visitor_hash, clicks.c.occurred_at)
                .where(clicks.c.campaign_id == campaign_id, clicks.c.occurred_at >= start,
                       clicks.c.occurred_at < start + window)
            ).all()
            tally(part, tallies)  # type: ignore[arg-type]
            read += len(part)
            pending += len(part)
            start += window
            if pending >= flush_every:
                write(conn, tallies)
                tallies, pending = {}, 0
    write(conn, tallies)
    return read


# -- reading: which roll-ups and which raw clicks make up a period ---------------------------

def _ceil(at: datetime, step: timedelta) -> datetime:
    floor = _floor(at, step)
    return floor if floor == at else floor + step


def _floor(at: datetime, step: timedelta) -> datetime:
    hour = floor_hour(at)
    return hour.replace(hour=0) if step == DAY else hour


@dataclass(frozen=True)
class Cover:
    """[start, end) as whole UTC days, whole UTC hours around them, and raw clicks at the edges
    (the minutes before the first whole hour and after the last: zones like Asia/Kolkata, or
    times given to the second)."""

    days: tuple[datetime, datetime] | None
    hours: tuple[tuple[datetime, datetime], ...]
    raw: tuple[tuple[datetime, datetime], ...]

    def rollup_rows(self) -> ColumnElement[bool]:
        parts = [and_(rollups.c.hours == 1, rollups.c.starts_at >= a, rollups.c.starts_at < b) for a, b in self.hours]
        if self.days:
            parts.append(and_(rollups.c.hours == 24, rollups.c.starts_at >= self.days[0], rollups.c.starts_at < self.days[1]))
        return or_(*parts) if parts else false()

    def raw_clicks(self) -> ColumnElement[bool]:
        parts = [and_(clicks.c.occurred_at >= a, clicks.c.occurred_at < b) for a, b in self.raw]
        return or_(*parts) if parts else false()


def cover(start: datetime, end: datetime) -> Cover:
    first_hour, last_hour = _ceil(start, HOUR), _floor(end, HOUR)
    if first_hour >= last_hour:
        return Cover(None, (), ((start, end),))
    raw = tuple((a, b) for a, b in ((start, first_hour), (last_hour, end)) if a < b)
    first_day, last_day = _ceil(first_hour, DAY), _floor(last_hour, DAY)
    if first_day >= last_day:
        return Cover(None, ((first_hour, last_hour),), raw)
    hours = tuple((a, b) for a, b in ((first_hour, first_day), (last_day, last_hour)) if a < b)
    return Cover((first_day, last_day), hours, raw)
