from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from clicktrail.db import Base, UTCDateTime, utcnow
from clicktrail.workspaces.models import Tenant


class Click(Tenant, Base):
    """One hit on a short link: a person's click, a chat app's preview fetch, or a bot."""

    __tablename__ = "clicks"
    __workspace_index__ = False  # read by campaign and link, whose ids say the workspace
    __table_args__ = (
        Index("ix_clicks_link_id_occurred_at", "link_id", "occurred_at"),
        # By campaign and time: reports/models.py (a covering index the reports read alone).
    )

    # Time-ordered base62 id (see clicks.ids): sorts by time, so it also pages by time.
    click_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("links.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    app: Mapped[str | None] = mapped_column(String(16))
    device: Mapped[str] = mapped_column(String(8))
    os: Mapped[str | None] = mapped_column(String(64))
    browser: Mapped[str | None] = mapped_column(String(64))
    referrer_host: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(2))
    # Keyed hash of IP + user agent with a daily key: counts unique visitors, identifies nobody.
    visitor_hash: Mapped[str | None] = mapped_column(String(32))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    is_qr: Mapped[bool] = mapped_column(Boolean, default=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # fbclid, gclid, ... from the short URL's query (clicks/ad_click_ids.py); null when none.
    ad_click_ids: Mapped[dict[str, str] | None] = mapped_column(JSON)


class CustomerClick(Tenant, Base):
    """A click tied to a customer (`POST /api/identify`), for cross-device attribution."""

    __tablename__ = "customer_clicks"
    __table_args__ = (Index("ix_customer_clicks_customer_hash_created_at", "customer_hash", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_hash: Mapped[str] = mapped_column(String(64))
    click_id: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClickHorizon(Base):
    """How far back raw clicks go: those before `raw_since` were dropped by the retention
    (clicks/retention.py), and only the roll-ups count them now. One row, or none while every
    click recorded is kept."""

    __tablename__ = "click_horizon"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # always 1
    raw_since: Mapped[datetime] = mapped_column(UTCDateTime)
