"""Destinations (webhooks, integrations), the outbox written with each order change, and the
deliveries log. No HTTP.

`order_changed` is what the conversions service calls, in its own transaction, after it has
stored or changed an order: with no destination configured it costs one small query.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.clicks.models import Click
from clicktrail.conversions.models import Order
from clicktrail.db import on_commit, utcnow
from clicktrail.errors import Conflict, Invalid, NotFound
from clicktrail.links.models import Campaign, Link
from clicktrail.money import format_minor
from clicktrail.outbound import addresses, webhooks, wakeup
from clicktrail.outbound.models import Delivery, Destination, OrderSignals, OutboxEvent
from clicktrail.outbound.outgoing import Endpoints, Job
from clicktrail.outbound.schemas import (
    CircuitOut, DeliveryOut, Ga4Create, IntegrationCreate, IntegrationOut, MetaCreate, WebhookOut, WebhookWithSecret,
)
from clicktrail.outbound.sealing import Sealer
from clicktrail.settings import Settings

if TYPE_CHECKING:
    from clicktrail.conversions.platforms import OrderData

INTEGRATIONS = ("ga4", "meta", "tiktok")
PAID = ("paid", "partially_refunded", "refunded")  # an order that was paid, whatever came back since
SIGNAL_KEYS = ("ga", "fbp", "fbc", "ttp", "user_agent", "customer_id")
AD_CLICK_IDS = ("fbclid", "ttclid", "gclid")  # of a click: Meta's fbc and TikTok's ttclid are built from them


@dataclass(frozen=True)
class OutboundContext:
    sealer: Sealer
    allow_private: bool
    endpoints: Endpoints

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundContext:
        return cls(
            sealer=Sealer(settings.resolved_secret_key),
            allow_private=settings.outbound_allow_private,
            endpoints=Endpoints(settings.ga4_collect_url, settings.meta_graph_url, settings.tiktok_events_url),
        )


# --- destinations ----------------------------------------------------------------------------


def circuit_of(d: Destination) -> CircuitOut:
    paused = d.paused_until is not None and d.paused_until > utcnow()
    return CircuitOut(state="paused" if paused else "active", consecutive_failures=d.consecutive_failures,
                      paused_until=d.paused_until if paused else None, last_error=d.last_error)


def webhook_out(d: Destination, secret: str | None = None) -> WebhookOut:
    overlap = d.previous_secret_until if d.previous_secret_until and d.previous_secret_until > utcnow() else None
    fields: dict[str, Any] = dict(id=d.id, url=d.url, events=(d.events or "").split(), created_at=d.created_at,
                                  secret_rotated_at=d.secret_rotated_at, previous_secret_expires_at=overlap,
                                  circuit=circuit_of(d))
    return WebhookWithSecret(**fields, secret=secret) if secret else WebhookOut(**fields)


def integration_out(d: Destination) -> IntegrationOut:
    name = {"ga4": "measurement_id", "meta": "pixel_id", "tiktok": "pixel_code"}[d.kind]
    return IntegrationOut(id=d.id, kind=d.kind, send_hashed_email=d.send_hashed_email, created_at=d.created_at,
                          circuit=circuit_of(d), **{name: d.account_id})


async def create_webhook(session: AsyncSession, ctx: OutboundContext, url: str, events: list[str]) -> WebhookWithSecret:
    try:
        await addresses.resolve(url, ctx.allow_private)
    except addresses.UnsafeURL as exc:
        raise Invalid("url", str(exc)) from None
    secret = webhooks.new_secret()
    hook = Destination(kind="webhook", url=url, events=" ".join(events), secret_sealed=ctx.sealer.seal(secret),
                       send_hashed_email=False, consecutive_failures=0)
    session.add(hook)
    await session.flush()
    return webhook_out(hook, secret)  # type: ignore[return-value]


async def get_destination(session: AsyncSession, destination_id: int, kinds: tuple[str, ...]) -> Destination:
    destination = await session.get(Destination, destination_id)
    if destination is None or destination.kind not in kinds:
        raise NotFound("webhook not found" if kinds == ("webhook",) else "integration not found")
    return destination


async def list_destinations(session: AsyncSession, kinds: tuple[str, ...], limit: int, before_id: int | None) -> list[Destination]:
    query = select(Destination).where(Destination.kind.in_(kinds)).order_by(Destination.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(Destination.id < before_id)
    return list((await session.scalars(query)).all())


async def rotate_webhook_secret(session: AsyncSession, ctx: OutboundContext, hook_id: int,
                                previous_valid: timedelta) -> WebhookWithSecret:
    """A new secret, signing from the next try on (pending deliveries included); the old one signs
    beside it for `previous_valid`, so the receiver can change over without losing a delivery."""
    hook = await get_destination(session, hook_id, ("webhook",))
    secret, now = webhooks.new_secret(), utcnow()
    hook.previous_secret_sealed = hook.secret_sealed if previous_valid else None
    hook.previous_secret_until = now + previous_valid if previous_valid else None
    hook.secret_sealed, hook.secret_rotated_at = ctx.sealer.seal(secret), now
    await session.flush()
    return webhook_out(hook, secret)  # type: ignore[return-value]


async def create_integration(session: AsyncSession, ctx: OutboundContext, data: IntegrationCreate) -> IntegrationOut:
    if isinstance(data, Ga4Create):
        account, secret, hashed = data.measurement_id, data.api_secret, False
    elif isinstance(data, MetaCreate):
        account, secret, hashed = data.pixel_id, data.access_token, data.send_hashed_email
    else:
        account, secret, hashed = data.pixel_code, data.access_token, data.send_hashed_email
    taken = await session.scalar(select(Destination.id).where(Destination.kind == data.kind, Destination.account_id == account))
    if taken is not None:
        raise Conflict(f"this {data.kind} integration exists already (id {taken})")
    integration = Destination(kind=data.kind, account_id=account, secret_sealed=ctx.sealer.seal(secret),
                              send_hashed_email=hashed, consecutive_failures=0)
    session.add(integration)
    await session.flush()
    return integration_out(integration)


async def delete_destination(session: AsyncSession, destination_id: int, kinds: tuple[str, ...]) -> None:
    """Its pending deliveries go with it: nothing more is sent there."""
    await session.delete(await get_destination(session, destination_id, kinds))
    await session.flush()


async def test_job(session: AsyncSession, ctx: OutboundContext, destination_id: int, kinds: tuple[str, ...],
                   test_event_code: str | None) -> Job:
    """A made-up paid order of 1.00 EUR (`clicktrail-test-…`) for "send a test event": GA4 takes it
    at its validation endpoint, Meta and TikTok under the test event code, so reports stay clean."""
    d = await get_destination(session, destination_id, kinds)
    now = utcnow()
    order_id = "clicktrail-test-" + secrets.token_hex(4)
    data = {"id": 0, "source_id": None, "external_id": order_id, "customer_id": None, "amount": "1.00",
            "currency": "EUR", "status": "paid", "refunded_amount": "0.00", "created_at": now.isoformat(), "test": True,
            "attribution": {"method": "click_id", "click_id": None, "link_id": None, "campaign_id": None,
                            "campaign": "Clicktrail test", "channel": "whatsapp", "app": None}}
    body = json.dumps({"type": "order.attributed", "timestamp": now.isoformat(), "data": data}, separators=(",", ":"))
    return Job(delivery_id=0, event_id="evt_test_" + secrets.token_hex(8), type="order.attributed",
               action="webhook" if d.kind == "webhook" else "purchase", body=body,
               signals={"changed_at": now.isoformat(), "page_url": "https://example.com/clicktrail-test"},
               kind=d.kind, url=d.url, account_id=d.account_id, secret=ctx.sealer.open(d.secret_sealed),
               test_event_code=test_event_code)


# --- deliveries log ----------------------------------------------------------------------------


def delivery_out(d: Delivery, e: OutboxEvent) -> DeliveryOut:
    return DeliveryOut(
        id=d.id, event_id=e.event_id, type=e.type, action=d.action, order_id=e.order_id, status=d.status,
        attempts=d.attempts, last_status_code=d.last_status_code, last_error=d.last_error, created_at=d.created_at,
        last_attempt_at=d.last_attempt_at, next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
        delivered_at=d.delivered_at,
    )


async def list_deliveries(session: AsyncSession, destination_id: int, limit: int, before_id: int | None) -> list[DeliveryOut]:
    query = (select(Delivery, OutboxEvent).join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
             .where(Delivery.destination_id == destination_id).order_by(Delivery.id.desc()).limit(limit))
    if before_id is not None:
        query = query.where(Delivery.id < before_id)
    return [delivery_out(d, e) for d, e in (await session.execute(query)).all()]


async def retry_delivery(session: AsyncSession, destination_id: int, delivery_id: int) -> DeliveryOut:
    """Send it again now (same event id): a failed delivery is revived, a pending one hurried.
    A delivered one is sent again too, for a receiver that lost it."""
    row = (await session.execute(
        select(Delivery, OutboxEvent).join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .where(Delivery.id == delivery_id, Delivery.destination_id == destination_id)
    )).first()
    if row is None:
        raise NotFound("delivery not found")
    delivery, event = row
    if delivery.claim is not None and delivery.next_attempt_at > utcnow():
        raise Conflict("a try of this delivery is in flight; look again in a moment")
    delivery.status, delivery.next_attempt_at, delivery.claim = "pending", utcnow(), None
    on_commit(session, wakeup.notify)
    await session.execute(update(Destination).where(Destination.id == destination_id).values(paused_until=None))
    await session.flush()
    return delivery_out(delivery, event)


# --- the outbox: events written with the order change --------------------------------------------


@dataclass(frozen=True)
class OrderState:
    """What an order was before a change, to tell which events the change makes."""

    status: str
    amount_minor: int
    refunded_minor: int
    attributed: bool


def state_of(order: Order) -> OrderState:
    return OrderState(order.status, order.amount_minor, order.refunded_minor, _credited(order))


def _credited(order: Order) -> bool:
    return order.attribution_state == "attributed" and order.link_id is not None


def _event_types(order: Order, before: OrderState | None) -> list[tuple[str, int]]:
    """[(event type, refunded minor units it reports)]: events concern orders credited to a link."""
    if not _credited(order):
        return []
    if before is None or not before.attributed:
        events = [("order.attributed", 0)]
        if order.refunded_minor > 0:
            events.append(("order.refunded", order.refunded_minor))
        return events
    if order.refunded_minor > before.refunded_minor:
        return [("order.refunded", order.refunded_minor - before.refunded_minor)]
    if (order.status, order.amount_minor) != (before.status, before.amount_minor):
        return [("order.updated", 0)]
    return []


# Run on the connection (no ORM steps, so not scoped by tenancy.py): it names the workspace.
_DESTINATIONS = select(Destination.id, Destination.kind, Destination.events, Destination.send_hashed_email).where(
    Destination.workspace_id == bindparam("workspace_id"))


def _insert(session: AsyncSession):
    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert


def _signals_of(data: OrderData | None) -> dict[str, str]:
    if data is None:
        return {}
    values = {k: v for k, v in data.signals.items() if k in SIGNAL_KEYS and isinstance(v, str) and v}
    if data.customer_id:
        values["customer_id"] = data.customer_id
    return values


def email_sha256(customer_ref: str | None) -> str | None:
    """SHA-256 of the trimmed, lower-cased address, as Meta and TikTok match on; else None."""
    if not customer_ref or "@" not in customer_ref:
        return None
    return hashlib.sha256(customer_ref.strip().lower().encode()).hexdigest()


def _ad_click_ids(url: str | None) -> dict[str, str]:
    if not url:
        return {}
    try:
        query = dict(parse_qsl(urlsplit(url).query))
    except ValueError:
        return {}
    return {k: query[k][:500] for k in AD_CLICK_IDS if query.get(k)}


async def order_changed(session: AsyncSession, order: Order, before: OrderState | None, data: OrderData | None = None) -> None:
    """Write the events this change of `order` makes, and one delivery per destination that
    takes them, in the caller's transaction."""
    conn = await session.connection()
    destinations = (await conn.execute(_DESTINATIONS, {"workspace_id": order.workspace_id})).all()
    if not destinations:
        return
    shop_signals = _signals_of(data)
    if shop_signals:
        stmt = _insert(session)(OrderSignals).values(
            workspace_id=order.workspace_id, order_id=order.id, values=json.dumps(shop_signals))
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["order_id"]))
    events = _event_types(order, before)
    if not events:
        return
    now = utcnow()
    data_out, signals = await _snapshot(session, order, shop_signals, now, new=before is None)
    email = email_sha256(data.customer_ref) if data is not None else None
    for event_type, refund_minor in events:
        payload = dict(data_out)
        if event_type == "order.refunded":
            payload["refund"] = {"amount": format_minor(refund_minor, order.currency)}
        event = OutboxEvent(
            workspace_id=order.workspace_id, event_id="evt_" + secrets.token_hex(12), type=event_type, order_id=order.id, created_at=now,
            body=json.dumps({"type": event_type, "timestamp": now.isoformat(), "data": payload}, separators=(",", ":")),
            signals=json.dumps(signals),
        )
        session.add(event)
        await session.flush()
        rows = [row for d in destinations for row in _deliveries(d, event, order, refund_minor, email, now)]
        if rows:
            stmt = _insert(session)(Delivery).on_conflict_do_nothing(
                index_elements=["workspace_id", "destination_id", "dedupe_key"])
            await session.execute(stmt, rows)
            on_commit(session, wakeup.notify)


def _deliveries(d: Any, event: OutboxEvent, order: Order, refund_minor: int, email: str | None, now: datetime) -> list[dict]:
    common = dict(workspace_id=order.workspace_id, event_id=event.id, destination_id=d.id, status="pending", attempts=0, next_attempt_at=now, created_at=now)
    if d.kind == "webhook":
        return [dict(common, action="webhook", dedupe_key=event.event_id)] if event.type in (d.events or "").split() else []
    rows = []
    if order.status in PAID:
        hashed = email if d.send_hashed_email and d.kind in ("meta", "tiktok") else None
        rows.append(dict(common, action="purchase", dedupe_key=f"purchase:{order.id}", email_sha256=hashed))
    if d.kind == "ga4" and event.type == "order.refunded":
        rows.append(dict(common, action="refund", dedupe_key=f"refund:{order.id}:{order.refunded_minor}"))
    return rows


_LINK_AND_CLICK = (
    select(Link.destination_url, Link.utm_medium, Campaign.name, Click.occurred_at, Click.user_agent,
           Click.ad_click_ids)
    .outerjoin(Campaign, Campaign.id == Link.campaign_id)
    .outerjoin(Click, Click.click_id == bindparam("click_id"))
    .where(Link.id == bindparam("link_id"))
)


async def _snapshot(session: AsyncSession, order: Order, shop_signals: dict[str, str], now: datetime,
                    new: bool) -> tuple[dict, dict]:
    """The order as webhooks receive it, and what the ad platforms match on."""
    # A new order's signals are the ones it came with; a later event finds them stored.
    stored = None if new else await session.scalar(select(OrderSignals.values).where(OrderSignals.order_id == order.id))
    signals: dict[str, Any] = {**(json.loads(stored) if stored else {}), **shop_signals}
    link = (await session.execute(_LINK_AND_CLICK, {"link_id": order.link_id, "click_id": order.attributed_click_id})).first()
    signals.update(_ad_click_ids(order.landing_url))
    if link is not None and link.occurred_at is not None:
        signals["clicked_at"] = link.occurred_at.isoformat()
        signals.setdefault("user_agent", link.user_agent)
        # The ids the tap itself carried (the short URL's query) are the platforms' own record.
        signals.update({k: v for k, v in (link.ad_click_ids or {}).items() if k in AD_CLICK_IDS and v})
    signals["page_url"] = order.landing_url or (link.destination_url if link else None)
    signals["medium"] = link.utm_medium if link else None
    signals["changed_at"] = now.isoformat()
    data = {
        "id": order.id, "source_id": order.source_id, "external_id": order.external_id,
        "customer_id": signals.get("customer_id"),
        "amount": format_minor(order.amount_minor, order.currency), "currency": order.currency,
        "status": order.status, "refunded_amount": format_minor(order.refunded_minor, order.currency),
        "created_at": order.ordered_at.isoformat(),
        "attribution": {
            "method": order.attribution_method, "click_id": order.attributed_click_id, "link_id": order.link_id,
            "campaign_id": order.campaign_id, "campaign": link.name if link else None,
            "channel": order.channel, "app": order.app,
        },
    }
    return data, {k: v for k, v in signals.items() if v is not None}
