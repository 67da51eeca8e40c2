"""The period of a report (`from`, `to`, `tz`) and local-day buckets computed in SQL.

A period is half-open, [start, end), in UTC. `from`/`to` are dates (local midnight in `tz`; a
`to` date is inclusive: the whole day counts) or ISO 8601 times (an offset is honoured, a time
without one is local to `tz`). Default: the last 30 local days, today included.

Day buckets: PostgreSQL converts in SQL (`occurred_at AT TIME ZONE tz`). SQLite has no time-zone
database, so the UTC offsets in force during the period are found here with zoneinfo, and the
bucket is a CASE over the UTC instants where the offset changes: exact across DST changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Date, case, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement

from clicktrail.db import UTCDateTime
from clicktrail.params import year_problem

DEFAULT_DAYS = 30
MAX_DAYS = 3660  # ten years: bounds the work (and the SQLite CASE) of one report

UTC = timezone.utc


class PeriodError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Period:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    tz: ZoneInfo

    @property
    def tz_name(self) -> str:
        return self.tz.key

    def local_days(self) -> list[date]:
        """Every local date the period touches, in order."""
        first = self.start.astimezone(self.tz).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(self.tz).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def local_buckets(self, unit: Unit) -> list[date]:
        """The first day of every local day, week (Monday) or month the period touches."""
        return sorted({start_of(day, unit) for day in self.local_days()})


def start_of(day: date, unit: Unit) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def zone(name: str) -> ZoneInfo:
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise PeriodError("tz", f"unknown time zone: {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PeriodError("tz", f"unknown time zone: {name!r}") from None


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _parse(field: str, value: str, tz: ZoneInfo, *, end: bool) -> datetime:
    text = value.strip()
    try:
        moment = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise PeriodError(field, f"not a date (YYYY-MM-DD) or ISO 8601 time: {value!r}") from None
    if problem := year_problem(moment):
        raise PeriodError(field, problem)
    if not isinstance(moment, datetime):
        return _local_midnight(moment + timedelta(days=1) if end else moment, tz)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def parse_period(start: str | None, end: str | None, tz_name: str | None, now: datetime | None = None) -> Period:
    tz = zone(tz_name or "UTC")
    now = now or datetime.now(UTC)
    end_at = _parse("to", end, tz, end=True) if end else _local_midnight(now.astimezone(tz).date() + timedelta(days=1), tz)
    if start:
        start_at = _parse("from", start, tz, end=False)
    else:
        start_at = _local_midnight((end_at - timedelta(microseconds=1)).astimezone(tz).date() - timedelta(days=DEFAULT_DAYS - 1), tz)
    if start_at >= end_at:
        raise PeriodError("to", "`to` must be after `from`")
    if end_at - start_at > timedelta(days=MAX_DAYS):
        raise PeriodError("from", f"a report covers at most {MAX_DAYS} days")
    return Period(start_at, end_at, tz)


def offset_segments(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """[(UTC instant from which it holds, offset in seconds)] covering [start, end); the first
    segment holds from `start`. Offsets are sampled every 6 hours and every change is narrowed
    down to the exact second (no zone changes its offset twice within 6 hours)."""

    def offset(posix: int) -> int:
        return int(datetime.fromtimestamp(posix, tz).utcoffset().total_seconds())  # type: ignore[union-attr]

    first, last = int(start.timestamp()), int(end.timestamp()) + 1
    segments = [(start, offset(first))]
    probe = first
    while probe < last:
        nxt = min(probe + 6 * 3600, last)
        if offset(nxt) != segments[-1][1]:
            lo, hi = probe, nxt  # the old offset holds at lo, the new one at hi: narrow to 1 s
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(mid) == segments[-1][1] else (lo, mid)
            at = datetime.fromtimestamp(hi, UTC)
            if at < end:  # (at > start: hi > first)
                segments.append((at, offset(hi)))
        probe = nxt
    return segments


Unit = Literal["day", "week", "month"]
# SQLite date() modifiers from a local date to the first day of its bucket: the Monday on or
# before it (ISO weeks, local), the first of its month.
_SQLITE_START_OF = {"day": (), "week": ("-6 days", "weekday 1"), "month": ("start of month",)}


def day_bucket(column: ColumnElement, period: Period, dialect: str, unit: Unit = "day") -> ColumnElement:
    """The local date (in the period's zone) of a UTC timestamp column, computed in SQL; for
    `week` / `month` the first local day of its week (from Monday) or month."""
    if dialect == "postgresql":
        local = func.timezone(period.tz_name, column)
        return cast(local if unit == "day" else func.date_trunc(unit, local), Date)
    segments = offset_segments(period.tz, period.start, period.end)
    start_of = _SQLITE_START_OF[unit]

    # SQLite keeps times to the millisecond: 23:59:59.999999 would round up to the next day, so
    # the fraction is cut off first (the stored text is "YYYY-MM-DD HH:MM:SS.ffffff").
    whole_seconds = func.substr(column, 1, 19)

    def shifted(seconds: int) -> ColumnElement:
        return func.date(whole_seconds, f"{seconds:+d} seconds", *start_of)

    if len(segments) == 1:
        return shifted(segments[0][1])
    whens = [(column < literal(at, UTCDateTime), shifted(prev)) for (at, _), (_, prev) in zip(segments[1:], segments)]
    return case(*whens, else_=shifted(segments[-1][1]))


def as_date(value: object) -> str | None:
    """A day bucket as the database returns it (a date, or SQLite's text) → "YYYY-MM-DD"."""
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)
