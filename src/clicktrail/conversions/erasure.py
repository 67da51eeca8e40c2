"""Erasing a customer (`clicktrail customer erase`, `POST /api/customers/erase`): what links
that person to clicks is removed, their orders stay as sales.

A customer exists here only as a keyed hash of their reference (email or shop customer id):
on identify links (`customer_clicks`: the clicks they were identified with) and on their orders
(`orders.customer_hash`, which credits their later orders to those clicks). Erasure deletes the
identify links, the signals kept for the ad platforms with their orders and the hashed email of
deliveries not yet sent, and clears the hash from the orders: the orders keep their amounts and the credit
they were given, but nothing ties them, or any click, to the person any more. The log says what
was done, never whose reference it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.clicks.models import CustomerClick
from clicktrail.conversions.models import Order
from clicktrail.outbound.models import Delivery, OrderSignals, OutboxEvent

log = logging.getLogger("clicktrail.conversions")


@dataclass(frozen=True)
class Erased:
    identify_links_removed: int
    orders_detached: int


async def erase_customer(session: AsyncSession, customer_hash: str | None) -> Erased:
    """Remove a customer's identify links and detach their orders (the caller hashes the ref)."""
    if customer_hash is None:
        return Erased(0, 0)
    links = await session.execute(delete(CustomerClick).where(CustomerClick.customer_hash == customer_hash))
    theirs = select(Order.id).where(Order.customer_hash == customer_hash)
    # What the shop passed for the ad platforms with their orders (its customer id, the buyer's
    # user agent and cookies), and the hashed email a pending delivery still holds, go too.
    await session.execute(delete(OrderSignals).where(OrderSignals.order_id.in_(theirs)))
    await session.execute(
        update(OutboxEvent).where(OutboxEvent.order_id.in_(theirs)).values(signals="{}")
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Delivery).where(Delivery.event_id.in_(select(OutboxEvent.id).where(OutboxEvent.order_id.in_(theirs))))
        .values(email_sha256=None).execution_options(synchronize_session=False)
    )
    orders = await session.execute(
        update(Order).where(Order.customer_hash == customer_hash).values(customer_hash=None)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    erased = Erased(links.rowcount or 0, orders.rowcount or 0)
    log.info("erased a customer: %d identify links removed, %d orders detached",
             erased.identify_links_removed, erased.orders_detached)
    return erased
