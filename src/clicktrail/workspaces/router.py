"""HTTP API for the caller's workspace: its settings, its members and invitations, and API keys.

Who may do what is the service's rule (workspaces/members.py), shared with the web app; the
routes only declare the admin-only ones up front (`needs("admin")`) so a viewer is refused
before the body is even read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from clicktrail.auth.deps import SubjectDep, needs
from clicktrail.auth.models import ApiKey, User
from clicktrail.auth.service import normalise_email
from clicktrail.db import SessionDep
from clicktrail.openapi import error_responses
from clicktrail.pagination import Page, PageDep, PageParams, encode_cursor
from clicktrail.params import IdPath
from clicktrail.workspaces import members as service
from clicktrail.workspaces.models import ROLES, Member, Workspace
from clicktrail.workspaces.service import (
    MAX_ALLOWED_HOSTS,
    MAX_WINDOW_DAYS,
    SETTINGS,
    effective_settings,
    update_workspace,
)

router = APIRouter(prefix="/api", tags=["workspace"])
ADMIN = [needs("admin")]
Role = Literal["viewer", "editor", "admin", "owner"]
assert set(ROLES) == set(Role.__args__)  # type: ignore[attr-defined]


class WorkspaceOut(BaseModel):
    id: int
    slug: str
    name: str
    role: Role = Field(description="The caller's role here (a key made with `clicktrail apikey create`: owner).")
    reporting_currency: str
    timezone: str
    attribution_window_days: int
    allowed_destination_hosts: list[str] = Field(description="Hosts links may point to; empty allows any.")
    inherited: list[str] = Field(description="Settings this workspace takes from the installation (CLICKTRAIL_*).")
    created_at: datetime


class WorkspaceUpdate(BaseModel):
    """Fields present in the body are changed; a setting sent as null goes back to the installation's."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    reporting_currency: str | None = Field(default=None, min_length=3, max_length=3,
                                           description="ISO 4217, with exchange rates stored.")
    timezone: str | None = Field(default=None, min_length=1, max_length=64, description="IANA, e.g. Europe/Berlin.")
    attribution_window_days: int | None = Field(default=None, ge=1, le=MAX_WINDOW_DAYS, strict=True)
    allowed_destination_hosts: list[Annotated[str, Field(min_length=1, max_length=253)]] | None = Field(
        default=None, max_length=MAX_ALLOWED_HOSTS)


class MemberOut(BaseModel):
    user_id: int
    email: str
    role: Role
    joined_at: datetime


class MemberInvite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    role: Role


class MemberAdded(BaseModel):
    user_id: int | None = Field(description="null: no account has this email yet; send them invite_url.")
    email: str
    role: Role
    invite_url: str | None = Field(default=None, description="A one-time link, valid 7 days (invitations only).")


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    scope: Literal["read", "write"] = Field(description="read: GET only; write: what your role allows.")


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    scope: Literal["read", "write"]
    user_id: int | None = Field(description="Who made it (null: made with `clicktrail apikey create`).")
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
    revoked_at: datetime | None


class KeyCreated(BaseModel):
    id: int
    name: str
    scope: Literal["read", "write"]
    key: str = Field(description="The key itself: shown in this answer only.")
    prefix: str
    created_at: datetime


def _workspace_out(request: Request, workspace: Workspace, role: str) -> WorkspaceOut:
    settings = effective_settings(workspace, request.app.state.settings)
    inherited = [name for name in SETTINGS if getattr(workspace, name) is None]
    return WorkspaceOut(id=workspace.id, slug=workspace.slug, name=workspace.name, role=role, inherited=inherited,
                        created_at=workspace.created_at, **settings)


def _member_out(member: Member, email: str) -> MemberOut:
    return MemberOut(user_id=member.user_id, email=email, role=member.role, joined_at=member.created_at)


def _key_out(key: ApiKey) -> KeyOut:
    return KeyOut(id=key.id, name=key.name, prefix=key.prefix, scope=key.scope, user_id=key.user_id,
                  created_at=key.created_at, last_used_at=key.last_used_at, revoked=key.revoked_at is not None,
                  revoked_at=key.revoked_at)


def _offset_page(items: list[Any], page: PageParams) -> dict[str, Any]:
    """A page of a short list held whole (members, keys): the cursor is how many were seen."""
    try:
        start = int(page.after or 0)
    except ValueError:
        raise HTTPException(422, detail="invalid cursor") from None
    end = start + page.limit
    return {"items": items[start:end], "next_cursor": encode_cursor(end) if end < len(items) else None}


@router.get("/workspace")
async def get_workspace(request: Request, subject: SubjectDep) -> WorkspaceOut:
    """The workspace of the key, with its effective settings (its own, else the installation's)."""
    return _workspace_out(request, subject.workspace, subject.role)


@router.patch("/workspace", dependencies=ADMIN)
async def patch_workspace(data: WorkspaceUpdate, request: Request, session: SessionDep,
                          subject: SubjectDep) -> WorkspaceOut:
    workspace = await update_workspace(session, subject.workspace, data.model_dump(exclude_unset=True))
    return _workspace_out(request, workspace, subject.role)


@router.get("/members")
async def list_members(session: SessionDep, page: PageDep, _subject: SubjectDep) -> Page[MemberOut]:
    """Oldest first."""
    members = [_member_out(m, u.email) for m, u in await service.list_members(session)]
    return Page(**_offset_page(members, page))


@router.post("/members", status_code=201, dependencies=ADMIN, responses=error_responses(409))
async def add_member(data: MemberInvite, request: Request, session: SessionDep, subject: SubjectDep) -> MemberAdded:
    """Someone with an account joins at once; anyone else gets `invite_url`, a one-time link valid
    7 days, for you to send (no mail is sent). Nobody grants a role above their own."""
    user, url = await service.invite(session, subject, data.email, data.role, request.app.state.settings.base_url)
    email = user.email if user is not None else normalise_email(data.email)
    return MemberAdded(user_id=user.id if user is not None else None, email=email, role=data.role, invite_url=url)


@router.patch("/members/{user_id}", dependencies=ADMIN, responses=error_responses(409))
async def change_role(user_id: IdPath, data: RoleChange, session: SessionDep, subject: SubjectDep) -> MemberOut:
    """Only an owner makes or unmakes owners; the last owner cannot be demoted (409)."""
    member = await service.change_role(session, subject, user_id, data.role)
    user = await session.get(User, member.user_id)
    return _member_out(member, user.email if user is not None else "")


@router.delete("/members/{user_id}", status_code=204, responses=error_responses(409))
async def remove_member(user_id: IdPath, session: SessionDep, subject: SubjectDep) -> Response:
    """An admin removes a member, or a member leaves (their own user id). Their keys in this
    workspace are revoked and their web sessions end. The last owner stays (409)."""
    await service.remove_member(session, subject, user_id)
    return Response(status_code=204)


@router.post("/keys", status_code=201)
async def create_key(data: KeyCreate, session: SessionDep, subject: SubjectDep) -> KeyCreated:
    """A key of yours in this workspace, shown once. Its scope cannot exceed your role: a viewer
    makes read keys only."""
    key, plain = await service.create_key(session, subject, data.name, data.scope)
    return KeyCreated(id=key.id, name=key.name, scope=key.scope, key=plain, prefix=key.prefix,
                      created_at=key.created_at)


@router.get("/keys")
async def list_keys(session: SessionDep, page: PageDep, subject: SubjectDep) -> Page[KeyOut]:
    """Admins see every key of the workspace, others their own; newest first, revoked ones too."""
    keys = [_key_out(k) for k in await service.list_keys(session, subject)]
    return Page(**_offset_page(keys, page))


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(key_id: IdPath, session: SessionDep, subject: SubjectDep) -> Response:
    """Your own key, or (admin) anyone's in this workspace. It stops working at once."""
    await service.revoke_key(session, subject, key_id)
    return Response(status_code=204)
