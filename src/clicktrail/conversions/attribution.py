"""Crediting an order to the share that sold it (DESIGN.md, Attribution).

In order: the click id the order carries → a referral link's coupon code → the UTM tags of the
landing URL (`utm_content` is the link code) → the customer's latest identified click → none.
A click counts only if it happened within the attribution window before the order. An order
whose click id is not in the clicks table yet waits (`pending`) while `waiting` is true.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.clicks.models import Click, CustomerClick
from clicktrail.clicks.partitions import ID_TIME_SLACK, id_time
from clicktrail.links.codes import CodeCodec
from clicktrail.links.models import Link
from clicktrail.redirect.lookup import find_link_by_code
from clicktrail.workspaces import tenancy

# A click stamped a little after the order still counts: the shop's clock and ours differ.
CLOCK_SKEW = timedelta(minutes=15)
# Core columns (not ORM attributes): the lookup runs once per webhook, and Core compiles cheaper.
_clicks = Click.__table__.c
_CLICK_COLUMNS = (_clicks.click_id, _clicks.link_id, _clicks.campaign_id, _clicks.channel, _clicks.app, _clicks.occurred_at,
                  _clicks.kind, _clicks.visitor_hash, _clicks.country)
# Core statements are not scoped by tenancy.py: each names the workspace itself. A click of
# another workspace is no click at all here.
_CLICK_BY_ID = select(*_CLICK_COLUMNS).where(_clicks.click_id == bindparam("click_id"),
                                             _clicks.workspace_id == bindparam("workspace_id"))
_CLICK_BY_ID_AND_TIME = _CLICK_BY_ID.where(_clicks.occurred_at >= bindparam("low"), _clicks.occurred_at <= bindparam("high"))


@dataclass(frozen=True)
class Credit:
    state: str  # attributed | pending | unattributed
    method: str | None = None
    click_id: str | None = None
    link_id: int | None = None
    campaign_id: int | None = None
    channel: str | None = None
    app: str | None = None
    # Of the click, for the reports' conversion rate without a join to the clicks (reports/queries.py).
    clicked_at: datetime | None = None
    visitor_hash: str | None = None  # only of a person's click (kind "click")
    country: str | None = None

    def columns(self) -> dict[str, Any]:
        """The Order columns this credit sets."""
        return {
            "attribution_state": self.state, "attribution_method": self.method,
            "attributed_click_id": self.click_id, "link_id": self.link_id,
            "campaign_id": self.campaign_id, "channel": self.channel, "app": self.app,
            "clicked_at": self.clicked_at, "click_visitor_hash": self.visitor_hash, "click_country": self.country,
        }


PENDING = Credit("pending")
NONE = Credit("unattributed")


@dataclass(frozen=True)
class Signals:
    """What an order carries that can name its share."""

    ordered_at: datetime
    click_id: str | None = None
    coupon_codes: tuple[str, ...] = ()
    landing_url: str | None = None
    customer_hash: str | None = None


def _in_window(occurred_at: datetime, ordered_at: datetime, window: timedelta) -> bool:
    return ordered_at - window <= occurred_at <= ordered_at + CLOCK_SKEW


def _from_click(method: str, row: Any) -> Credit:
    return Credit("attributed", method, row.click_id, row.link_id, row.campaign_id, row.channel, row.app,
                  row.occurred_at, row.visitor_hash if row.kind == "click" else None, row.country)


def _from_link(method: str, link: Link) -> Credit:
    return Credit("attributed", method, None, link.id, link.campaign_id, link.channel, None)


async def _by_coupon(session: AsyncSession, codes: tuple[str, ...]) -> Credit | None:
    if not codes:
        return None
    link = await session.scalar(
        select(Link).where(Link.coupon_code.in_(codes)).order_by(Link.id.desc()).limit(1)
    )
    return _from_link("coupon", link) if link is not None else None


async def _by_utm(session: AsyncSession, codec: CodeCodec, landing_url: str | None) -> Credit | None:
    if not landing_url:
        return None
    try:
        tags = dict(parse_qsl(urlsplit(landing_url).query))
    except ValueError:
        return None
    content = tags.get("utm_content", "").strip()
    if content:
        link = await find_link_by_code(session, codec, content)
        if link is not None:
            return _from_link("utm", link)
    campaign, source = tags.get("utm_campaign", "").strip(), tags.get("utm_source", "").strip()
    if campaign and source:
        # No code: the campaign's link tagged with that source (the per-channel link comes first).
        link = await session.scalar(
            select(Link).where(Link.utm_campaign == campaign, Link.utm_source == source).order_by(Link.id).limit(1)
        )
        if link is not None:
            return _from_link("utm", link)
    return None


async def _by_customer(session: AsyncSession, signals: Signals, window: timedelta) -> Credit | None:
    if not signals.customer_hash:
        return None
    row = (await session.execute(
        select(*_CLICK_COLUMNS)
        .join(CustomerClick, CustomerClick.click_id == _clicks.click_id)
        .where(
            CustomerClick.customer_hash == signals.customer_hash,
            _clicks.workspace_id == tenancy.require_current(session),
            _clicks.occurred_at >= signals.ordered_at - window,
            _clicks.occurred_at <= signals.ordered_at + CLOCK_SKEW,
        )
        .order_by(_clicks.occurred_at.desc())
        .limit(1)
    )).first()
    return _from_click("customer", row) if row is not None else None


async def attribute(
    session: AsyncSession, codec: CodeCodec, signals: Signals, window: timedelta, *, waiting: bool
) -> Credit:
    stale_click = False
    workspace_id = tenancy.require_current(session)
    if signals.click_id:
        # Straight on the connection: a Core lookup needs none of the ORM session's execution steps.
        conn = await session.connection()
        at = id_time(signals.click_id) if conn.dialect.name == "postgresql" else None
        if at is not None:
            # The id's time names the month partition to read (clicks/partitions.py).
            row = (await conn.execute(_CLICK_BY_ID_AND_TIME, {
                "click_id": signals.click_id, "workspace_id": workspace_id,
                "low": at - ID_TIME_SLACK, "high": at + ID_TIME_SLACK})).first()
        else:
            row = (await conn.execute(_CLICK_BY_ID, {"click_id": signals.click_id,
                                                     "workspace_id": workspace_id})).first()
        if row is None:
            if waiting:
                return PENDING
        elif _in_window(row.occurred_at, signals.ordered_at, window):
            return _from_click("click_id", row)
        else:
            # The landing URL belongs to that stale visit: its tags must not credit it either.
            stale_click = True
    credit = await _by_coupon(session, signals.coupon_codes)
    if credit is None and not stale_click:
        credit = await _by_utm(session, codec, signals.landing_url)
    if credit is None:
        credit = await _by_customer(session, signals, window)
    return credit or NONE
