"""Members of a workspace, their invitations and their API keys: the rules both the API and the
web app follow.

Every function works in the session's workspace (tenancy scopes each statement; the subject's
workspace is named too, so nothing depends on the scope alone) and takes the `Subject` asking.
Roles rank viewer < editor < admin < owner: nobody grants a role above their own, only an owner
makes or unmakes owners, and the last owner can neither be demoted nor removed nor leave.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.auth import service as auth
from clicktrail.auth.models import ApiKey, User
from clicktrail.db import utcnow
from clicktrail.errors import Conflict, Forbidden, Invalid, NotFound
from clicktrail.workspaces import tenancy
from clicktrail.workspaces.models import ROLES, Invitation, Member, Workspace, role_rank
from clicktrail.workspaces.service import add_member
from clicktrail.workspaces.subject import Subject

INVITATION_TTL = timedelta(days=7)
KEY_SCOPES = ("read", "write")
_ALL = {tenancy.ALL_WORKSPACES: True}


def acting_user_id(subject: Subject) -> int | None:
    """The account behind the request: the signed-in user, or the maker of the API key (None for
    a key made on the server with `clicktrail apikey create`)."""
    if subject.user is not None:
        return subject.user.id
    return subject.key.user_id if subject.key is not None else None


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise Invalid("role", f"a role is one of {', '.join(ROLES)}")


def _require(subject: Subject, role: str, what: str) -> None:
    if not subject.can(role):
        raise Forbidden(f"{what} needs the {role} role or above")


def _may_grant(subject: Subject, role: str) -> None:
    if role_rank(role) > role_rank(subject.role) or not subject.can(role):
        raise Forbidden(f"you cannot grant a role above your own ({subject.role})")


async def _member(session: AsyncSession, workspace_id: int, user_id: int) -> Member:
    member = await session.scalar(
        select(Member).where(Member.workspace_id == workspace_id, Member.user_id == user_id))
    if member is None:
        raise NotFound("no such member")
    return member


async def _owners(session: AsyncSession, workspace_id: int, lock: bool) -> int:
    statement = select(Member.user_id).where(Member.workspace_id == workspace_id, Member.role == "owner")
    if lock:  # two owners demoting each other at once must leave one (PostgreSQL; SQLite serialises writes)
        statement = statement.with_for_update()
    return len((await session.scalars(statement)).all())


# --- members ----------------------------------------------------------------------------------


async def list_members(session: AsyncSession) -> list[tuple[Member, User]]:
    """The members of the session's workspace with their accounts, oldest first."""
    workspace_id = tenancy.require_current(session)
    rows = await session.execute(
        select(Member, User).join(User, User.id == Member.user_id)
        .where(Member.workspace_id == workspace_id).order_by(Member.created_at, User.id))
    return [(m, u) for m, u in rows.all()]


async def invite(session: AsyncSession, subject: Subject, email: str, role: str,
                 base_url: str) -> tuple[User | None, str | None]:
    """Someone with an account becomes a member at once: (user, None). Anyone else gets a
    one-time link, valid 7 days, for the inviter to send: (None, invite_url). Inviting the same
    address again replaces the earlier link."""
    _require(subject, "admin", "inviting members")
    _check_role(role)
    _may_grant(subject, role)
    email = auth.normalise_email(email)
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise Invalid("email", "enter a valid email address")
    workspace_id = subject.workspace.id
    user = await session.scalar(select(User).where(User.email == email))
    if user is not None:
        if await session.scalar(select(Member.user_id).where(
                Member.workspace_id == workspace_id, Member.user_id == user.id)) is not None:
            raise Conflict(f"{email} is a member already")
        await add_member(session, workspace_id, user.id, role)
        return user, None
    await session.execute(delete(Invitation).where(Invitation.workspace_id == workspace_id, Invitation.email == email))
    token = secrets.token_urlsafe(32)
    session.add(Invitation(workspace_id=workspace_id, token_hash=auth.token_digest(token), email=email, role=role,
                           invited_by=acting_user_id(subject), expires_at=utcnow() + INVITATION_TTL))
    await session.flush()
    return None, f"{base_url.rstrip('/')}/invite?token={token}"


async def invitation_for(session: AsyncSession, token: str) -> Invitation | None:
    """The invitation of a link that is still valid, in whichever workspace it is."""
    if not token or len(token) > 100:
        return None
    return await session.scalar(
        select(Invitation).where(Invitation.token_hash == auth.token_digest(token), Invitation.expires_at > utcnow())
        .execution_options(**_ALL))


async def accept_invitation(session: AsyncSession, token: str, user: User | None,
                            password: str | None) -> tuple[User, Workspace]:
    """Join the invitation's workspace: the signed-in `user`, else a new account with the
    invitation's email and `password`. The link works once."""
    invitation = await invitation_for(session, token)
    if invitation is None:
        raise NotFound("this invitation link is not valid (used, expired or never made)")
    workspace_id, role, email = invitation.workspace_id, invitation.role, invitation.email
    # Used up first, by one statement: of two tabs accepting at once, one joins.
    used = await session.execute(
        delete(Invitation).where(Invitation.workspace_id == workspace_id,
                                 Invitation.token_hash == invitation.token_hash).execution_options(**_ALL))
    if used.rowcount != 1:
        raise NotFound("this invitation link is not valid (used, expired or never made)")
    if user is None:
        try:
            user = await auth.create_user(session, email, password or "", is_admin=False)
        except auth.EmailTaken:
            raise Conflict(f"an account with {email} exists: sign in, then open the link again") from None
        except ValueError as exc:
            raise Invalid("password", str(exc)) from None
    already = await session.scalar(select(Member.role).where(
        Member.workspace_id == workspace_id, Member.user_id == user.id).execution_options(**_ALL))
    if already is None:
        await add_member(session, workspace_id, user.id, role)
    workspace = await session.get(Workspace, workspace_id)
    assert workspace is not None  # the invitation would have gone with it (ON DELETE CASCADE)
    return user, workspace


async def change_role(session: AsyncSession, subject: Subject, user_id: int, role: str) -> Member:
    _require(subject, "admin", "changing roles")
    _check_role(role)
    member = await _member(session, subject.workspace.id, user_id)
    if (role == "owner" or member.role == "owner") and not subject.can("owner"):
        raise Forbidden("only an owner may make or unmake owners")
    _may_grant(subject, role)
    if member.role == "owner" and role != "owner" and await _owners(session, subject.workspace.id, lock=True) <= 1:
        raise Conflict("the last owner cannot be demoted: make someone else an owner first")
    member.role = role
    await session.flush()
    return member


async def remove_member(session: AsyncSession, subject: Subject, user_id: int) -> None:
    """An admin removes a member, or a member leaves. Their keys in this workspace are revoked
    and their web sessions end at once."""
    leaving = acting_user_id(subject) == user_id
    if not leaving:
        _require(subject, "admin", "removing members")
    workspace_id = subject.workspace.id
    member = await _member(session, workspace_id, user_id)
    if member.role == "owner":
        if not leaving and not subject.can("owner"):
            raise Forbidden("only an owner may remove an owner")
        if await _owners(session, workspace_id, lock=True) <= 1:
            raise Conflict("the last owner cannot be removed or leave: make someone else an owner first")
    await session.execute(
        update(ApiKey).where(ApiKey.workspace_id == workspace_id, ApiKey.user_id == user_id,
                             ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow()))
    await session.execute(delete(Member).where(Member.workspace_id == workspace_id, Member.user_id == user_id))
    await auth.end_sessions(session, user_id)
    await session.flush()


# --- API keys ---------------------------------------------------------------------------------


async def create_key(session: AsyncSession, subject: Subject, name: str, scope: str) -> tuple[ApiKey, str]:
    """A key of the asking member in this workspace; a viewer may make read keys only. The
    plain key is returned this once."""
    if scope not in KEY_SCOPES:
        raise Invalid("scope", "a key's scope is read or write")
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid("name", "a key's name is 1 to 100 characters")
    if scope == "write":
        _require(subject, "editor", "a write key")
    return await auth.create_api_key(session, name, user_id=acting_user_id(subject), scope=scope,
                                     workspace_id=subject.workspace.id)


async def list_keys(session: AsyncSession, subject: Subject) -> list[ApiKey]:
    """Admins see every key of the workspace, everyone else their own; newest first."""
    statement = select(ApiKey).where(ApiKey.workspace_id == subject.workspace.id)
    if not subject.can("admin"):
        statement = statement.where(ApiKey.user_id == acting_user_id(subject))
    return list((await session.scalars(statement.order_by(ApiKey.id.desc()))).all())


async def revoke_key(session: AsyncSession, subject: Subject, key_id: int) -> ApiKey:
    """One's own key, or (admin) anyone's in this workspace. Revoked keys stay listed."""
    key = await session.scalar(select(ApiKey).where(ApiKey.workspace_id == subject.workspace.id, ApiKey.id == key_id))
    if key is None:
        raise NotFound("no such key")
    if key.user_id != acting_user_id(subject) or key.user_id is None:
        _require(subject, "admin", "revoking another member's key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
    return key

