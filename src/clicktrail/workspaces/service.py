"""Workspaces and their members: making them, finding a user's, the default one, and the
settings a workspace carries (each falls back to the installation's while unset)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.errors import Invalid
from clicktrail.money import normalise_currency
from clicktrail.reports import rates
from clicktrail.settings import Settings
from clicktrail.workspaces import tenancy
from clicktrail.workspaces.models import ROLES, Member, Workspace

_ALL = {tenancy.ALL_WORKSPACES: True}


def _slug_base(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:48].strip("-") or "workspace"


async def _free_slug(session: AsyncSession, base: str) -> str:
    taken = set((await session.scalars(select(Workspace.slug).where(Workspace.slug.like(f"{base}%")))).all())
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


async def create_workspace(session: AsyncSession, name: str, owner_id: int | None = None) -> Workspace:
    name = name.strip()
    if not name or len(name) > 200:
        raise ValueError("a workspace name is 1 to 200 characters")
    workspace = Workspace(name=name, slug=await _free_slug(session, _slug_base(name)))
    session.add(workspace)
    await session.flush()
    if owner_id is not None:
        await add_member(session, workspace.id, owner_id, "owner")
    return workspace


async def default_workspace(session: AsyncSession) -> Workspace:
    """The first workspace, made ("Default") if there is none yet: where the first admin, the
    CLI's keys and an upgraded 0.1 installation's data live."""
    workspace = await session.scalar(select(Workspace).order_by(Workspace.id).limit(1))
    if workspace is None:
        workspace = Workspace(name="Default", slug="default")
        session.add(workspace)
        await session.flush()
    return workspace


async def workspace_by_slug(session: AsyncSession, slug: str) -> Workspace | None:
    return await session.scalar(select(Workspace).where(Workspace.slug == slug))


async def add_member(session: AsyncSession, workspace_id: int, user_id: int, role: str) -> Member:
    if role not in ROLES:
        raise ValueError(f"a role is one of {', '.join(ROLES)}")
    member = Member(workspace_id=workspace_id, user_id=user_id, role=role)
    session.add(member)
    await session.flush()
    return member


async def workspaces_of(session: AsyncSession, user_id: int) -> list[tuple[Workspace, str]]:
    """The user's workspaces with their role in each, oldest first."""
    rows = await session.execute(
        select(Workspace, Member.role).join(Member, Member.workspace_id == Workspace.id)
        .where(Member.user_id == user_id).order_by(Workspace.id).execution_options(**_ALL))
    return [(w, r) for w, r in rows.all()]


# --- the workspace's settings -----------------------------------------------------------------

SETTINGS = ("reporting_currency", "timezone", "attribution_window_days", "allowed_destination_hosts")
MAX_WINDOW_DAYS = 365
MAX_ALLOWED_HOSTS = 200
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def effective_settings(workspace: Workspace, settings: Settings) -> dict[str, Any]:
    """What the workspace works with: its own value, else the installation's (CLICKTRAIL_*)."""
    own = {name: getattr(workspace, name) for name in SETTINGS}
    return {name: getattr(settings, name) if value is None else value for name, value in own.items()}


async def _currency(session: AsyncSession, value: str) -> str:
    try:
        code = normalise_currency(value)
    except ValueError as exc:
        raise Invalid("reporting_currency", str(exc)) from None
    if not await rates.has_rates(session, code):
        raise Invalid("reporting_currency",
                      f"no exchange rates for {code}: import them with `clicktrail rates import`")
    return code


def _window(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WINDOW_DAYS:
        raise Invalid("attribution_window_days", f"the attribution window is 1 to {MAX_WINDOW_DAYS} days")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("timezone", f"not an IANA time zone: {value!r}") from None
    return value


def _hosts(value: list[str]) -> list[str]:
    if len(value) > MAX_ALLOWED_HOSTS:
        raise Invalid("allowed_destination_hosts", f"at most {MAX_ALLOWED_HOSTS} hosts")
    hosts: list[str] = []
    for i, raw in enumerate(value):
        host = raw.strip().lower().rstrip(".")
        if not _HOST.match(host):
            raise Invalid(("allowed_destination_hosts", i), f"not a host name: {raw!r}")
        if host not in hosts:
            hosts.append(host)
    return hosts


async def update_workspace(session: AsyncSession, workspace: Workspace, changes: dict[str, Any]) -> Workspace:
    """Change the fields given; a setting given as None goes back to the installation's."""
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name or len(name) > 200:
            raise Invalid("name", "a workspace name is 1 to 200 characters")
        workspace.name = name
    checks = {"timezone": _timezone, "attribution_window_days": _window, "allowed_destination_hosts": _hosts}
    for field in (f for f in SETTINGS if f in changes):
        value = changes[field]
        if value is not None:
            value = await _currency(session, value) if field == "reporting_currency" else checks[field](value)
        setattr(workspace, field, value)
    await session.flush()
    return workspace
