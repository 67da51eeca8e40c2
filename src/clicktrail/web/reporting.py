"""The numbers of the pages, from the reports service (the same numbers as the API and CSV)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.links.service import LinkContext
from clicktrail.reports import rates
from clicktrail.reports import service as reports
from clicktrail.reports.period import Period, PeriodError, parse_period
from clicktrail.web.charts import ACCENT, Bar, bar_chart, daily_chart
from clicktrail.web.format import channel_name, money, number

__all__ = ["Period", "PeriodError", "parse_period", "overview", "campaign_numbers", "CampaignNumbers"]

def zero(currency: str) -> dict[str, Any]:
    """The numbers of a row without activity."""
    return {"clicks": 0, "unique_visitors": 0, "previews": 0, "bots": 0, "orders": 0, "orders_via_coupon": 0,
            "orders_via_customer": 0, "ordering_visitors": 0, "revenue": {}, "conversion_rate": None,
            "taps_per_share": None, "revenue_per_click": {},
            "revenue_converted": {"currency": currency, "amount": "0", "missing_rates": 0}}


async def report_currency(session: AsyncSession, wanted: str) -> str:
    """The workspace's reporting currency, or the euro while no rate of it is stored (the pages
    still show)."""
    if await rates.has_rates(session, wanted):
        return wanted
    return rates.BASE_CURRENCY


async def overview(session: AsyncSession, period: Period, currency: str) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    report = await reports.overview(session, period, currency)
    return {row["key"]: row for row in report["rows"] if row["key"] is not None}, report["totals"]


WEEKLY_AFTER_DAYS = 62  # two months of daily columns still read; beyond, weeks
MONTHLY_AFTER_DAYS = 366  # and beyond a year, months


def chart_unit(period: Period) -> str:
    """The bucket of a period's charts: day, or week / month for long ranges."""
    days = len(period.local_days())
    return "day" if days <= WEEKLY_AFTER_DAYS else "week" if days <= MONTHLY_AFTER_DAYS else "month"


@dataclass
class CampaignNumbers:
    totals: dict[str, Any]
    by_link: dict[int, dict[str, Any]]
    by_channel: list[dict[str, Any]] = field(default_factory=list)  # rows with previews: taps per share
    daily: Any = None
    revenue_chart: Any = None
    apps_chart: Any = None
    matrix_apps: list[str | None] = field(default_factory=list)
    matrix: list[tuple[str, list[dict[str, Any] | None]]] = field(default_factory=list)
    has_revenue: bool = False
    visitors_estimated: bool = False  # unique visitors beyond the sketches' exact range
    unit: str = "day"  # of the clicks-and-orders chart
    forwarding_headline: str | None = None


async def campaign_numbers(session: AsyncSession, ctx: LinkContext, campaign_id: int, period: Period,
                           currency: str) -> CampaignNumbers:
    by_link = await reports.campaign_report(session, ctx, campaign_id, "link", period, currency)
    unit = chart_unit(period)
    by_day = await reports.campaign_report(session, ctx, campaign_id, unit, period, currency)
    by_channel = await reports.campaign_report(session, ctx, campaign_id, "channel", period, currency)
    by_app = await reports.campaign_report(session, ctx, campaign_id, "app", period, currency)
    forwarding = await reports.forwarding(session, campaign_id, period, currency)
    totals = by_link["totals"]
    numbers = CampaignNumbers(totals=totals, by_link={r["key"]: r for r in by_link["rows"] if r["key"] is not None},
                              visitors_estimated=by_link["unique_visitors_estimated"])

    numbers.by_channel = [r for r in by_channel["rows"] if r["previews"]]
    days = by_day["rows"]
    if totals["clicks"] or totals["orders"]:
        numbers.daily = daily_chart([r["key"] for r in days], [r["clicks"] for r in days], [r["orders"] for r in days],
                                    unit)
    numbers.unit = unit

    if totals["revenue"]:
        numbers.has_revenue = True
        # One scale, one currency: every channel's revenue converted to the report's currency.
        bars = [
            Bar(channel_name(r["key"]), float(c["amount"]), money(c["amount"], currency))
            for r in by_channel["rows"] if float((c := r["revenue_converted"])["amount"]) > 0
        ]
        title = f"Revenue per channel, in {currency}"
        numbers.revenue_chart = bar_chart(bars, title=title, color=ACCENT) if bars else None

    app_bars = [Bar(channel_name(r["key"]), r["clicks"], number(r["clicks"])) for r in by_app["rows"] if r["clicks"]]
    numbers.apps_chart = bar_chart(app_bars, title="Clicks per detected app") if app_bars else None

    rows = [r for r in forwarding["rows"] if r["clicks"] or r["previews"] or r["orders"]]
    apps = sorted({r["app"] for r in rows}, key=lambda a: (a is None, a or ""))
    cells: dict[str, dict[str | None, dict[str, Any]]] = {}
    for r in rows:
        cells.setdefault(r["channel"] or "other", {})[r["app"]] = r
    numbers.matrix_apps = apps
    numbers.matrix = [(channel, [cells[channel].get(app) for app in apps]) for channel in sorted(cells)]
    numbers.forwarding_headline = forwarding_headline(rows)
    return numbers


def forwarding_headline(rows: list[dict[str, Any]]) -> str | None:
    """The channel whose taps were most often opened in another app, in words: "1 in 4 WhatsApp
    taps were opened in another app" (exact counts when they are not a round 1 in N)."""
    taps: dict[str, list[int]] = {}
    for r in rows:
        if r["channel"] is None:
            continue
        counts = taps.setdefault(r["channel"], [0, 0])
        counts[0] += r["clicks"]
        counts[1] += r["clicks"] if r["forwarded"] else 0
    best = max(((ch, total, moved) for ch, (total, moved) in taps.items() if moved),
               key=lambda t: (t[2] / t[1], t[1]), default=None)
    if best is None:
        return None
    channel, total, moved = best
    share = f"1 in {total // moved}" if total % moved == 0 else f"{moved} of {total}"
    return f"{share} {channel_name(channel)} tap{'s' if total != 1 else ''} {'were' if total != 1 else 'was'} opened in another app"


async def link_numbers(session: AsyncSession, ctx: LinkContext, campaign_id: int, link_id: int, period: Period,
                       currency: str) -> dict[str, Any]:
    """One link's numbers: its row of the campaign's report by link (the same numbers as there)."""
    report = await reports.campaign_report(session, ctx, campaign_id, "link", period, currency)
    return next((r for r in report["rows"] if r["key"] == link_id), zero(currency))


async def report_for_csv(session: AsyncSession, ctx: LinkContext, campaign_id: int, kind: str, period: Period,
                         currency: str) -> dict[str, Any]:
    if kind == "forwarding":
        return await reports.forwarding(session, campaign_id, period, currency)
    return await reports.campaign_report(session, ctx, campaign_id, kind, period, currency)  # type: ignore[arg-type]
