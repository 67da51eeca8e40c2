from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clicktrail.db import Base, UTCDateTime, utcnow
from clicktrail.workspaces.models import Tenant


class Campaign(Tenant, Base):
    __tablename__ = "campaigns"
    # Slugs are the campaigns' utm_campaign: unique in their workspace, not beyond.
    __table_args__ = (UniqueConstraint("workspace_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64))
    # Host of the branded domain its links get by default; '' for the installation's own.
    domain: Mapped[str] = mapped_column(String(253), default="", server_default="")
    destination_url: Mapped[str] = mapped_column(String(2048))
    utm_medium: Mapped[str | None] = mapped_column(String(100))
    # Archived campaigns leave the home list; their links keep working.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Link(Tenant, Base):
    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("workspace_id", "campaign_id", "coupon_code"),
        # The redirect resolves (host, code): a slug is unique on its domain, and the default
        # domain ('') is shared by every workspace.
        UniqueConstraint("domain", "slug"),
        Index("ix_links_coupon_code", "coupon_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random per-link number mixed into the code, so codes cannot be derived from ids.
    nonce: Mapped[int] = mapped_column(BigInteger)
    slug: Mapped[str | None] = mapped_column(String(64))
    # Host of its branded domain (workspaces.models.Domain), '' for the installation's own.
    domain: Mapped[str] = mapped_column(String(253), default="", server_default="")
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
    # Shown beside the channel: which group, post or placement of that channel this link is for.
    label: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_clicks: Mapped[int | None] = mapped_column(Integer)
    # Person clicks so far (previews and bots excluded), kept by the recorder for max_clicks.
    click_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # People let through a link with max_clicks: counted by the redirect itself, one atomic
    # conditional UPDATE per tap, so the limit is exact across workers and hosts.
    admitted_clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The preview card chat apps draw for this link; a link without a title has no card (and its
    # redirect never classifies for it). Kept on the row, so the redirect's one lookup has it.
    preview_title: Mapped[str | None] = mapped_column(String(200))
    preview_description: Mapped[str | None] = mapped_column(String(500))
    preview_image_url: Mapped[str | None] = mapped_column(String(2048))  # an image hosted elsewhere
    # Digest of the uploaded image (LinkPreviewImage), None without one: names its version in
    # og:image, so the long-cached /{code}/preview.jpg changes URL when the image changes.
    preview_image_version: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LinkPreviewImage(Tenant, Base):
    """An uploaded card image, re-encoded as a 1200x630 JPEG; apart from links so that loading a
    link never loads its image."""

    __tablename__ = "link_preview_images"

    link_id: Mapped[int] = mapped_column(ForeignKey("links.id", ondelete="CASCADE"), primary_key=True)
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
