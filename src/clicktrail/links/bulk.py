"""Links in bulk: importing another shortener's export (every row or none), exporting ours, and a
campaign's links from a CSV of channels and labels. No HTTP here; the routers stream bodies in."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clicktrail.db import on_commit
from clicktrail.links import service
from clicktrail.links.codes import new_nonce, slug_problem
from clicktrail.links.csv_formats import EXPORT_COLUMNS, FormatError, Row, RowReader
from clicktrail.links.models import Campaign, Link
from clicktrail.links.schemas import LinkCreate
from clicktrail.redirect.cache import NOTIFY_CHANNEL, LinkCache, payload
from clicktrail.reports.export import _cell as csv_cell
from clicktrail.vocabulary import CHANNELS
from clicktrail.workspaces import tenancy

MAX_ROWS = 10_000
MAX_BYTES = 32 * 1024 * 1024  # 10,000 rows of long URLs and cards fit with room to spare
_IN_CHUNK = 500  # values per IN (...) list: well under SQLite's 999 parameters


@dataclass
class Problem:
    line: int
    message: str


class Refused(Exception):
    """The file cannot be imported; `problems` names every bad line (nothing was stored)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} bad line(s)")
        self.problems = problems

    def detail(self) -> list[dict[str, Any]]:
        return [{"loc": ["body", p.line], "line": p.line, "msg": p.message, "type": "value_error"}
                for p in self.problems]


async def read_rows(chunks: AsyncIterator[bytes], fmt: str) -> list[Row]:
    """The rows of an export as it arrives: refused at the first sign of too much, or of a file
    that is not this format, without reading the rest."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    reader = RowReader(fmt)
    rows: list[Row] = []
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > MAX_BYTES:
                raise Refused([Problem(0, f"the file is over {MAX_BYTES // (1024 * 1024)} MB")])
            rows.extend(reader.feed(decoder.decode(chunk)))
            if len(rows) > MAX_ROWS:
                raise Refused([Problem(rows[MAX_ROWS].line, f"at most {MAX_ROWS:,} links per file")])
        rows.extend(reader.feed(decoder.decode(b"", final=True), final=True))
        reader.finish()
    except UnicodeDecodeError:
        raise Refused([Problem(0, "the file is not UTF-8 text")]) from None
    except FormatError as exc:
        raise Refused([Problem(1 if str(exc).startswith("line 1") else 0, str(exc))]) from None
    except csv.Error as exc:
        raise Refused([Problem(0, f"the file is not valid CSV: {exc}")]) from None
    if len(rows) > MAX_ROWS:
        raise Refused([Problem(rows[MAX_ROWS].line, f"at most {MAX_ROWS:,} links per file")])
    return rows


async def check_domain(session: AsyncSession, ctx: service.LinkContext, domain: str | None) -> str:
    """The domain every imported link goes on ('' for the default one), refused when it is not
    one of the workspace's."""
    if domain is None:
        return ""
    try:
        return await ctx.domain_for(session, domain)
    except service.Invalid as exc:
        raise Refused([Problem(0, exc.message)]) from None


def _message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"] if p != "body")
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(parts)


_FALSE_TRUE = {"": False, "false": False, "0": False, "no": False, "true": True, "1": True, "yes": True}


def _link_values(
    row: Row, ctx: service.LinkContext, campaign: Campaign | None, channel: str | None, domain: str
) -> dict[str, Any] | str:
    """The columns of the new link, or why this row cannot be one."""
    if any("\x00" in v for v in (row.code, row.destination_url, *row.fields.values())):
        return "the line contains a NUL character"
    if not row.code:
        return "no short code in this line"
    if not row.destination_url:
        return "no destination URL in this line"
    if problem := slug_problem(row.code, imported=True):
        return problem
    f = row.fields
    disabled = _FALSE_TRUE.get(f.get("disabled", "").lower())
    if disabled is None:
        return "disabled: true or false"
    preview = None
    if f.get("preview_title"):
        preview = {"title": f["preview_title"], "description": f.get("preview_description"),
                   "image_url": f.get("preview_image_url")}
    try:
        data = LinkCreate(
            destination_url=row.destination_url, channel=f.get("channel") or channel or "other",
            campaign_id=campaign.id if campaign else None, slug=row.code, label=f.get("label"), preview=preview,
            **{k: f[k] for k in (*service.UTM_FIELDS, "coupon_code", "referrer", "expires_at", "max_clicks") if k in f},
        )
    except ValidationError as exc:
        return _message(exc)
    try:
        ctx.check_destination(data.destination_url or "")
        if data.preview is not None:
            ctx.check_preview(data.preview)
    except service.Invalid as exc:
        return f"{exc.loc[-1]}: {exc.message}"
    utm = service._utm_defaults(data.channel, None, campaign)
    utm.update({k: getattr(data, k) for k in service.UTM_FIELDS if getattr(data, k) is not None})
    if not utm.get("utm_content"):
        utm["utm_content"] = row.code
    return {
        "nonce": new_nonce(), "slug": row.code, "domain": domain, "campaign_id": data.campaign_id, "destination_url": data.destination_url,
        "channel": data.channel, "coupon_code": service.normalise_coupon(data.coupon_code), "referrer": data.referrer,
        "label": data.label, "expires_at": data.expires_at, "max_clicks": data.max_clicks, "disabled": disabled,
        "click_count": 0,
        "preview_title": data.preview.title if data.preview else None,
        "preview_description": data.preview.description if data.preview else None,
        "preview_image_url": data.preview.image_url if data.preview else None,
        **utm,
    }


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start:start + _IN_CHUNK]


async def _clashes(session: AsyncSession, rows: list[tuple[int, dict[str, Any]]], problems: list[Problem],
                   campaign_id: int | None, domain: str) -> None:
    """Codes and coupons used twice in the file, or already taken, named line by line."""
    first_code: dict[str, int] = {}
    first_coupon: dict[str, int] = {}
    for line, values in rows:
        if (earlier := first_code.setdefault(values["slug"], line)) != line:
            problems.append(Problem(line, f"the code '{values['slug']}' is also on line {earlier}"))
        if (coupon := values["coupon_code"]) and (earlier := first_coupon.setdefault(coupon, line)) != line:
            problems.append(Problem(line, f"the coupon code '{coupon}' is also on line {earlier}"))
    taken: set[str] = set()
    for part in _chunks(list(first_code)):
        # Codes are unique per domain in the whole installation (the default domain is everyone's).
        query = select(Link.slug).where(Link.domain == domain, Link.slug.in_(part))
        taken.update((await session.scalars(query.execution_options(**{tenancy.ALL_WORKSPACES: True}))).all())
    used: set[str] = set()
    campaign_filter = Link.campaign_id.is_(None) if campaign_id is None else Link.campaign_id == campaign_id
    for part in _chunks(list(first_coupon)):
        used.update((await session.scalars(select(Link.coupon_code).where(Link.coupon_code.in_(part), campaign_filter))).all())
    for line, values in rows:
        if values["slug"] in taken and first_code[values["slug"]] == line:
            problems.append(Problem(line, f"the code '{values['slug']}' is taken by an existing link"))
        if values["coupon_code"] in used and first_coupon[values["coupon_code"]] == line:
            problems.append(Problem(line, f"the coupon code '{values['coupon_code']}' is already used in this campaign"))


async def import_links(
    session: AsyncSession, ctx: service.LinkContext, rows: list[Row], *, campaign_id: int | None, channel: str | None,
    domain: str | None = None,
) -> list[Link]:
    """Make a link of every row, keeping each row's old code as its slug; any bad row refuses them all.
    `domain` (as stored: '' for the default one) defaults to the campaign's."""
    campaign = await service.get_campaign(session, campaign_id) if campaign_id is not None else None
    if channel is not None and channel not in CHANNELS:
        raise Refused([Problem(0, f"channel: one of {', '.join(CHANNELS)}")])
    if domain is None:
        domain = campaign.domain if campaign is not None else ""
    problems: list[Problem] = []
    good: list[tuple[int, dict[str, Any]]] = []
    for row in rows:
        values = _link_values(row, ctx, campaign, channel, domain)
        if isinstance(values, str):
            problems.append(Problem(row.line, values))
        else:
            good.append((row.line, values))
    if not rows:
        problems.append(Problem(0, "the file has a header but no links"))
    await _clashes(session, good, problems, campaign_id, domain)
    if problems:
        raise Refused(sorted(problems, key=lambda p: p.line))
    return await _insert(session, [values for _line, values in good])


async def _insert(session: AsyncSession, values: list[dict[str, Any]]) -> list[Link]:
    # One multi-row INSERT ... RETURNING per few hundred links instead of two flushes per link.
    if (workspace_id := tenancy.current(session)) is not None:  # no flush stamps these rows
        values = [{**v, "workspace_id": workspace_id} for v in values]
    links = list((await session.scalars(insert(Link).returning(Link), values)).all())
    links.sort(key=lambda link: link.id)
    return links


async def new_codes(
    session: AsyncSession, cache: LinkCache | None, codes: Sequence[str], domain: str | None = None
) -> None:
    """Codes that found nothing until now (and may be cached as such) lead somewhere from the
    commit on: here at once, in other workers by NOTIFY (one statement for all of them).
    `domain`: theirs ('' the default one); None: on every domain."""
    if session.bind is not None and session.bind.dialect.name == "postgresql" and codes:
        prefix = payload(None, domain, "")  # ":<domain>:" and the code after it
        await session.execute(
            text("SELECT pg_notify(:channel, :prefix || code) FROM unnest(CAST(:codes AS text[])) AS code"),
            {"channel": NOTIFY_CHANNEL, "prefix": prefix, "codes": list(codes)},
        )
    if cache is not None:
        on_commit(session, lambda: [cache.invalidate(None, domain, code) for code in codes])


async def channel_links(
    session: AsyncSession, ctx: service.LinkContext, campaign_id: int, content: str
) -> list[Link]:
    """A campaign's links from `channel,label` lines (a header line is skipped): several links per
    channel when each has its own label (one per WhatsApp group, say)."""
    await service.get_campaign(session, campaign_id)  # 404 before reading a line for nothing
    problems: list[Problem] = []
    wanted: list[LinkCreate] = []
    reader = csv.reader(io.StringIO(content.lstrip("\ufeff"), newline=""))
    try:
        for cells in reader:
            line = reader.line_num
            cells = [c.strip() for c in cells]
            if any("\x00" in c for c in cells):  # no column takes it (PostgreSQL refuses it in text)
                problems.append(Problem(line, "the line contains a NUL character"))
                continue
            if not any(cells) or (not wanted and not problems and cells[0].lower() == "channel"):
                continue
            if len(cells) > 2:
                problems.append(Problem(line, f"expected channel,label but found {len(cells)} columns"))
                continue
            try:
                wanted.append(LinkCreate(channel=cells[0].lower(), label=cells[1] if len(cells) > 1 and cells[1] else None,
                                         campaign_id=campaign_id))
            except ValidationError as exc:
                problems.append(Problem(line, _message(exc)))
            if len(wanted) + len(problems) > MAX_ROWS:
                raise Refused([Problem(line, f"at most {MAX_ROWS:,} links at once")])
    except csv.Error as exc:
        raise Refused([Problem(reader.line_num, f"not valid CSV: {exc}")]) from None
    if not wanted and not problems:
        problems.append(Problem(0, "no lines: one per link, as channel,label"))
    if problems:
        raise Refused(problems)
    return [await service.create_link(session, ctx, data) for data in wanted]


async def export_csv(
    sessionmaker: async_sessionmaker[AsyncSession], ctx: service.LinkContext, workspace_id: int,
    campaign_id: int | None = None, channel: str | None = None,
) -> AsyncIterator[str]:
    """The workspace's links as CSV, a thousand rows per query, so a big export never sits in memory."""
    yield _line(EXPORT_COLUMNS)
    after = 0
    while True:
        async with sessionmaker() as session:
            tenancy.enter(session, workspace_id)  # a session of its own, outside the request's
            query = select(Link).where(Link.id > after).order_by(Link.id).limit(1000)
            if campaign_id is not None:
                query = query.where(Link.campaign_id == campaign_id)
            if channel is not None:
                query = query.where(Link.channel == channel)
            links = list((await session.scalars(query)).all())
        if not links:
            return
        yield "".join(_line(_export_row(ctx, link)) for link in links)
        after = links[-1].id


def _export_row(ctx: service.LinkContext, link: Link) -> list[Any]:
    preview = ctx.preview_of(link)
    return [
        ctx.code_of(link), ctx.short_url(link), ctx.host_of(link.domain), link.destination_url, link.channel, link.label, link.campaign_id,
        *(getattr(link, f) for f in service.UTM_FIELDS), link.coupon_code, link.referrer,
        _iso(link.expires_at), link.max_clicks, link.disabled, link.click_count, _iso(link.created_at),
        preview.title if preview else None, preview.description if preview else None,
        preview.image_url if preview else None,
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _line(cells: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([csv_cell(c) for c in cells])
    return out.getvalue()
