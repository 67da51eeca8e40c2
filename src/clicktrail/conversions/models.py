from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clicktrail.db import Base, UTCDateTime, utcnow
from clicktrail.workspaces.models import Tenant


class OrderSource(Tenant, Base):
    """A shop backend that posts order webhooks, with the secret it signs them with."""

    __tablename__ = "order_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str] = mapped_column(String(16))
    # Kept as given: an HMAC check needs the secret itself, not a hash of it.
    secret: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the settings page tells about the shop's deliveries: the last one taken, and the last
    # one refused with why (bad signature, unreadable body, ...), so a broken setup shows itself.
    last_delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_refused_reason: Mapped[str | None] = mapped_column(String(200))


class Order(Tenant, Base):
    __tablename__ = "orders"
    __table_args__ = (
        # Idempotency lives here: a repeated or concurrent delivery cannot store a second row.
        UniqueConstraint("workspace_id", "source_id", "external_id"),
        Index("ix_orders_campaign_id_ordered_at", "campaign_id", "ordered_at"),
        Index("ix_orders_attribution_state", "attribution_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("order_sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(255))
    # Exact money: integer minor units of `currency` (cents, yen, fils).
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(24))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    click_id: Mapped[str | None] = mapped_column(String(64))
    coupon_codes: Mapped[str | None] = mapped_column(String(1000))
    landing_url: Mapped[str | None] = mapped_column(String(4096))
    customer_hash: Mapped[str | None] = mapped_column(String(64))
    attribution_state: Mapped[str] = mapped_column(String(16), default="unattributed")
    attribution_method: Mapped[str | None] = mapped_column(String(16))
    attributed_click_id: Mapped[str | None] = mapped_column(String(24))
    link_id: Mapped[int | None] = mapped_column(ForeignKey("links.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    channel: Mapped[str | None] = mapped_column(String(16))
    app: Mapped[str | None] = mapped_column(String(16))
    # The credited click's time, visitor (a person's only) and country, copied at attribution: the
    # reports' conversion rate counts the visitors who ordered without joining the clicks.
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    click_visitor_hash: Mapped[str | None] = mapped_column(String(32))
    click_country: Mapped[str | None] = mapped_column(String(2))
    raw_payload: Mapped[str] = mapped_column(Text)
    # The shop's own last-change time of the stored state (Shopify updated_at, WooCommerce
    # date_modified): an older payload delivered late never overwrites a newer one.
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OrderEvent(Tenant, Base):
    """A delivery that changed a stored order, kept for audit: a refund (with the platform's refund
    id, so a repeated refund delivery is stored, and counted, once) or an update."""

    __tablename__ = "order_events"
    __table_args__ = (
        # NULL refund ids (updates) never collide; a refund id is applied to an order once.
        UniqueConstraint("workspace_id", "order_id", "refund_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    refund_id: Mapped[str | None] = mapped_column(String(255))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    raw_payload: Mapped[str] = mapped_column(Text)


class WebhookDelivery(Tenant, Base):
    """Delivery ids of platforms without a signed timestamp (Shopify, WooCommerce), kept a week:
    a captured delivery replayed later is answered 200 and changes nothing."""

    __tablename__ = "webhook_deliveries"

    source_id: Mapped[int] = mapped_column(ForeignKey("order_sources.id", ondelete="CASCADE"), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
