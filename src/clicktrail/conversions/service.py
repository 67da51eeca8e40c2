"""Order sources, storing normalised orders (idempotently), refunds, identify, listing. No HTTP.

Idempotency is the unique constraint on (source_id, external_id): a new order is an
INSERT ... ON CONFLICT DO NOTHING, so of any number of concurrent deliveries one inserts and the
others find the stored row (locked FOR UPDATE on PostgreSQL) and merge into it, which changes
nothing when the delivery is a repeat. Refunds are rows of `order_events` unique per
(order, refund id), so a refund counts once however often it is delivered.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.conversions import attribution, redaction
from clicktrail.conversions.models import Order, OrderEvent, OrderSource, WebhookDelivery
from clicktrail.conversions.platforms import OrderData
from clicktrail.conversions.schemas import AttributionOut, OrderOut, SourceOut, SourceWithSecret, WebhookAnswer
from clicktrail.clicks.models import CustomerClick
from clicktrail.db import utcnow
from clicktrail.errors import Conflict, NotFound
from clicktrail.links.codes import CodeCodec
from clicktrail.money import format_minor
from clicktrail.outbound import service as outbound  # sales out: events written with each change
from clicktrail.settings import Settings
from clicktrail.workspaces import tenancy
from clicktrail.workspaces.models import Workspace

_RANK = {"pending": 0, "paid": 1, "refunded": 2, "cancelled": 2}  # a base status never goes back


@dataclass(frozen=True)
class ConversionContext:
    codec: CodeCodec
    base_url: str
    secret_key: str
    window: timedelta
    pending_timeout: timedelta
    click_param: str

    @classmethod
    def from_settings(cls, settings: Settings, codec: CodeCodec) -> ConversionContext:
        return cls(
            codec=codec,
            base_url=settings.base_url,
            secret_key=settings.resolved_secret_key,
            window=timedelta(days=settings.attribution_window_days),
            pending_timeout=timedelta(seconds=settings.pending_order_timeout),
            click_param=settings.click_id_param,
        )

    def with_window(self, days: int | None) -> ConversionContext:
        """This context with a workspace's own attribution window (None: the installation's)."""
        return self if days is None else replace(self, window=timedelta(days=days))

    def customer_hash(self, ref: str | None) -> str | None:
        """Keyed hash of a normalised customer reference; the reference itself is never stored."""
        if not ref or not ref.strip():
            return None
        normalised = ref.strip()
        if "@" in normalised:
            normalised = normalised.lower()
        return hmac.new(self.secret_key.encode(), b"customer:" + normalised.encode(), hashlib.sha256).hexdigest()


# --- sources -------------------------------------------------------------------------------


def _source_out(ctx: ConversionContext, source: OrderSource, with_secret: bool = False) -> SourceOut:
    fields = dict(
        id=source.id, name=source.name, platform=source.platform, webhook_url=f"{ctx.base_url}/webhooks/{source.id}",
        created_at=source.created_at, secret_rotated_at=source.secret_rotated_at,
        last_delivery_at=source.last_delivery_at, last_refused_at=source.last_refused_at,
        last_refused_reason=source.last_refused_reason,
    )
    return SourceWithSecret(**fields, secret=source.secret) if with_secret else SourceOut(**fields)


def new_secret() -> str:
    return "ctwh_" + secrets.token_urlsafe(32)


async def create_source(session: AsyncSession, ctx: ConversionContext, name: str, platform: str, secret: str | None) -> SourceOut:
    source = OrderSource(name=name.strip(), platform=platform, secret=secret or new_secret())
    session.add(source)
    await session.flush()
    return _source_out(ctx, source, with_secret=True)


async def get_source(session: AsyncSession, source_id: int) -> OrderSource:
    source = await session.get(OrderSource, source_id)
    if source is None:
        raise NotFound("order source not found")
    return source


# Statements of the webhook path, built once: each delivery only binds its values.
_sources = OrderSource.__table__
_workspaces = Workspace.__table__
# The source names the workspace its orders go to, with that workspace's attribution window.
_SOURCE_BY_ID = (
    select(_sources.c.id, _sources.c.platform, _sources.c.secret, _sources.c.workspace_id,
           _workspaces.c.attribution_window_days)
    .join(_workspaces, _workspaces.c.id == _sources.c.workspace_id).where(_sources.c.id == bindparam("id"))
)
_orders = Order.__table__
_INSERT_ORDER = {
    name: dialect.insert(_orders).on_conflict_do_nothing(index_elements=["workspace_id", "source_id", "external_id"]).returning(_orders.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


async def webhook_source(session: AsyncSession, source_id: int) -> Any:
    """(id, platform, secret) of a source, or None: one light query per webhook."""
    return (await (await session.connection()).execute(_SOURCE_BY_ID, {"id": source_id})).first()


async def source_out(session: AsyncSession, ctx: ConversionContext, source_id: int) -> SourceOut:
    return _source_out(ctx, await get_source(session, source_id))


async def list_sources(session: AsyncSession, ctx: ConversionContext, limit: int, before_id: int | None) -> list[SourceOut]:
    query = select(OrderSource).order_by(OrderSource.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(OrderSource.id < before_id)
    return [_source_out(ctx, s) for s in (await session.scalars(query)).all()]


async def rotate_secret(session: AsyncSession, ctx: ConversionContext, source_id: int, secret: str | None) -> SourceOut:
    source = await get_source(session, source_id)
    source.secret = secret or new_secret()
    source.secret_rotated_at = utcnow()
    await session.flush()
    return _source_out(ctx, source, with_secret=True)


async def delete_source(session: AsyncSession, source_id: int) -> None:
    """Erase a source and, with it, the orders it delivered."""
    await get_source(session, source_id)
    await session.execute(delete(OrderSource).where(OrderSource.id == source_id))


# --- orders --------------------------------------------------------------------------------


def _derive_status(base: str, refunded: int, amount: int) -> str:
    if refunded > 0 and refunded >= amount:
        return "refunded"
    if base == "cancelled":
        return "cancelled"
    if refunded > 0:
        return "partially_refunded"
    return base


def _base_of(status: str) -> str:
    return "paid" if status == "partially_refunded" else status


def _signals(order: Order) -> attribution.Signals:
    return attribution.Signals(
        ordered_at=order.ordered_at,
        click_id=order.click_id,
        coupon_codes=tuple(c for c in (order.coupon_codes or "").split("\n") if c),
        landing_url=order.landing_url,
        customer_hash=order.customer_hash,
    )


def _insert(session: AsyncSession):
    return (postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert)


async def _add_refunds(session: AsyncSession, platform: str, order_id: int, data: OrderData) -> bool:
    """Store refunds not applied before (what the allow-list keeps of each); True if any was new."""
    if not data.refunds:
        return False
    now = utcnow()
    rows = [
        {"workspace_id": tenancy.require_current(session), "order_id": order_id, "kind": "refund", "refund_id": rid, "amount_minor": amount, "received_at": now,
         "raw_payload": redaction.dumps(redaction.kept(platform, data.refund_payloads.get(rid), refund=True))}
        for rid, amount in data.refunds.items()
    ]
    stmt = _insert(session)(OrderEvent).on_conflict_do_nothing(index_elements=["workspace_id", "order_id", "refund_id"])
    result = await session.execute(stmt.returning(OrderEvent.id), rows)
    return bool(result.all())


async def _refund_sum(session: AsyncSession, order_id: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(OrderEvent.amount_minor), 0)).where(
            OrderEvent.order_id == order_id, OrderEvent.kind == "refund"
        )
    )
    return int(total or 0)


async def receive(session: AsyncSession, ctx: ConversionContext, source: Any, data: OrderData, body: bytes | str) -> Order:
    """Store a delivered order, or merge it into the stored one. Returns the stored order.
    Of the body, only what the platform's allow-list keeps is stored (redaction.py)."""
    raw = redaction.stored_body(source.platform, body, ctx.click_param, refund=data.amount_minor is None)
    if data.amount_minor is None:  # a refund on its own
        order = await _locked(session, source.id, data.external_id)
        if order is None:
            raise Conflict(f"order {data.external_id} is not known yet; deliver it again later")
        await _merge(session, ctx, source.platform, order, data, raw)
        return order
    now = utcnow()
    ordered_at = data.ordered_at or now
    values: dict[str, Any] = dict(
        workspace_id=tenancy.require_current(session), source_id=source.id, external_id=data.external_id[:255], amount_minor=data.amount_minor,
        currency=data.currency, ordered_at=ordered_at, received_at=now, updated_at=now,
        click_id=data.click_ids[0] if data.click_ids else None,
        coupon_codes="\n".join(data.coupon_codes)[:1000] or None,
        landing_url=_landing_url(ctx, data),
        customer_hash=ctx.customer_hash(data.customer_ref), raw_payload=raw,
        source_updated_at=data.source_updated_at,
    )
    refunded = min(data.amount_minor, max(sum(data.refunds.values()), data.refunded_total or 0))
    values["refunded_minor"] = refunded
    values["status"] = _derive_status(data.status or "paid", refunded, data.amount_minor)
    signals = attribution.Signals(
        ordered_at=ordered_at, click_id=values["click_id"], coupon_codes=tuple(data.coupon_codes),
        landing_url=values["landing_url"], customer_hash=values["customer_hash"],
    )
    credit = await attribution.attribute(session, ctx.codec, signals, ctx.window, waiting=True)
    values.update(credit.columns())
    # A Core insert of a prebuilt statement: no ORM bulk-insert machinery on the hot path.
    conn = await session.connection()
    order_id = (await conn.execute(_INSERT_ORDER[conn.dialect.name], values)).scalar()
    if order_id is not None:
        await _add_refunds(session, source.platform, order_id, data)
        order = Order(id=order_id, **values)
        await outbound.order_changed(session, order, None, data)
        return order
    # Delivered before (or right now by a concurrent request, which has committed by now).
    order = await _locked(session, source.id, data.external_id)
    assert order is not None  # the conflicting row exists: rows are never deleted under us
    await _merge(session, ctx, source.platform, order, data, raw)
    return order


def _landing_url(ctx: ConversionContext, data: OrderData) -> str | None:
    """The landing URL as stored: only the query parameters attribution reads."""
    return (redaction.landing_url(data.landing_url, ctx.click_param) or "")[:4096] or None


DELIVERY_DAYS = 7


async def note_delivery(session: AsyncSession, source_id: int) -> None:
    """A delivery passed its signature and parsed: the source's last delivery is now (to 10 s:
    a row changed on every delivery would line concurrent deliveries up behind its lock)."""
    now = utcnow()
    await (await session.connection()).execute(
        update(_sources).where(_sources.c.id == source_id, or_(
            _sources.c.last_delivery_at.is_(None), _sources.c.last_delivery_at < now - timedelta(seconds=10)))
        .values(last_delivery_at=now))


async def note_refused(session: AsyncSession, source_id: int, reason: str) -> None:
    await session.execute(update(_sources).where(_sources.c.id == source_id).values(
        last_refused_at=utcnow(), last_refused_reason=reason[:200]))


async def delivery_counts(session: AsyncSession, since: datetime) -> dict[int, int]:
    """Source id → orders and order changes it delivered since `since` (the workspace's)."""
    counts: dict[int, int] = {}
    for source_id, n in (await session.execute(
            select(Order.source_id, func.count()).where(Order.received_at >= since).group_by(Order.source_id))).all():
        counts[source_id] = n
    for source_id, n in (await session.execute(
            select(Order.source_id, func.count()).join(OrderEvent, OrderEvent.order_id == Order.id)
            .where(OrderEvent.received_at >= since).group_by(Order.source_id))).all():
        counts[source_id] = counts.get(source_id, 0) + n
    return counts


async def first_delivery(session: AsyncSession, source_id: int, delivery_id: str) -> bool:
    """Keep a delivery id (a week); False when it was kept already. One conditional insert, so
    two concurrent deliveries of the same id cannot both be first."""
    conn = await session.connection()
    insert_ = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert_(WebhookDelivery).values(workspace_id=tenancy.require_current(session), source_id=source_id, delivery_id=delivery_id[:128], received_at=utcnow())
    kept = await conn.execute(statement.on_conflict_do_nothing().returning(WebhookDelivery.source_id))
    return kept.scalar() is not None


async def forget_old_deliveries(session: AsyncSession) -> int:
    result = await session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.received_at < utcnow() - timedelta(days=DELIVERY_DAYS)))
    return result.rowcount or 0


async def find_order(session: AsyncSession, source_id: int, external_id: str) -> Order | None:
    return await session.scalar(
        select(Order).where(Order.source_id == source_id, Order.external_id == external_id[:255]))


async def _locked(session: AsyncSession, source_id: int, external_id: str) -> Order | None:
    return await session.scalar(
        select(Order)
        .where(Order.source_id == source_id, Order.external_id == external_id[:255])
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _merge(
    session: AsyncSession, ctx: ConversionContext, platform: str, order: Order, data: OrderData, raw: str
) -> None:
    """Apply an update or refund to the stored order; a repeated delivery changes nothing, and
    neither does one older than what is stored (the shop's own times say which is newer)."""
    if data.source_updated_at and order.source_updated_at and data.source_updated_at < order.source_updated_at:
        return
    if data.source_updated_at and (order.source_updated_at is None or data.source_updated_at > order.source_updated_at):
        order.source_updated_at = data.source_updated_at
    before = outbound.state_of(order)
    changed = False
    if data.amount_minor is not None and data.currency == order.currency and data.amount_minor != order.amount_minor:
        order.amount_minor, changed = data.amount_minor, True
    base = _base_of(order.status)
    if data.status and _RANK[data.status] >= _RANK[base] and data.status != base:
        base, changed = data.status, True
    refunded = order.refunded_minor
    if await _add_refunds(session, platform, order.id, data):
        refunded = max(refunded, await _refund_sum(session, order.id))
    refunded = max(refunded, data.refunded_total or 0, order.amount_minor if base == "refunded" else 0)
    refunded = min(refunded, order.amount_minor)
    if refunded != order.refunded_minor:
        order.refunded_minor = refunded
    status = _derive_status(base, refunded, order.amount_minor)
    if status != order.status:
        order.status = status
    # Signals a later delivery adds (a Stripe charge after its session carries no click id; an
    # order edited to add a coupon does): fill what was missing, then try again if uncredited.
    new_signals = False
    if order.click_id is None and data.click_ids:
        order.click_id, new_signals = data.click_ids[0], True
    if order.coupon_codes is None and data.coupon_codes:
        order.coupon_codes, new_signals = "\n".join(data.coupon_codes)[:1000], True
    if order.landing_url is None and data.landing_url:
        order.landing_url, new_signals = _landing_url(ctx, data), True
    customer_hash = ctx.customer_hash(data.customer_ref)
    if order.customer_hash is None and customer_hash:
        order.customer_hash, new_signals = customer_hash, True
    if new_signals and order.attribution_state != "attributed":
        credit = await attribution.attribute(session, ctx.codec, _signals(order), ctx.window, waiting=True)
        for key, value in credit.columns().items():
            setattr(order, key, value)
    if changed or new_signals:
        session.add(OrderEvent(order_id=order.id, kind="update", raw_payload=raw))
    if session.is_modified(order) or changed or new_signals:
        order.updated_at = utcnow()
    await session.flush()
    await outbound.order_changed(session, order, before, data)


async def retry_pending(session: AsyncSession, ctx: ConversionContext, limit: int = 500) -> int:
    """Attribute pending orders whose click has arrived, or give up on those past the timeout.
    Returns how many orders left the pending state."""
    orders = (await session.scalars(
        select(Order)
        .where(Order.attribution_state == "pending")
        .order_by(Order.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )).all()
    windows = dict((await session.execute(select(Workspace.id, Workspace.attribution_window_days))).all())
    now, done, settled = utcnow(), 0, []
    for order in orders:
        # Background work sees every workspace; each order is credited within its own.
        tenancy.enter(session, order.workspace_id)
        before = outbound.state_of(order)
        waiting = now - order.received_at < ctx.pending_timeout
        window = ctx.with_window(windows.get(order.workspace_id)).window
        credit = await attribution.attribute(session, ctx.codec, _signals(order), window, waiting=waiting)
        if credit.state != "pending":
            for key, value in credit.columns().items():
                setattr(order, key, value)
            order.updated_at = now
            done += 1
            settled.append((order, before))
    await session.flush()
    for order, before in settled:
        tenancy.enter(session, order.workspace_id)
        await outbound.order_changed(session, order, before)
    tenancy.leave(session)
    return done


async def identify(session: AsyncSession, ctx: ConversionContext, click_id: str, customer_ref: str) -> None:
    customer_hash = ctx.customer_hash(customer_ref)
    known = await session.scalar(
        select(CustomerClick.id).where(CustomerClick.customer_hash == customer_hash, CustomerClick.click_id == click_id)
    )
    if known is None:
        session.add(CustomerClick(customer_hash=customer_hash, click_id=click_id))
        await session.flush()


async def list_orders(
    session: AsyncSession, *, source_id: int | None, campaign_id: int | None, status: str | None,
    limit: int, before_id: int | None, state: str | None = None, since: datetime | None = None,
    until: datetime | None = None,
) -> list[Order]:
    """Newest first. `state`: attributed, unattributed or pending; `since`/`until`: the order
    time, from inclusive, until exclusive."""
    query = select(Order).order_by(Order.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Order.attribution_state == state)
    if since is not None:
        query = query.where(Order.ordered_at >= since)
    if until is not None:
        query = query.where(Order.ordered_at < until)
    if source_id is not None:
        query = query.where(Order.source_id == source_id)
    if campaign_id is not None:
        query = query.where(Order.campaign_id == campaign_id)
    if status is not None:
        query = query.where(Order.status == status)
    if before_id is not None:
        query = query.where(Order.id < before_id)
    return list((await session.scalars(query)).all())


async def get_order(session: AsyncSession, order_id: int) -> Order:
    order = await session.get(Order, order_id)
    if order is None:
        raise NotFound("order not found")
    return order


# --- answers -------------------------------------------------------------------------------


def attribution_out(order: Order) -> AttributionOut:
    return AttributionOut(
        method=order.attribution_method, click_id=order.attributed_click_id, link_id=order.link_id,
        campaign_id=order.campaign_id, channel=order.channel, app=order.app, state=order.attribution_state,
    )


def net_minor(order: Order) -> int:
    """What the order is worth now: nothing unless paid, and never below zero."""
    if order.status in ("pending", "cancelled"):
        return 0
    return max(0, order.amount_minor - order.refunded_minor)


def order_out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.id, source_id=order.source_id, external_id=order.external_id,
        amount=format_minor(order.amount_minor, order.currency), currency=order.currency, status=order.status,
        refunded_amount=format_minor(order.refunded_minor, order.currency),
        net_amount=format_minor(net_minor(order), order.currency),
        created_at=order.ordered_at, received_at=order.received_at, attribution=attribution_out(order),
    )


def webhook_answer(order: Order) -> WebhookAnswer:
    return WebhookAnswer(
        order_id=order.id, external_id=order.external_id, status=order.status, attribution=attribution_out(order)
    )
