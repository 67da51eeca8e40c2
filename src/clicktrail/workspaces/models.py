"""A workspace owns everything a marketer makes or receives; members hold a role in it.

`Tenant` is the mixin of every table a workspace owns: it adds `workspace_id`, and tenancy.py
filters every ORM statement of a request by it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from clicktrail.db import Base, UTCDateTime, utcnow

ROLES = ("viewer", "editor", "admin", "owner")  # each can do what the ones before it can


def role_rank(role: str) -> int:
    return ROLES.index(role)


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # None: the installation's setting (CLICKTRAIL_REPORTING_CURRENCY, _TIMEZONE, ...), so an
    # upgraded install keeps reporting as it did until someone changes the workspace.
    reporting_currency: Mapped[str | None] = mapped_column(String(3))
    timezone: Mapped[str | None] = mapped_column(String(64))
    attribution_window_days: Mapped[int | None] = mapped_column(Integer)
    allowed_destination_hosts: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Tenant:
    """Mixin: a row that belongs to one workspace."""

    @declared_attr
    def workspace_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=cls.__workspace_index__)

    # Big append-only tables (clicks, roll-ups) are read by campaign, never by workspace alone.
    __workspace_index__ = True


class Member(Tenant, Base):
    __tablename__ = "members"
    __table_args__ = (PrimaryKeyConstraint("workspace_id", "user_id"),)
    __workspace_index__ = False  # the key leads with it

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invitation(Tenant, Base):
    """A one-time link for someone without an account: valid 7 days, gone once used."""

    __tablename__ = "invitations"
    __table_args__ = (PrimaryKeyConstraint("workspace_id", "token_hash"),)
    __workspace_index__ = False

    token_hash: Mapped[str] = mapped_column(String(64), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(8))
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Domain(Tenant, Base):
    """A branded short domain. A host belongs to one workspace in the whole installation, so the
    redirect finds a link by (host, code) without knowing the workspace first."""

    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(253), unique=True)
    root_redirect: Mapped[str | None] = mapped_column(String(2048))
    not_found_redirect: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
