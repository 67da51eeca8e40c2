from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clicktrail.db import Base, UTCDateTime, utcnow


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    destination_url: Mapped[str] = mapped_column(String(2048))
    utm_medium: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Link(Base):
    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("campaign_id", "coupon_code"),
        Index("ix_links_coupon_code", "coupon_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random per-link number mixed into the code, so codes cannot be derived from ids.
    nonce: Mapped[int] = mapped_column(BigInteger)
    slug: Mapped[str | None] = mapped_column(String(64), unique=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    destination_url: Mapped[str] = mapped_column(String(2048))
    channel: Mapped[str] = mapped_column(String(16))
    utm_source: Mapped[str | None] = mapped_column(String(255))
    utm_medium: Mapped[str | None] = mapped_column(String(255))
    utm_campaign: Mapped[str | None] = mapped_column(String(255))
    utm_content: Mapped[str | None] = mapped_column(String(255))
    utm_term: Mapped[str | None] = mapped_column(String(255))
    coupon_code: Mapped[str | None] = mapped_column(String(100))
    referrer: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_clicks: Mapped[int | None] = mapped_column(Integer)
    # Person clicks so far (previews and bots excluded), kept by the recorder for max_clicks.
    click_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # People let through a link with max_clicks: counted by the redirect itself, one atomic
    # conditional UPDATE per tap, so the limit is exact across workers and hosts.
    admitted_clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
