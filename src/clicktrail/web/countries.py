"""Where people tapped from: clicks per country for the campaign and link pages (a table with
bars and flags). Read from clicks (the roll-ups keep no country), people only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.clicks.models import Click
from clicktrail.reports.period import Period

TOP = 12  # countries listed by name; the rest are summed into one row


@dataclass(frozen=True)
class CountryRow:
    code: str | None  # ISO 3166-1 alpha-2, None: unknown
    clicks: int
    share: float  # of all clicks in the table, 0..1
    width: float  # the bar's length in percent of the longest

    @property
    def flag(self) -> str:
        """The flag emoji: the code's two letters as regional indicator symbols."""
        if not (self.code and len(self.code) == 2 and self.code.isalpha()):
            return ""
        return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in self.code.upper())


async def clicks_by_country(
    session: AsyncSession, *, campaign_id: int | None = None, link_id: int | None = None, period: Period | None = None
) -> list[CountryRow]:
    query = select(Click.country, func.count()).where(Click.kind == "click").group_by(Click.country)
    if campaign_id is not None:
        query = query.where(Click.campaign_id == campaign_id)
    if link_id is not None:
        query = query.where(Click.link_id == link_id)
    if period is not None:
        query = query.where(Click.occurred_at >= period.start, Click.occurred_at < period.end)
    counts = sorted((await session.execute(query)).all(), key=lambda r: (r[0] is None, -r[1], r[0] or ""))
    known = [(code, n) for code, n in counts if code]
    unknown = sum(n for code, n in counts if not code)
    shown, rest = known[:TOP], sum(n for _, n in known[TOP:])
    total = sum(n for _, n in counts)
    if not total:
        return []
    longest = max([n for _, n in shown] + [rest, unknown])
    rows = [(code, n) for code, n in shown] + ([("…", rest)] if rest else []) + ([(None, unknown)] if unknown else [])
    return [CountryRow(code, n, n / total, 100 * n / longest) for code, n in rows]
