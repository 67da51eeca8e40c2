"""The link export formats of other shorteners (and Clicktrail's own), read as CSV.

Each format names, by header, where the old code and the destination are; a row becomes the
fields of a new link. Where each format comes from (tests/data/imports/SOURCES.md):
- clicktrail: our own `GET /api/links/export` (EXPORT_COLUMNS below).
- yourls: the YOURLS Import/Export plugin's `source,target,hits` (source is `/keyword/`), or the
  `yourls_url` table as a database tool dumps it (`keyword,url,title,timestamp,ip,clicks`).
- bitly: the dashboard's link export; its header has changed over the years, so both spellings
  seen in the wild are read (`long_url,custom_bitlink,...` and `Link,Custom Link,Destination URL`).
- shlink: shlink-web-client's "Export" (`createdAt,domain,shortCode,shortUrl,longUrl,title,tags,visits`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from clicktrail.reports.export import FORMULA_START

ImportFormat = Literal["clicktrail", "yourls", "bitly", "shlink"]

# What `GET /api/links/export` writes, and so what `format=clicktrail` reads back.
EXPORT_COLUMNS = (
    "code", "short_url", "domain", "destination_url", "channel", "label", "campaign_id", "utm_source", "utm_medium",
    "utm_campaign", "utm_content", "utm_term", "coupon_code", "referrer", "expires_at", "max_clicks",
    "disabled", "clicks", "created_at", "preview_title", "preview_description", "preview_image_url",
)
# Columns of our own export that a new link takes over (the rest describe the old one).
CLICKTRAIL_FIELDS = (
    "channel", "label", "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "coupon_code",
    "referrer", "expires_at", "max_clicks", "disabled", "preview_title", "preview_description", "preview_image_url",
)


@dataclass(frozen=True)
class Columns:
    """Where one format keeps the code and the destination: header names, first found wins."""

    code: Sequence[str]
    destination: Sequence[str]
    code_is_url: bool = False  # the column holds a short URL ("bit.ly/abc"), not the bare code
    code_fallback: Sequence[str] = ()  # used when the code column is empty (Bitly: no custom back-half)
    extra: Sequence[str] = ()


FORMATS: dict[str, list[Columns]] = {
    "clicktrail": [Columns(("code",), ("destination_url",), extra=CLICKTRAIL_FIELDS)],
    "yourls": [Columns(("source",), ("target",)), Columns(("keyword",), ("url",))],
    "bitly": [Columns(("custom_bitlink", "custom link"), ("long_url", "destination url", "long url"), code_is_url=True,
                      code_fallback=("link", "bitlink"))],
    "shlink": [Columns(("shortcode",), ("longurl",))],
}
HEADERS_EXPECTED = {
    "clicktrail": "code,destination_url,... (as GET /api/links/export writes it)",
    "yourls": "source,target,hits (the Import/Export plugin) or keyword,url,title,timestamp,ip,clicks",
    "bitly": "long_url,custom_bitlink,... or Link,Custom Link,Destination URL,...",
    "shlink": "createdAt,domain,shortCode,shortUrl,longUrl,title,tags,visits",
}


@dataclass
class Row:
    line: int  # where the record starts in the file (1 is the header)
    code: str
    destination_url: str
    fields: dict[str, str] = field(default_factory=dict)  # clicktrail's other columns, as text


class FormatError(ValueError):
    """The file as a whole cannot be read in this format (its header, its encoding, its size)."""


@dataclass
class _Plan:
    code: int | None
    fallback: int | None
    destination: int
    code_is_url: bool
    extra: dict[str, int]


def _plan(fmt: str, header: list[str]) -> _Plan:
    names = [h.strip().lstrip("\ufeff").lower() for h in header]

    def find(candidates: Sequence[str]) -> int | None:
        return next((names.index(c) for c in candidates if c in names), None)

    for columns in FORMATS[fmt]:
        code, fallback, destination = find(columns.code), find(columns.code_fallback), find(columns.destination)
        if destination is not None and (code is not None or fallback is not None):
            extra = {name: i for name in columns.extra if (i := find((name,))) is not None}
            return _Plan(code, fallback, destination, columns.code_is_url, extra)
    raise FormatError(f"line 1: not a {fmt} export; its header should be {HEADERS_EXPECTED[fmt]}")


def _code(value: str, is_url: bool) -> str:
    value = value.strip()
    if is_url and value:  # "bit.ly/abc", "https://go.shop.example/abc"
        path = urlsplit(value if "//" in value else f"//{value}").path
        return path.strip("/")
    return value.strip("/")  # YOURLS' plugin writes "/keyword/"


def _unguarded(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:2] in FORMULA_START else value


class RowReader:
    """Rows of one format from text arriving in pieces: `feed` returns the records completed so
    far (a quoted field may hold line breaks, so a record ends only where quotes are balanced)."""

    def __init__(self, fmt: str) -> None:
        self._fmt = fmt
        self._plan: _Plan | None = None
        self._pending = ""
        self._lines_done = 0

    def feed(self, text: str, final: bool = False) -> Iterator[Row]:
        self._pending += text
        if final:
            complete, self._pending = self._pending, ""
        else:
            complete = self._complete_records()
        if complete:
            yield from self._rows(complete)

    def _complete_records(self) -> str:
        cut = self._pending.rfind("\n")
        while cut != -1 and self._pending.count('"', 0, cut) % 2:
            cut = self._pending.rfind("\n", 0, cut)
        if cut == -1:
            return ""
        complete, self._pending = self._pending[:cut + 1], self._pending[cut + 1:]
        return complete

    def _rows(self, text: str) -> Iterator[Row]:
        reader = csv.reader(io.StringIO(text, newline=""))
        offset, last = self._lines_done, 0
        for cells in reader:
            line = offset + last + 1
            last = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if self._plan is None:
                self._plan = _plan(self._fmt, cells)
                continue
            yield self._row(line, cells)
        self._lines_done = offset + reader.line_num

    def _row(self, line: int, cells: list[str]) -> Row:
        plan = self._plan
        assert plan is not None

        def cell(i: int | None) -> str:
            return cells[i].strip() if i is not None and i < len(cells) else ""

        code = _code(cell(plan.code), plan.code_is_url) or _code(cell(plan.fallback), plan.code_is_url)
        row = Row(line, code, cell(plan.destination), {name: cell(i) for name, i in plan.extra.items() if cell(i)})
        if self._fmt == "clicktrail":  # our export guards values against spreadsheet formulas: undo it
            row.code = _unguarded(row.code)
            row.fields = {k: _unguarded(v) for k, v in row.fields.items()}
        return row

    def finish(self) -> None:
        if self._plan is None:
            raise FormatError(f"the file is empty: a {self._fmt} export starts with {HEADERS_EXPECTED[self._fmt]}")
