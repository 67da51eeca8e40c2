"""Reports: run each report's one aggregate statement and shape its rows (no HTTP here).

Every number comes from the database (queries.py); Python only files the aggregated rows under
their key, formats money and divides for the ratios. Labels (link codes, campaign and source
names) come from a plain lookup, so that links, channels, campaigns and days without activity
still get a row of zeros.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import CompoundSelect

from clicktrail.workspaces import tenancy
from clicktrail.clicks import retention
from clicktrail.conversions.models import OrderSource
from clicktrail.errors import NotFound
from clicktrail.links.models import Campaign, Link
from clicktrail.links.service import LinkContext
from clicktrail.money import format_minor, minor_units, normalise_currency, to_decimal
from clicktrail.reports import queries, rates, rollups
from clicktrail.reports.period import Period, PeriodError, as_date
from clicktrail.reports.queries import GroupBy

CLICK_METRICS = ("clicks", "unique_visitors", "previews", "bots", "orders")
RATE_PLACES = 6


@dataclass
class Metrics:
    clicks: int = 0
    unique_visitors: int = 0
    previews: int = 0
    bots: int = 0
    orders: int = 0
    coupon_orders: int = 0
    customer_orders: int = 0
    converters: int = 0  # visitors who ordered through a click of theirs
    pending: int = 0
    all_orders: int = 0
    revenue: dict[str, int] = field(default_factory=dict)  # currency → net minor units
    # currency → its revenue in the report's currency, times 10^(its minor units) (queries.py)
    converted: dict[str, Decimal] = field(default_factory=dict)
    missing_rates: int = 0

    def add(self, part: str, row: Any) -> None:
        if part == "c":
            self.clicks, self.unique_visitors = int(row.clicks), int(row.unique_visitors)
            self.previews, self.bots = int(row.previews), int(row.bots)
        elif part == "n":
            self.orders, self.pending, self.all_orders = int(row.orders), int(row.pending), int(row.all_orders)
            self.coupon_orders, self.customer_orders = int(row.coupon_orders), int(row.customer_orders)
        elif part == "k":
            self.converters = int(row.converters)
        else:
            self.revenue[row.currency] = int(row.revenue_minor or 0)
            if row.converted is not None:
                self.converted[row.currency] = Decimal(str(row.converted))
            self.missing_rates += int(row.missing_rates or 0)

    def click_numbers(self, currency: str) -> dict[str, Any]:
        """The numbers of one row of a click report, as the API shows them."""
        return {
            "clicks": self.clicks,
            "unique_visitors": self.unique_visitors,
            "previews": self.previews,
            "bots": self.bots,
            "orders": self.orders,
            "orders_via_coupon": self.coupon_orders,
            "orders_via_customer": self.customer_orders,
            "ordering_visitors": self.converters,
            "revenue": self.revenue_out(),
            "revenue_converted": self.converted_out(currency),
            "conversion_rate": self.conversion_rate(),
            "taps_per_share": round(self.clicks / self.previews, RATE_PLACES) if self.previews else None,
            "revenue_per_click": {
                currency: per_click(minor, currency, self.clicks) for currency, minor in sorted(self.revenue.items())
            } if self.clicks else {},
        }

    def conversion_rate(self) -> float | None:
        if not self.unique_visitors:
            return None
        # An estimated visitor count (a sketch: ~1.6% error) can fall a hair below the exact
        # count of those who ordered: the rate is still at most 1.
        return round(min(self.converters / self.unique_visitors, 1.0), RATE_PLACES)

    def revenue_out(self) -> dict[str, str]:
        return {currency: format_minor(minor, currency) for currency, minor in sorted(self.revenue.items())}

    def converted_out(self, currency: str) -> dict[str, Any]:
        """The revenue in `currency`: each currency's sum scaled from its minor units, rounded
        half-even once, at the end, to the places `currency` has."""
        total = sum((amount.scaleb(-minor_units(c)) for c, amount in self.converted.items()), Decimal(0))
        places = Decimal(1).scaleb(-minor_units(currency))
        return {"currency": currency, "amount": f"{total.quantize(places, ROUND_HALF_EVEN):f}",
                "missing_rates": self.missing_rates}


def per_click(minor: int, currency: str, clicks: int) -> str:
    """Revenue / clicks, with two more places than the currency has (EUR 0.3333), half-even."""
    places = minor_units(currency) + 2
    return f"{(to_decimal(minor, currency) / clicks).quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN):f}"


@dataclass
class Aggregates:
    rows: dict[Any, Metrics]
    totals: Metrics
    estimated: bool = False  # some unique visitor count is a sketch's estimate, not exact

    def row(self, key: Any) -> Metrics:
        return self.rows.setdefault(key, Metrics())


async def check_currency(session: AsyncSession, currency: str) -> str:
    """The report's currency, upper-cased; one without any stored rate is refused (a typo would
    otherwise count every order as missing a rate)."""
    try:
        code = normalise_currency(currency)
    except ValueError as exc:
        raise PeriodError("currency", str(exc)) from None
    if not await rates.has_rates(session, code):
        raise PeriodError("currency", f"no exchange rates for {code}: import them with `clicktrail rates import`")
    return code


async def _fetch(session: AsyncSession, statement: CompoundSelect) -> list[Any]:
    try:
        return list((await session.execute(statement)).all())
    except DBAPIError as exc:  # PostgreSQL's zone database may lack a name Python knows
        if "time zone" in str(exc.orig).lower():
            raise PeriodError("tz", "time zone unknown to the database") from None
        raise


def _file(result: Iterable[Any], key_of=lambda row: row.key) -> Aggregates:
    aggregates = Aggregates({}, Metrics())
    for row in result:
        target = aggregates.totals if row.part.isupper() else aggregates.row(key_of(row))
        target.add(row.part.lower(), row)
    return aggregates


async def _aggregate(session: AsyncSession, statement: CompoundSelect, key_of=lambda row: row.key) -> Aggregates:
    result = await _fetch(session, statement)
    data = _file((row for row in result if row.part not in SKETCH_PARTS), key_of)
    _count_visitors(data, [row for row in result if row.part in SKETCH_PARTS], key_of)
    return data


SKETCH_PARTS = ("s", "v", "S", "V")


def _count_visitors(data: Aggregates, rows: list[Any], key_of) -> None:
    """Unique visitors from roll-up sketches (`s`) and edge-minute visitor hashes (`v`): merged
    per key (lower case) and for the totals (upper case, and every key's: one person in two
    campaigns is one visitor). No such rows: the counts came from the clicks, exact."""
    if not rows:
        return
    per_key: dict[Any, Any] = {}
    everyone = rollups.hll_union(rollups.LG_K)
    for row in rows:
        if row.part.islower():
            key = key_of(row)
            union = per_key.get(key)
            if union is None:
                union = per_key[key] = rollups.hll_union(rollups.LG_K)
        else:
            union = everyone
        union.update(rollups.hll_sketch.deserialize(row.sketch) if row.part in "sS" else row.visitor)
    for key, union in per_key.items():
        data.row(key).unique_visitors, estimated = _visitors(union)
        data.estimated |= estimated
        everyone.update(union.get_result(rollups.STORED))
    data.totals.unique_visitors, estimated = _visitors(everyone)
    data.estimated |= estimated


def _visitors(union: Any) -> tuple[int, bool]:
    """The count, and whether it is an estimate: a sketch that still holds the hashes themselves
    (a few hundred) has bounds that round to the same number."""
    low, high = round(union.get_lower_bound(1)), round(union.get_upper_bound(1))
    return round(union.get_estimate()), low != high


def _sorted(keys: Iterable[Any]) -> list[Any]:
    return sorted(keys, key=lambda k: (k is None, k))


def _estimated(data: Aggregates) -> dict[str, bool]:
    return {"unique_visitors_estimated": data.estimated}


def period_out(period: Period) -> dict[str, str]:
    return {"from": period.start.isoformat(), "to": period.end.isoformat(), "tz": period.tz_name}


async def _raw_since(session: AsyncSession) -> datetime | None:
    """Since when raw clicks are kept (the retention dropped older ones); None: all are."""
    return await retention.horizon(session)


def _horizon_out(raw_since: datetime | None) -> dict[str, str | None]:
    return {"raw_clicks_since": raw_since.isoformat() if raw_since else None}


def _rollup_only(day: str, period: Period, raw_since: datetime) -> bool:
    """Whether (part of) a local day is before the retention's cut: counted from roll-ups only."""
    return datetime.combine(date.fromisoformat(day), time(0), tzinfo=period.tz) < raw_since


async def campaign_report(
    session: AsyncSession, ctx: LinkContext, campaign_id: int, group_by: GroupBy, period: Period, currency: str
) -> dict[str, Any]:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("campaign not found")
    currency = await check_currency(session, currency)
    dialect = session.bind.dialect.name
    key_of = (lambda row: as_date(row.key)) if group_by in queries.BUCKETS else (lambda row: row.key)
    data = await _aggregate(session, queries.campaign_report(campaign_id, group_by, period, dialect, currency), key_of)

    labels: dict[Any, dict[str, Any]] = {}
    if group_by in ("link", "channel"):
        links = (await session.scalars(select(Link).where(Link.campaign_id == campaign_id))).all()
        for link in links:
            if group_by == "link":
                labels[link.id] = {"code": ctx.code_of(link), "channel": link.channel, "referrer": link.referrer}
            data.row(link.id if group_by == "link" else link.channel)
    elif group_by in queries.BUCKETS:
        for day in period.local_buckets(group_by):
            data.row(day.isoformat())
    if group_by == "link":  # a link moved to another campaign can still carry this one's orders
        missing = [k for k in data.rows if k is not None and k not in labels]
        if missing:
            for link in (await session.scalars(select(Link).where(Link.id.in_(missing)))).all():
                labels[link.id] = {"code": ctx.code_of(link), "channel": link.channel, "referrer": link.referrer}

    raw_since = await _raw_since(session)
    rows = []
    for key in _sorted(data.rows):
        extra = labels.get(key, {"code": None, "channel": None, "referrer": None}) if group_by == "link" else {}
        if group_by == "day" and raw_since is not None:  # only once the retention has dropped clicks
            extra = {"rollup_only": _rollup_only(key, period, raw_since)}
        rows.append({"key": key, **extra, **data.rows[key].click_numbers(currency)})
    return {
        "campaign": {"id": campaign.id, "name": campaign.name, "slug": campaign.slug},
        "group_by": group_by,
        **period_out(period),
        **_horizon_out(raw_since),
        "currency": currency,
        **_estimated(data),
        "rows": rows,
        "totals": data.totals.click_numbers(currency),
    }


async def overview(session: AsyncSession, period: Period, currency: str) -> dict[str, Any]:
    """One row per campaign, all from the roll-ups and the orders (queries.overview)."""
    currency = await check_currency(session, currency)
    data = await _aggregate(session, queries.overview(period, session.bind.dialect.name, currency,
                                                    tenancy.require_current(session)))
    names = {c.id: (c.name, c.slug) for c in (await session.execute(select(Campaign.id, Campaign.name, Campaign.slug))).all()}
    for campaign_id in names:
        data.row(campaign_id)
    rows = []
    for key in _sorted(data.rows):
        name, slug = names.get(key, (None, None))
        rows.append({"key": key, "name": name, "slug": slug, **data.rows[key].click_numbers(currency)})
    return {**period_out(period), "currency": currency, **_horizon_out(await _raw_since(session)), **_estimated(data),
            "rows": rows, "totals": data.totals.click_numbers(currency)}


async def forwarding(session: AsyncSession, campaign_id: int | None, period: Period, currency: str) -> dict[str, Any]:
    if campaign_id is not None and await session.get(Campaign, campaign_id) is None:
        raise NotFound("campaign not found")
    currency = await check_currency(session, currency)
    data = await _aggregate(session, queries.forwarding(campaign_id, period, session.bind.dialect.name, currency,
                                                      tenancy.require_current(session)),
                            lambda row: (row.key, row.key2))
    rows = []
    for channel, app in sorted(data.rows, key=lambda k: (k[0] is None, k[0] or "", k[1] is None, k[1] or "")):
        rows.append({
            "channel": channel,
            "app": app,
            "forwarded": app is not None and channel is not None and app != channel,
            **data.rows[(channel, app)].click_numbers(currency),
        })
    return {"campaign_id": campaign_id, **period_out(period), "currency": currency,
            **_horizon_out(await _raw_since(session)), **_estimated(data), "rows": rows,
            "totals": data.totals.click_numbers(currency)}


def _unattributed_numbers(m: Metrics, currency: str) -> dict[str, Any]:
    return {"orders": m.orders, "pending": m.pending, "all_orders": m.all_orders, "revenue": m.revenue_out(),
            "revenue_converted": m.converted_out(currency)}


async def unattributed(session: AsyncSession, period: Period, currency: str) -> dict[str, Any]:
    currency = await check_currency(session, currency)
    data = await _aggregate(session, queries.unattributed(period, session.bind.dialect.name, currency,
                                                        tenancy.require_current(session)))
    sources = {
        s.id: (s.name, s.platform)
        for s in (await session.execute(select(OrderSource.id, OrderSource.name, OrderSource.platform))).all()
    }
    for source_id in sources:
        data.row(source_id)
    rows = []
    for key in _sorted(data.rows):
        name, platform = sources.get(key, (None, None))
        rows.append({"key": key, "name": name, "platform": platform, **_unattributed_numbers(data.rows[key], currency)})
    return {**period_out(period), "currency": currency, "rows": rows, "totals": _unattributed_numbers(data.totals, currency)}
