"""Exchange rates: the ECB's euro reference rates, read from its CSV and kept fresh in the background.

The ECB publishes, each working day around 16:00 CET, how many units of ~30 currencies one euro
buys. Its files: `eurofxref-hist.csv` (every day since 1999: `Date,USD,JPY,...,` with ISO dates,
`N/A` where a currency had no rate that day, a trailing comma), the same zipped
(`eurofxref-hist.zip`), and the latest day alone (`eurofxref.csv`: `04 December 2026, 1.0823, ...`).
All of them are read here, as given or zipped. Reports convert with these rates in SQL (queries.py).
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import urllib.request
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clicktrail.money import normalise_currency
from clicktrail.reports.models import ExchangeRate
from clicktrail.periodic import Periodic

log = logging.getLogger("clicktrail.rates")

BASE_CURRENCY = "EUR"  # the ECB's rates are units per euro: the euro itself is 1
DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y")
BATCH = 2000
MAX_DOWNLOAD = 20 * 1024 * 1024  # the whole history zipped is ~0.6 MB; anything far larger is not it
FETCH_TIMEOUT = 30.0


class RatesFileError(ValueError):
    """The file is not the ECB's reference-rate CSV; the message says where and why."""


@dataclass(frozen=True)
class Rate:
    currency: str
    day: date
    per_eur: Decimal


def _csv_text(data: bytes) -> str:
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
                if len(names) != 1:
                    raise RatesFileError("the zip file should hold one .csv file")
                data = archive.read(names[0])
        except zipfile.BadZipFile as exc:
            raise RatesFileError(f"not a readable zip file: {exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RatesFileError("the file is not UTF-8 text") from None


def _day(text: str, line: int) -> date:
    for fmt in DATE_FORMATS:
        try:
            day = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if not 1900 <= day.year <= 2999:
            break
        return day
    raise RatesFileError(f"line {line}: {text!r} is not a date (YYYY-MM-DD)")


def parse_ecb_csv(data: bytes) -> list[Rate]:
    """Every rate of the file. Any subset of currencies, in any order; `N/A` and empty cells are
    days without a rate, not errors."""
    rows = csv.reader(io.StringIO(_csv_text(data)))
    header = [cell.strip() for cell in next(rows, [])]
    if not header or header[0].lower() != "date":
        raise RatesFileError("line 1 should start with Date, then currency codes (Date,USD,JPY,...)")
    currencies: list[str | None] = []
    for cell in header[1:]:
        if not cell:  # the ECB's trailing comma
            currencies.append(None)
            continue
        try:
            currencies.append(normalise_currency(cell))
        except ValueError:
            raise RatesFileError(f"line 1: {cell!r} is not a currency code") from None
    rates: list[Rate] = []
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        day = _day(row[0].strip(), line)
        for currency, cell in zip(currencies, row[1:]):
            value = cell.strip()
            if currency is None or value in ("", "N/A"):
                continue
            try:
                per_eur = Decimal(value)
            except InvalidOperation:
                raise RatesFileError(f"line {line}: {value!r} is not a rate of {currency}") from None
            if not per_eur.is_finite() or per_eur <= 0:
                raise RatesFileError(f"line {line}: {value!r} is not a rate of {currency}")
            if currency != BASE_CURRENCY:
                rates.append(Rate(currency, day, per_eur))
    return rates


async def store_rates(session: AsyncSession, rates: Sequence[Rate]) -> int:
    """Insert the rates, replacing any stored for the same currency and day; returns how many."""
    dialect = session.bind.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = ExchangeRate.__table__
    for start in range(0, len(rates), BATCH):
        batch = [{"currency": r.currency, "day": r.day, "per_eur": r.per_eur} for r in rates[start:start + BATCH]]
        statement = insert(table).values(batch)
        statement = statement.on_conflict_do_update(
            index_elements=["currency", "day"], set_={"per_eur": statement.excluded.per_eur})
        await session.execute(statement)
    return len(rates)


async def has_rates(session: AsyncSession, currency: str) -> bool:
    if currency == BASE_CURRENCY:
        return True
    return bool(await session.scalar(select(exists().where(ExchangeRate.currency == currency))))


async def latest_day(session: AsyncSession) -> date | None:
    return await session.scalar(select(func.max(ExchangeRate.day)))


def download(url: str, timeout: float = FETCH_TIMEOUT) -> bytes:
    """The file at `url` (blocking: run it in a thread)."""
    request = urllib.request.Request(url, headers={"User-Agent": "clicktrail-rates"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the operator's URL)
        data = response.read(MAX_DOWNLOAD + 1)
    if len(data) > MAX_DOWNLOAD:
        raise RatesFileError(f"{url} is larger than {MAX_DOWNLOAD} bytes")
    return data


class RateRefresher:
    """Fetches the rates from `url` soon after start-up and then every `interval` seconds. A host
    that cannot reach the ECB keeps the rates it has (imported by hand): a failure is logged and
    tried again next time, never fatal."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], url: str, interval: float,
                 first_delay: float = 5.0) -> None:
        self._sessionmaker = sessionmaker
        self._url = url
        self._loop = Periodic("rates", self._refresh_logged, interval, first_delay=min(first_delay, interval))

    def start(self) -> None:
        if self._url:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def refresh(self) -> int:
        data = await asyncio.to_thread(download, self._url)
        rates = parse_ecb_csv(data)
        async with self._sessionmaker() as session:
            stored = await store_rates(session, rates)
            await session.commit()
        return stored

    async def _refresh_logged(self) -> None:
        try:
            stored = await self.refresh()
            log.info("exchange rates refreshed from %s: %d rates", self._url, stored)
        except Exception as exc:  # offline, blocked, a changed file: the stored rates stay in use
            log.warning("exchange rates not refreshed from %s: %s", self._url, exc)


def currencies_of(rates: Iterable[Rate]) -> list[str]:
    return sorted({r.currency for r in rates})
