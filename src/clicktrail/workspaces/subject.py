"""Who is asking, in which workspace, with which role: the one place a request is scoped.

`api_subject` (API keys) and `web_subject` (signed-in browsers) resolve the caller, then enter
the workspace on the request's session (tenancy.py), so every query after them is scoped.
Roles rank viewer < editor < admin < owner; a `read` key acts as a viewer whatever its maker's
role. What each role may change is declared per router with `writes_need(role)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.auth.models import ApiKey, User
from clicktrail.auth.service import authenticate_api_key
from clicktrail.db import SessionDep
from clicktrail.settings import Settings
from clicktrail.workspaces import tenancy
from clicktrail.workspaces.models import Member, Workspace, role_rank

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Subject:
    workspace: Workspace
    role: str  # the member's role now (a key made by the CLI acts as an owner)
    user: User | None = None
    key: ApiKey | None = None

    @property
    def read_only(self) -> bool:
        return self.key is not None and self.key.scope != "write"

    def reporting(self, settings: Settings) -> tuple[str, str]:
        """(currency, time zone) reports use when they name none: the workspace's, else the
        installation's (CLICKTRAIL_REPORTING_CURRENCY, CLICKTRAIL_TIMEZONE)."""
        return (self.workspace.reporting_currency or settings.reporting_currency,
                self.workspace.timezone or settings.timezone)

    def allowed_hosts(self, settings: Settings) -> list[str]:
        """Destination hosts links may point to ([] = any): the workspace's, else the installation's."""
        hosts = self.workspace.allowed_destination_hosts
        return list(hosts) if hosts is not None else settings.allowed_destination_hosts

    def can(self, role: str) -> bool:
        """May this caller do what `role` may? A read key may do what a viewer may."""
        effective = "viewer" if self.read_only else self.role
        return role_rank(effective) >= role_rank(role)


async def member_role(session: AsyncSession, workspace_id: int, user_id: int) -> str | None:
    return await session.scalar(
        select(Member.role).where(Member.workspace_id == workspace_id, Member.user_id == user_id)
        .execution_options(**{tenancy.ALL_WORKSPACES: True}))


def _unauthorized() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail="missing or invalid API key",
                         headers={"WWW-Authenticate": "Bearer"})


async def api_subject(request: Request, session: SessionDep) -> Subject:
    cached = getattr(request.state, "subject", None)
    if cached is not None:
        return cached
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    key = await authenticate_api_key(session, token.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        raise _unauthorized()
    workspace = await session.get(Workspace, key.workspace_id)
    if key.user_id is None:
        role = "owner"  # made on the server with `clicktrail apikey create`
    else:
        role = await member_role(session, key.workspace_id, key.user_id)
    if workspace is None or role is None:  # its maker left (their keys are revoked then anyway)
        raise _unauthorized()
    subject = Subject(workspace, role, key=key)
    if subject.read_only and request.method not in READ_METHODS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this API key may only read")
    tenancy.enter(session, workspace.id)
    request.state.subject = subject
    return subject


SubjectDep = Annotated[Subject, Depends(api_subject)]


def writes_need(role: str):
    """Router dependency: reads need any member; every other method needs `role` or above."""

    async def check(request: Request, subject: SubjectDep) -> Subject:
        if request.method not in READ_METHODS and not subject.can(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"this needs the {role} role or above")
        return subject

    return Depends(check)


def needs(role: str):
    """Route dependency: every method needs `role` or above (reads of secrets, admin pages)."""

    async def check(subject: SubjectDep) -> Subject:
        if not subject.can(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"this needs the {role} role or above")
        return subject

    return Depends(check)
