"""Web sign-in: the signed session cookie, CSRF tokens, the signed-in user (sign-in
throttling is auth/throttle.py).

The session is Starlette's SessionMiddleware: a cookie signed with itsdangerous (HMAC with the
installation's secret key), HttpOnly, SameSite=Lax, Secure when the base URL is https. It holds
a random session token, whose digest must still be in `web_sessions` (sign-out, a password change
and removal delete it, ending the session at once), and the CSRF token. Every POST form carries
that token; it is compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.middleware.sessions import SessionMiddleware

from clicktrail.auth import service as auth
from clicktrail.auth.models import User
from clicktrail.db import SessionDep
from clicktrail.settings import Settings
from clicktrail.workspaces import tenancy
from clicktrail.workspaces.service import workspaces_of
from clicktrail.workspaces.subject import Subject

COOKIE_NAME = "ct_session"
SESSION_DAYS = 14
CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class CsrfRefused(Exception):
    pass


class RefusedPage(Exception):
    """A refusal raised by a dependency, carrying its page: drawn there, while the request's
    database session is still open (its handler runs after the session is closed)."""

    def __init__(self, response: Response) -> None:
        self.response = response


class NoWorkspace(RefusedPage):
    """A signed-in user who is a member of no workspace (all removed them)."""


class RoleRequired(RefusedPage):
    """The signed-in member's role in this workspace is below what the page or form needs."""


def add_session_middleware(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key + ":web-session",
        session_cookie=COOKIE_NAME,
        max_age=SESSION_DAYS * 24 * 3600,
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
    )


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def checked_form(request: Request, max_part_size: int = 1024 * 1024) -> FormData:
    """The posted form, once its CSRF token matches the session's (else CsrfRefused).
    `max_part_size` bounds each text field of a multipart form (Starlette's default: 1 MiB)."""
    form = await request.form(max_files=2, max_fields=200, max_part_size=max_part_size)
    sent, expected = form.get(CSRF_FIELD), request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(
        sent.encode(), expected.encode()
    ):
        raise CsrfRefused()
    return form


async def sign_in(request: Request, session: AsyncSession, user: User) -> None:
    """A fresh session (new CSRF token too): nothing from before sign-in carries over."""
    request.session.clear()
    request.session["sid"] = await auth.start_session(session, user)
    csrf_token(request)


async def sign_out(request: Request, session: AsyncSession) -> None:
    token = request.session.get("sid")
    if isinstance(token, str):
        await auth.end_session(session, token)  # the cookie is worthless from now on, anywhere
    request.session.clear()


def safe_next(path: str | None) -> str:
    """Only a path on this site, never //elsewhere or a scheme."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or "\n" in path:
        return "/"
    return path


async def signed_in_user(request: Request, session: AsyncSession) -> User | None:
    """The user of a session that still exists server-side; a signed cookie alone is not enough."""
    token = request.session.get("sid")
    user = await auth.session_user(session, token) if isinstance(token, str) else None
    if user is None:
        request.session.pop("sid", None)
    return user


async def require_user(request: Request, session: SessionDep) -> User:
    """The signed-in user, with the request scoped to the workspace they work in (the one the
    session chose, else their first): request.state.subject says which and with what role."""
    user = await signed_in_user(request, session)
    if user is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path if request.method == "GET" else "/")
    memberships = await workspaces_of(session, user.id)
    if not memberships:
        from clicktrail.web.templating import render  # it needs this module first

        raise NoWorkspace(render(
            request, "error.html", 403, user=user, title="No workspace",
            message="Your account is not a member of any workspace. Ask a workspace admin for an invitation "
                    "link, open it, and you are in."))
    chosen = request.session.get("workspace")
    workspace, role = next(((w, r) for w, r in memberships if w.id == chosen), memberships[0])
    request.session["workspace"] = workspace.id
    tenancy.enter(session, workspace.id)
    request.state.subject = Subject(workspace, role, user=user)
    request.state.workspaces = memberships  # for the header's switcher
    return user


UserDep = Annotated[User, Depends(require_user)]


def subject_of(request: Request) -> Subject:
    """Who is asking, in which workspace, with which role (set by require_user)."""
    return request.state.subject


def user_with(role: str):
    """Dependency: the signed-in user, refused (RoleRequired → the 403 page) below `role` in the
    workspace they work in. Every form post names the role it needs this way."""

    async def check(request: Request, user: UserDep) -> User:
        subject = subject_of(request)
        if not subject.can(role):
            from clicktrail.web.templating import render  # it needs this module first

            raise RoleRequired(render(
                request, "error.html", 403, user=user, title="Not with your role",
                message=f"This needs the {role} role or above in “{subject.workspace.name}”, and yours is "
                        f"{subject.role}. Ask an admin of the workspace if you need it."))
        return user

    return check


EditorDep = Annotated[User, Depends(user_with("editor"))]
AdminDep = Annotated[User, Depends(user_with("admin"))]


def login_path(next_path: str) -> str:
    return "/login" if next_path == "/" else f"/login?next={quote(next_path, safe='/')}"
