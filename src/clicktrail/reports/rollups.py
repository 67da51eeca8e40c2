"""Click roll-ups per campaign and UTC hour / UTC day, kept by the recorder with every batch.

Reports read every click of their period: at 10M clicks, counting them and above all their
distinct visitors takes seconds. So the recorder, in the transaction that writes a batch of
clicks, adds the batch to roll-up rows at two levels: per campaign and UTC hour and UTC day
(`click_rollups`: the overview, report totals, day rows) and per campaign, link, channel, app and
UTC day (`link_rollups`: rows by channel, link, app, and the forwarding matrix; no hourly rows,
which would be nearly one per click on a busy campaign: the partial days at a period's edges are
read from the clicks). Each row has clicks, previews and bots — exact counts — and a HyperLogLog
sketch of the visitor hashes of the people's clicks. The spool replay goes through the same path,
and only rows actually written are added, so the roll-ups stay exact (counts) and current.

Distinct visitors cannot be added up across hours exactly (one person clicking on Monday and on
Tuesday is one visitor): sketches can, with a small error (lg_k = 12: about 1.6% standard error
at large counts; below ~380 visitors a sketch keeps the hashes themselves and counts exactly). The
reports merge them per row and for the totals, and say when a number is an estimate.

Concurrent workers: the upsert takes the row lock before the sketch is read back (RETURNING),
and rows are upserted in key order, so two batches merge one after the other, never over each
other and never in a deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from datasketches import hll_sketch, hll_union, tgt_hll_type
from sqlalchemy import Connection, Table, and_, bindparam, delete, false, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from clicktrail.clicks.models import Click
from clicktrail.reports.models import ClickRollup, LinkRollup

LG_K = 12  # 4,096 registers
STORED = tgt_hll_type.HLL_4  # the compact form: ~2 KiB at most per row
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
UTC = timezone.utc
CHUNK = 500  # rows per statement (SQLite caps bound parameters)

rollups = ClickRollup.__table__
link_rollups = LinkRollup.__table__
clicks = Click.__table__
NO_APP = ""  # link_rollups.app for clicks with no app detected (a key column cannot be NULL)


@dataclass(frozen=True)
class Level:
    table: Table
    keys: tuple[str, ...]  # key columns after (hours, starts_at)


CAMPAIGNS = Level(rollups, ("workspace_id", "campaign_id"))
LINKS = Level(link_rollups, ("workspace_id", "campaign_id", "link_id", "channel", "app"))
LEVELS = (CAMPAIGNS, LINKS)

# What the roll-ups need of a click, in this order.
ClickFacts = tuple[int, int | None, int, str, str | None, str, str | None, datetime]  # workspace, campaign, link, channel, app, kind, visitor, at
Key = tuple  # (hours, starts_at, *level.keys)


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


Tallies = dict[Level, dict[Key, Tally]]


def floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def tally(rows: Iterable[ClickFacts], into: Tallies | None = None) -> Tallies:
    """Clicks → the additions to each roll-up row they fall in (three per click)."""
    tallies: Tallies = {level: {} for level in LEVELS} if into is None else into
    campaigns, links = tallies[CAMPAIGNS], tallies[LINKS]
    for workspace_id, campaign_id, link_id, channel, app, kind, visitor, at in rows:
        if campaign_id is None:  # a click of a link outside any campaign: in no campaign's report
            continue
        if at.tzinfo is None:  # SQLite hands back naive UTC
            at = at.replace(tzinfo=UTC)
        hour = floor_hour(at)
        day = hour.replace(hour=0)
        for target, key in (
            (campaigns, (1, hour, workspace_id, campaign_id)), (campaigns, (24, day, workspace_id, campaign_id)),
            (links, (24, day, workspace_id, campaign_id, link_id, channel, app or NO_APP)),
        ):
            entry = target.get(key)
            if entry is None:
                entry = target[key] = Tally()
            entry.count(kind, visitor)
    return tallies


def sketch_of(stored: bytes | None) -> hll_sketch:
    return hll_sketch(LG_K, STORED) if stored is None else hll_sketch.deserialize(stored)


def write(conn: Connection, tallies: Tallies) -> None:
    """Add tallied clicks to their roll-ups, in the caller's transaction (sync: `run_sync`)."""
    for level, rows in tallies.items():
        _write_level(conn, level, rows)


def _write_level(conn: Connection, level: Level, tallies: dict[Key, Tally]) -> None:
    if not tallies:
        return
    table = level.table
    names = ("hours", "starts_at", *level.keys)
    key_columns = [table.c[n] for n in names]
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    keys = sorted(tallies)
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        statement = insert(table).values([
            {**dict(zip(names, key)), "clicks": tallies[key].clicks, "previews": tallies[key].previews,
             "bots": tallies[key].bots}
            for key in chunk
        ])
        statement = statement.on_conflict_do_update(
            index_elements=key_columns,
            set_={
                "clicks": table.c.clicks + statement.excluded.clicks,
                "previews": table.c.previews + statement.excluded.previews,
                "bots": table.c.bots + statement.excluded.bots,
            },
        ).returning(*key_columns, table.c.visitors)
        merged = []
        for row in conn.execute(statement).all():
            key = (row[0], row[1].astimezone(UTC), *row[2:-1])
            visitors = tallies[key].visitors
            if not visitors:
                continue
            sketch = sketch_of(row[-1])
            for visitor in visitors:
                sketch.update(visitor)
            merged.append({**{f"k_{n}": v for n, v in zip(names, row[:-1])}, "v": sketch.serialize_compact()})
        if merged:
            conn.execute(
                update(table).where(*(c == bindparam(f"k_{c.name}") for c in key_columns)).values(visitors=bindparam("v")),
                merged,
            )


def rebuild(conn: Connection, window: timedelta = timedelta(days=7), flush_every: int = 1_000_000) -> int:
    """Recompute every roll-up from the clicks table (the migration that adds them, bulk loads).

    Clicks are read one campaign and one week at a time (a range of the reports' index; a
    server-side cursor through the async drivers was 8x slower per row). Tallies are flushed
    as they grow — writing adds — so memory stays bounded however many clicks there are.
    Returns the number of clicks read."""
    for level in LEVELS:
        conn.execute(delete(level.table))
    spans = conn.execute(
        select(clicks.c.campaign_id, func.min(clicks.c.occurred_at), func.max(clicks.c.occurred_at))
        .where(clicks.c.campaign_id.is_not(None)).group_by(clicks.c.campaign_id).order_by(clicks.c.campaign_id)
    ).all()
    tallies = tally(())
    read = pending = 0
    for campaign_id, first, last in spans:
        start = _floor(first if first.tzinfo else first.replace(tzinfo=UTC), DAY)
        while start <= last:
            part = conn.execute(
                select(clicks.c.workspace_id, clicks.c.campaign_id, clicks.c.link_id, clicks.c.channel, clicks.c.app, clicks.c.kind,
                       clicks.c.visitor_hash, clicks.c.occurred_at)
                .where(clicks.c.campaign_id == campaign_id, clicks.c.occurred_at >= start,
                       clicks.c.occurred_at < start + window)
            ).all()
            tally(part, tallies)  # type: ignore[arg-type]
            read += len(part)
            pending += len(part)
            start += window
            if pending >= flush_every:
                write(conn, tallies)
                tallies, pending = tally(()), 0
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

    def rollup_rows(self, table: Table = rollups) -> ColumnElement[bool]:
        parts = [and_(table.c.hours == 1, table.c.starts_at >= a, table.c.starts_at < b) for a, b in self.hours]
        if self.days:
            parts.append(and_(table.c.hours == 24, table.c.starts_at >= self.days[0], table.c.starts_at < self.days[1]))
        return or_(*parts) if parts else false()

    def raw_clicks(self) -> ColumnElement[bool]:
        parts = [and_(clicks.c.occurred_at >= a, clicks.c.occurred_at < b) for a, b in self.raw]
        return or_(*parts) if parts else false()


def cover(start: datetime, end: datetime, *, days: bool = True, hours: bool = True) -> Cover:
    """Whole UTC days, whole UTC hours around them, raw clicks around those. Without `days`,
    whole hours only: each then falls in one local day of a zone whose offsets are whole hours
    (day buckets). Without `hours`, whole days only (link roll-ups have no hourly rows)."""
    if not hours:
        first_day, last_day = _ceil(start, DAY), _floor(end, DAY)
        if first_day >= last_day:
            return Cover(None, (), ((start, end),))
        return Cover((first_day, last_day), (), tuple((a, b) for a, b in ((start, first_day), (last_day, end)) if a < b))
    first_hour, last_hour = _ceil(start, HOUR), _floor(end, HOUR)
    if first_hour >= last_hour:
        return Cover(None, (), ((start, end),))
    raw = tuple((a, b) for a, b in ((start, first_hour), (last_hour, end)) if a < b)
    if not days:
        return Cover(None, ((first_hour, last_hour),), raw)
    first_day, last_day = _ceil(first_hour, DAY), _floor(last_hour, DAY)
    if first_day >= last_day:
        return Cover(None, ((first_hour, last_hour),), raw)
    whole_hours = tuple((a, b) for a, b in ((first_hour, first_day), (last_day, last_hour)) if a < b)
    return Cover((first_day, last_day), whole_hours, raw)
