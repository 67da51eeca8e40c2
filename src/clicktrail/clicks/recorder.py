"""The click recorder: requests append hits to a buffer; a background task writes them in batches.

The redirect never waits on the database. Batches go in with COPY on PostgreSQL and a multi-row
INSERT on SQLite, at least every `recorder_flush_interval`. When the database cannot take a
batch, it goes to an append-only spool file in the data directory and is replayed once the
database answers again (INSERT ... ON CONFLICT DO NOTHING, so a batch that was in fact written
is not written twice). Shutdown drains the buffer. If even the spool cannot be written the
clicks are counted in `stats.lost` and logged as errors: nothing disappears silently.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from asyncpg.exceptions import IntegrityConstraintViolationError
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from clicktrail.clicks.ad_click_ids import ad_click_ids
from clicktrail.clicks.country import CountryLookup
from clicktrail.clicks.detect import classify, parse_device
from clicktrail.clicks.proxies import UntrustedProxyWatch
from clicktrail.clicks.models import Click
from clicktrail.links.models import Link
from clicktrail.private_files import open_private, private_dir
from clicktrail.reports import rollups

log = logging.getLogger("clicktrail.recorder")

COLUMNS = (
    "click_id", "link_id", "campaign_id", "kind", "channel", "app", "device", "os", "browser",
    "referrer_host", "country", "visitor_hash", "user_agent", "is_qr", "occurred_at", "ad_click_ids",
    "workspace_id",
)


_CLICK_ID, _LINK_ID, _KIND, _OCCURRED_AT, _AD_CLICK_IDS = (
    COLUMNS.index(c) for c in ("click_id", "link_id", "kind", "occurred_at", "ad_click_ids")
)
_ROLLUP_FACTS = [COLUMNS.index(c) for c in ("workspace_id", "campaign_id", "link_id", "channel", "app", "kind", "visitor_hash", "occurred_at")]
Row = tuple  # one clicks row, in COLUMNS order (what COPY takes)


class Hit(NamedTuple):
    """What the redirect knows at the moment of the tap; everything else is worked out later.

    `ip` lives only here, in memory, until the batch is enriched: no row, spool line or log
    carries it (the visitor hash was computed from it on the request)."""

    click_id: str
    link_id: int
    campaign_id: int | None
    channel: str
    user_agent: str
    referrer: str | None
    visitor_hash: str | None
    country: str | None
    is_qr: bool
    is_head: bool
    occurred_at: float  # unix seconds
    kind: str | None = None  # classified already (links with a click limit), else here
    app: str | None = None
    ip: str | None = None  # the client's (after trusted proxies): for the country, then dropped
    query: bytes = b""  # the short URL's raw query string: ad click ids are read from it here
    workspace_id: int = 0  # the link's (always given by the redirect)


@dataclass
class RecorderStats:
    written: int = 0
    spooled: int = 0
    replayed: int = 0
    lost: int = 0
    batches_failed: int = 0
    last_error: str | None = None
    by_kind: Counter[str] = field(default_factory=Counter)


def _referrer_host(referrer: str | None) -> str | None:
    if not referrer:
        return None
    try:
        return (urlsplit(referrer).hostname or None) and urlsplit(referrer).hostname[:255]
    except ValueError:
        return None


_NO_COUNTRIES = CountryLookup()  # the embedded table only: for rows built outside a recorder


def to_row(hit: Hit, countries: CountryLookup = _NO_COUNTRIES) -> Row:
    kind, app = (hit.kind, hit.app) if hit.kind is not None else classify(hit.user_agent)
    if hit.is_head:
        kind = "bot"  # a HEAD is a probe (link checkers, unfurl pre-flights), never a person
    device = parse_device(hit.user_agent, kind)
    return (
        hit.click_id, hit.link_id, hit.campaign_id, kind, hit.channel, app, device.device,
        device.os[:64] if device.os else None,
        device.browser[:64] if device.browser else None,
        _referrer_host(hit.referrer), countries.country(hit.country, hit.ip),
        hit.visitor_hash if kind == "click" else None,
        hit.user_agent[:512] or None, hit.is_qr,
        datetime.fromtimestamp(hit.occurred_at, timezone.utc),
        ad_click_ids(hit.query),
        hit.workspace_id,
    )


# The longest the recorder holds the event loop before it lets redirects run: parsing a batch of
# new user agents in one go stalled every redirect behind it for tens of milliseconds.
SLICE_SECONDS = 0.002
COPY_CHUNK = 500  # rows per COPY; the batch's COPYs share one transaction


async def to_rows(hits: list[Hit], enrich: Callable[[Hit], Row] = to_row) -> tuple[list[Row], rollups.Tallies]:
    """Enrich a batch and tally its roll-up additions, in slices the event loop interleaves."""
    rows: list[Row] = []
    clock = time.perf_counter
    deadline = clock() + SLICE_SECONDS
    for hit in hits:
        rows.append(enrich(hit))
        if clock() >= deadline:
            await asyncio.sleep(0)
            deadline = clock() + SLICE_SECONDS
    tallies: rollups.Tallies | None = None
    for start in range(0, len(rows), COPY_CHUNK):
        tallies = rollups.tally(_facts(rows[start:start + COPY_CHUNK]), into=tallies)
        await asyncio.sleep(0)
    return rows, tallies if tallies is not None else rollups.tally([])


def _facts(rows: list[Row]) -> list[tuple]:
    return [tuple(r[i] for i in _ROLLUP_FACTS) for r in rows]


def _for_copy(row: Row) -> Row:
    # asyncpg's COPY takes json columns as text (SQLAlchemy's inserts encode the dict themselves).
    ids = row[_AD_CLICK_IDS]
    return row if ids is None else (*row[:_AD_CLICK_IDS], json.dumps(ids), *row[_AD_CLICK_IDS + 1:])


class Recorder:
    def __init__(
        self,
        engine: AsyncEngine,
        spool_dir: Path,
        *,
        interval: float = 0.25,
        max_buffer: int = 200_000,
        on_written: Callable[[Iterable[tuple[int, int]]], None] | None = None,
        countries: CountryLookup | None = None,
    ) -> None:
        self._engine = engine
        self._spool_dir = spool_dir
        self._interval = interval
        self._max_buffer = max_buffer
        self._on_written = on_written
        self._buffer: list[Hit] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        self._next_replay_check = 0.0
        self._spool_file = spool_dir / f"clicks-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self.stats = RecorderStats()
        self.database_ok = True
        self.countries = countries or CountryLookup()
        self._proxy_watch = UntrustedProxyWatch()

    # -- the request side: never awaits ------------------------------------------------------
    def record(self, hit: Hit) -> None:
        self._buffer.append(hit)
        if len(self._buffer) >= self._max_buffer:
            # The database has fallen far behind: keep memory bounded by moving hits to disk.
            batch, self._buffer = self._buffer, []
            self._spool([self._to_row(h) for h in batch])

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        private_dir(self._spool_dir)
        self._task = asyncio.create_task(self._run(), name="clicktrail-recorder")

    async def stop(self) -> None:
        # No cancel: a batch cancelled halfway through its write would be neither written nor
        # spooled. The loop finishes the batch in hand and exits.
        self._stopping.set()
        if self._task is not None:
            await self._task
        await self.flush()  # drain: everything answered before shutdown is written or spooled
        self.countries.close()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self.flush()
                if self.database_ok and started >= self._next_replay_check:
                    self._next_replay_check = started + 1.0
                    await self.replay_spool()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug here must not stop recording for good
                log.exception("click recorder loop failed; continuing")
            try:
                await asyncio.wait_for(self._stopping.wait(), max(0.0, self._interval - (time.monotonic() - started)))
            except TimeoutError:
                pass

    # -- enriching: classification, device, country, ad click ids ---------------------------
    def _to_row(self, hit: Hit) -> Row:
        self._proxy_watch.saw(hit.ip)
        return to_row(hit, self.countries)

    # -- writing -----------------------------------------------------------------------------
    async def flush(self) -> None:
        async with self._lock:
            if not self._buffer:
                return
            batch, self._buffer = self._buffer, []
            rows, tallies = await to_rows(batch, self._to_row)
            try:
                await self._write(rows, fast=True, tallies=tallies)
                self.stats.written += len(rows)
                self.database_ok = True
            except Exception as exc:  # database unreachable or failing: keep the clicks on disk
                self.database_ok = False
                self.stats.batches_failed += 1
                self.stats.last_error = repr(exc)
                log.warning("could not write %d clicks (%s); spooling them", len(rows), exc)
                self._spool(rows)

    async def write(self, rows: list[Row]) -> None:
        """Write rows built elsewhere (imports, tests) now, as a batch is written: one
        transaction with the links' click counts and the reports' roll-ups."""
        await self._write(rows, fast=True)

    async def _write(self, rows: list[Row], *, fast: bool, tallies: rollups.Tallies | None = None) -> None:
        """Write rows in one transaction, with the person-click counts of their links. `tallies`:
        the rows' roll-up additions, worked out already (else here, from the rows written)."""
        if fast and self._engine.dialect.name == "postgresql":
            try:
                await self._copy(rows, tallies)
                self._report_counts(rows)
                return
            # COPY runs on the driver's connection: its errors are asyncpg's, not SQLAlchemy's.
            except (IntegrityError, IntegrityConstraintViolationError):
                log.info("COPY of %d clicks hit a constraint; inserting them one by one", len(rows))
        written = await self._insert_ignoring_duplicates(rows)
        self._report_counts(written)

    async def _copy(self, rows: list[Row], tallies: rollups.Tallies | None) -> None:
        async with self._engine.begin() as conn:
            raw = await conn.get_raw_connection()
            # Several COPYs in the one transaction: asyncpg encodes each chunk in one go, and the
            # loop runs redirects between chunks.
            for start in range(0, len(rows), COPY_CHUNK):
                await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                    "clicks", records=[_for_copy(r) for r in rows[start:start + COPY_CHUNK]], columns=list(COLUMNS)
                )
            await self._count_clicks(conn, rows, tallies)

    async def _insert_ignoring_duplicates(self, rows: list[Row]) -> list[Row]:
        async with self._engine.begin() as conn:
            link_ids = {r[_LINK_ID] for r in rows}
            existing = set((await conn.scalars(select(Link.id).where(Link.id.in_(link_ids)))).all())
            gone = [r for r in rows if r[_LINK_ID] not in existing]
            if gone:
                log.error("dropping %d clicks of erased links %s", len(gone), sorted({r[_LINK_ID] for r in gone}))
                self.stats.lost += len(gone)
            rows = [r for r in rows if r[_LINK_ID] in existing]
            if not rows:
                return []
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            table = Click.__table__
            # One Core statement, executed for many rows: compiled once and cached (SQLAlchemy
            # batches it into multi-row INSERTs itself). A statement with the rows inlined as
            # VALUES was compiled anew for every batch: 0.25 s per 500 clicks.
            result = await conn.execute(
                # No conflict target: the key is (click_id) on SQLite, (click_id, occurred_at) on
                # PostgreSQL's partitioned table (clicks/partitions.py).
                insert(table).on_conflict_do_nothing().returning(table.c.click_id),
                [dict(zip(COLUMNS, r)) for r in rows],
            )
            written_ids: set[str] = set(result.scalars().all())
            written = [r for r in rows if r[_CLICK_ID] in written_ids]
            await self._count_clicks(conn, written)
            return written

    @staticmethod
    async def _count_clicks(conn, rows: list[Row], tallies: rollups.Tallies | None = None) -> None:
        """Per-link person clicks (click limits) and the reports' roll-ups, in the batch's
        transaction: they move with the rows written, never apart from them. Links in id order,
        so that two workers' batches lock them in the same order."""
        counts = Counter(r[_LINK_ID] for r in rows if r[_KIND] == "click")
        for link_id, n in sorted(counts.items()):
            await conn.execute(update(Link).where(Link.id == link_id).values(click_count=Link.click_count + n))
        await conn.run_sync(rollups.write, tallies if tallies is not None else rollups.tally(_facts(rows)))

    def _report_counts(self, rows: list[Row]) -> None:
        for r in rows:
            self.stats.by_kind[r[_KIND]] += 1
        if self._on_written is not None:
            counts = Counter(r[_LINK_ID] for r in rows if r[_KIND] == "click")
            self._on_written(counts.items())

    # -- the spool ---------------------------------------------------------------------------
    def _spool(self, rows: list[Row]) -> None:
        try:
            private_dir(self._spool_dir)
            lines = "".join(
                json.dumps(dict(zip(COLUMNS, r), occurred_at=r[_OCCURRED_AT].timestamp()), separators=(",", ":"))
                + "\n"
                for r in rows
            )
            # Owner-only: the spool holds what the clicks table holds.
            fd = open_private(self._spool_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            with open(fd, "a", encoding="utf-8") as f:
                f.write(lines)
                f.flush()
                os.fsync(f.fileno())
            self.stats.spooled += len(rows)
        except OSError as exc:
            self.stats.lost += len(rows)
            log.error("LOST %d CLICKS: neither the database nor the spool %s could take them: %s",
                      len(rows), self._spool_file, exc)

    async def replay_spool(self) -> None:
        """Write spooled clicks (this worker's and any other's) now that the database answers."""
        if not self._spool_dir.exists():
            return
        for path in sorted(self._spool_dir.glob("clicks-*.jsonl")):
            claimed = path.with_name(f"replaying-{uuid.uuid4().hex}.jsonl")
            try:
                path.rename(claimed)  # atomic: of several workers, one gets the file
            except FileNotFoundError:
                continue
            await self._replay_file(claimed)
        for path in self._spool_dir.glob("replaying-*.jsonl"):
            if time.time() - path.stat().st_mtime > 60:  # left by a worker that died mid-replay
                await self._replay_file(path)

    async def _replay_file(self, path: Path) -> None:
        rows = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:  # a torn last line from a crash
                        log.error("skipping an unreadable spool line in %s", path)
                        self.stats.lost += 1
                        continue
                    row["occurred_at"] = datetime.fromtimestamp(row["occurred_at"], timezone.utc)
                    rows.append(tuple(row[c] for c in COLUMNS))
        try:
            for start in range(0, len(rows), 5000):
                await self._write(rows[start:start + 5000], fast=False)
        except Exception as exc:
            self.database_ok = False
            log.warning("replay of %s failed (%s); it stays for the next try", path.name, exc)
            path.rename(path.with_name(f"clicks-replay-{uuid.uuid4().hex}.jsonl"))
            return
        path.unlink()
        self.stats.replayed += len(rows)
        log.info("replayed %d spooled clicks from %s", len(rows), path.name)
