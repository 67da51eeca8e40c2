"""Where sales go (destinations), what happened to an order (outbox events) and each
destination's copy of an event (deliveries: the rows the sender claims, tries and logs).

Every table here belongs to a workspace (workspaces.models.Tenant).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clicktrail.db import Base, UTCDateTime, utcnow
from clicktrail.workspaces.models import Tenant

DESTINATION_KINDS = ("webhook", "ga4", "meta", "tiktok")


class Destination(Tenant, Base):
    """An outbound webhook or an ad/analytics integration, with its circuit state."""

    __tablename__ = "outbound_destinations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(String(2048))  # webhooks only
    events: Mapped[str | None] = mapped_column(String(200))  # webhooks: event types, space-separated
    account_id: Mapped[str | None] = mapped_column(String(64))  # measurement_id | pixel_id | pixel_code
    # The webhook signing secret, GA4 api_secret or access token, encrypted with the
    # installation key (sealing.py): the sender needs it back, so it cannot be a hash.
    secret_sealed: Mapped[str] = mapped_column(Text)
    send_hashed_email: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # After a rotation webhooks are signed with the old secret too, until then (Standard Webhooks'
    # several signatures), so the receiver can switch without losing a delivery.
    previous_secret_sealed: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The circuit: failures in a row; past the threshold the destination rests until paused_until.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))


class OutboxEvent(Tenant, Base):
    """One change of an order, written in the transaction that made it. `body` is the exact JSON
    a webhook receives, serialised once so every try sends the same bytes under the same id."""

    __tablename__ = "outbox_events"
    __table_args__ = (UniqueConstraint("workspace_id", "event_id"), Index("ix_outbox_events_order_id", "order_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[str] = mapped_column(Text)
    # What the ad platforms match on (cookies, click ids, user agent), never sent to webhooks.
    signals: Mapped[str] = mapped_column(Text)


class Delivery(Tenant, Base):
    """One destination's copy of one event: pending until delivered, failed after 3 days,
    skipped when the platform would refuse it (a Meta event older than 7 days)."""

    __tablename__ = "outbox_deliveries"
    __table_args__ = (
        # A purchase goes to a platform once per order, however many events mention it.
        UniqueConstraint("workspace_id", "destination_id", "dedupe_key"),
        Index("ix_outbox_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_deliveries_destination_id_id", "destination_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("outbound_destinations.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))  # webhook | purchase | refund
    dedupe_key: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The sender's lease: a claim token while a try is in flight (next_attempt_at is its expiry).
    claim: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # SHA-256 of the buyer's normalised email, for a Meta/TikTok integration that asked for it:
    # held only until the delivery ends, then erased (the address itself is never stored).
    email_sha256: Mapped[str | None] = mapped_column(String(64))


class OrderSignals(Tenant, Base):
    """What the shop passed with an order for the ad platforms (the `_ga`, `_fbp`, `_ttp`,
    `_fbc` cookies ct.js copies into its attributes, the buyer's user agent, the shop's customer
    id), kept for events that happen after the delivery that carried them (a pending order
    attributed later). Written only while some destination is configured."""

    __tablename__ = "order_signals"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    values: Mapped[str] = mapped_column(Text)  # JSON object of strings
