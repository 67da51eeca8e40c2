"""Workspaces in the web app: the header's switcher, the members page (invitations, roles,
removal) and the page an invitation link opens.

Who may do what is the members service's rule (workspaces/members.py), the same as the API's;
these pages only show it: a refused change is the form's message, with nothing stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from clicktrail.auth import service as auth
from clicktrail.auth.models import User
from clicktrail.db import SessionDep, utcnow
from clicktrail.errors import Conflict, Forbidden, Invalid, NotFound
from clicktrail.params import IdPath
from clicktrail.web.forms import Errors, invalid_error, text
from clicktrail.web.session import AdminDep, UserDep, checked_form, login_path, sign_in, signed_in_user, subject_of
from clicktrail.web.templating import flash, render
from clicktrail.workspaces import members
from clicktrail.workspaces.models import ROLES, Invitation, Workspace, role_rank

router = APIRouter(include_in_schema=False)

ROLE_NOTES = {
    "viewer": "sees everything, changes nothing",
    "editor": "campaigns, links, referrals, previews, imports",
    "admin": "also members, keys, order sources, sales out, workspace settings",
    "owner": "everything, including owners",
}
STATUS = {Invalid: 422, Conflict: 409, Forbidden: 403}


def _sentence(exc: Exception) -> str:
    message = exc.message if isinstance(exc, Invalid) else str(exc)
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


# --- the switcher -------------------------------------------------------------------------------

@router.post("/workspace")
async def switch_workspace(request: Request, user: UserDep) -> Response:
    """Work in another of one's workspaces; any other id is as if it did not exist."""
    form = await checked_form(request)
    wanted = text(form, "workspace_id")
    found = next(((w, r) for w, r in request.state.workspaces if wanted.isdigit() and w.id == int(wanted)), None)
    if found is None:
        return render(request, "error.html", 404, user=user, title="Workspace not found",
                      message="This workspace does not exist, or you are not a member of it.")
    workspace, role = found
    request.session["workspace"] = workspace.id
    flash(request, f"You are working in “{workspace.name}” now, as {role}.")
    return RedirectResponse("/", 303)


# --- members ------------------------------------------------------------------------------------

def grantable(role: str) -> list[str]:
    """The roles someone with `role` may give: their own and below."""
    return [r for r in ROLES if role_rank(r) <= role_rank(role)]


async def _members_page(request: Request, session: SessionDep, user: User, status: int = 200, **extra: Any) -> Response:
    subject = subject_of(request)
    pending = (await session.scalars(
        select(Invitation).where(Invitation.expires_at > utcnow()).order_by(Invitation.created_at.desc()))).all()
    return render(request, "members.html", status, user=user, members=await members.list_members(session),
                  pending=pending if subject.can("admin") else [], roles=grantable(subject.role),
                  role_notes=ROLE_NOTES, **extra)


@router.get("/members")
async def members_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    return await _members_page(request, session, user)


async def _refused(request: Request, session: SessionDep, user: User, exc: Exception, **extra: Any) -> Response:
    from clicktrail.web.router import _rollback

    await _rollback(session, user)
    return await _members_page(request, session, user, STATUS[type(exc)], **extra)


@router.post("/members/invite")
async def invite(request: Request, session: SessionDep, user: AdminDep) -> Response:
    """Someone with an account joins at once; anyone else gets a one-time link to send (no mail)."""
    form = await checked_form(request)
    values = {"email": auth.normalise_email(text(form, "email")), "role": text(form, "role")}
    if not values["email"]:
        return await _members_page(request, session, user, 422, invite_values=values,
                                   invite_errors={"email": "Enter the email address of who you invite."})
    try:
        joined, url = await members.invite(session, subject_of(request), values["email"], values["role"],
                                           request.app.state.settings.base_url)
    except (Invalid, Conflict, Forbidden) as exc:
        field = invalid_error(exc).popitem()[0] if isinstance(exc, Invalid) else "email" if isinstance(exc, Conflict) else "role"
        return await _refused(request, session, user, exc, invite_values=values,
                              invite_errors={field: _sentence(exc)})
    if joined is not None:
        flash(request, f"{joined.email} had an account and is a member now, as {values['role']}.")
        return RedirectResponse("/members", 303)
    return await _members_page(request, session, user, invite_url=url, invited=values)


@router.post("/members/{user_id}/role")
async def change_role(user_id: IdPath, request: Request, session: SessionDep, user: AdminDep) -> Response:
    form = await checked_form(request)
    try:
        member = await members.change_role(session, subject_of(request), user_id, text(form, "role"))
    except NotFound:
        from clicktrail.web.router import _not_found

        return _not_found(request, user, "Member")
    except (Invalid, Conflict, Forbidden) as exc:
        return await _refused(request, session, user, exc, row_errors={user_id: _sentence(exc)})
    target = await session.get(User, user_id)
    flash(request, f"{target.email if target else 'The member'} is {member.role} now.")
    return RedirectResponse(f"/members#member-{user_id}", 303)


@router.post("/members/{user_id}/remove")
async def remove_member(user_id: IdPath, request: Request, session: SessionDep, user: AdminDep) -> Response:
    """Their keys in this workspace are revoked and their sessions end at once."""
    await checked_form(request)
    target = await session.get(User, user_id)
    try:
        await members.remove_member(session, subject_of(request), user_id)
    except NotFound:
        from clicktrail.web.router import _not_found

        return _not_found(request, user, "Member")
    except (Conflict, Forbidden) as exc:
        return await _refused(request, session, user, exc, row_errors={user_id: _sentence(exc)})
    if user_id == user.id:  # one left oneself: their sessions ended with it
        return RedirectResponse("/login", 303)
    flash(request, f"Removed {target.email if target else 'the member'}: their keys here are revoked and they are signed out.")
    return RedirectResponse("/members", 303)


# --- an invitation link ---------------------------------------------------------------------------

def _invalid_link(request: Request) -> Response:
    return render(request, "error.html", 404, user=None, title="This invitation link does not work",
                  message="It was used already, it expired (a link lasts 7 days), or it was never made. "
                          "Ask whoever invited you for a new one.")


async def _invite_page(request: Request, session: SessionDep, token: str, invitation: Invitation, current: User | None,
                       status: int = 200, **extra: Any) -> Response:
    workspace = await session.get(Workspace, invitation.workspace_id)
    inviter = await session.get(User, invitation.invited_by) if invitation.invited_by else None
    has_account = current is None and await session.scalar(
        select(User.id).where(User.email == invitation.email)) is not None
    return render(request, "invite.html", status, invitation=invitation, workspace=workspace, inviter=inviter,
                  current=current, has_account=has_account, token=token,
                  sign_in_path=login_path(f"/invite?token={token}"), role_notes=ROLE_NOTES, **extra)


@router.get("/invite")
async def invite_page(request: Request, session: SessionDep, token: str = "") -> Response:
    invitation = await members.invitation_for(session, token)
    if invitation is None:
        return _invalid_link(request)
    return await _invite_page(request, session, token, invitation, await signed_in_user(request, session))


@router.post("/invite")
async def accept_invite(request: Request, session: SessionDep) -> Response:
    """Join with one click when signed in; else make the account (the invitation's email) and sign in."""
    from clicktrail.web.router import _account_errors

    form = await checked_form(request)
    token = text(form, "token")
    invitation = await members.invitation_for(session, token)
    if invitation is None:
        return _invalid_link(request)
    current = await signed_in_user(request, session)
    password = None
    if current is None:
        password = str(form.get("password") or "")
        errors: Errors = _account_errors(invitation.email, password, str(form.get("password_again") or ""))
        if errors:
            return await _invite_page(request, session, token, invitation, None, 422, errors=errors)
    role = invitation.role
    try:
        joined, workspace = await members.accept_invitation(session, token, current, password)
    except NotFound:
        return _invalid_link(request)
    except (Conflict, Invalid) as exc:
        await session.rollback()
        invitation = await members.invitation_for(session, token)
        if invitation is None:
            return _invalid_link(request)
        field = "password" if isinstance(exc, Invalid) else "form"
        return await _invite_page(request, session, token, invitation, current, STATUS[type(exc)],
                                  errors={field: _sentence(exc)})
    if current is None:
        await sign_in(request, session, joined)
    request.session["workspace"] = workspace.id
    flash(request, f"Welcome to “{workspace.name}”: you are {role} here.")
    return RedirectResponse("/", 303)
