"""The orders pages: every order the shops sent, attributed or not, and one order's attribution
path (click, method, link, channel, app, refunds). Read through the conversions service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.clicks.models import Click
from clicktrail.conversions import service as conversions
from clicktrail.conversions.models import Order, OrderEvent, OrderSource
from clicktrail.links.models import Campaign, Link
from clicktrail.reports.period import PeriodError, parse_period

PAGE = 50
STATES = {"": "All orders", "attributed": "Attributed", "unattributed": "Unattributed", "pending": "Waiting for their click"}
STATUSES = {"": "Any status", "paid": "Paid", "partially_refunded": "Partly refunded", "refunded": "Refunded",
            "pending": "Not paid yet", "cancelled": "Cancelled"}
METHODS = {"click_id": "its click id", "coupon": "a referral coupon", "utm": "the landing page's UTM tags",
           "customer": "the customer's earlier click"}


@dataclass
class OrderList:
    orders: list[Order]
    sources: dict[int, OrderSource]
    campaigns: dict[int, Campaign]
    filters: dict[str, str]
    errors: dict[str, str]
    next_query: str | None
    first_query: str | None


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 12 else None


async def order_list(session: AsyncSession, request: Request, tz: str) -> OrderList:
    q = request.query_params
    filters = {
        "state": q.get("state", "") if q.get("state", "") in STATES else "",
        "status": q.get("status", "") if q.get("status", "") in STATUSES else "",
        "source": str(_int(q.get("source")) or ""), "campaign": str(_int(q.get("campaign")) or ""),
        "from": (q.get("from") or "")[:10], "to": (q.get("to") or "")[:10],
    }
    errors: dict[str, str] = {}
    since = until = None
    if filters["from"] or filters["to"]:
        try:
            period = parse_period(filters["from"] or "1900-01-01", filters["to"] or "2999-12-31", tz)
            since, until = (period.start if filters["from"] else None), (period.end if filters["to"] else None)
        except PeriodError as exc:
            errors[exc.field] = str(exc)[:1].upper() + str(exc)[1:]
    after = _int(q.get("after"))
    orders = await conversions.list_orders(
        session, source_id=_int(filters["source"]), campaign_id=_int(filters["campaign"]),
        status=filters["status"] or None, state=filters["state"] or None, since=since, until=until,
        limit=PAGE + 1, before_id=after,
    )
    more, orders = len(orders) > PAGE, orders[:PAGE]
    sources = {s.id: s for s in (await session.scalars(select(OrderSource).order_by(OrderSource.name))).all()}
    campaigns = {c.id: c for c in (await session.scalars(select(Campaign).order_by(Campaign.name))).all()}
    kept = {k: v for k, v in filters.items() if v}
    return OrderList(
        orders, sources, campaigns, filters, errors,
        next_query=urlencode({**kept, "after": orders[-1].id}) if more else None,
        first_query=urlencode(kept) if after else None,
    )


async def order_path(session: AsyncSession, order: Order) -> dict[str, Any]:
    """What credited the order: its click (when, which app, which device), the link and campaign,
    the method, and the refunds and updates the shop sent since."""
    click = await session.get(Click, order.attributed_click_id) if order.attributed_click_id else None
    link = await session.get(Link, order.link_id) if order.link_id else None
    campaign = await session.get(Campaign, order.campaign_id) if order.campaign_id else None
    events = (await session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id))).all()
    return {"click": click, "link": link, "campaign": campaign, "events": events,
            "source": await session.get(OrderSource, order.source_id), "method": METHODS.get(order.attribution_method or ""),
            "net_minor": conversions.net_minor(order)}
