"""Workspaces and their members: making them, finding a user's, the default one."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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
