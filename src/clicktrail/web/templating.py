"""Jinja2 set-up and the one way pages are rendered (CSRF token, user, flash, safe headers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from clicktrail import __version__
from clicktrail.vocabulary import CHANNELS
from clicktrail.web.format import FILTERS
from clicktrail.web.session import CSRF_FIELD, csrf_token

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(FILTERS)
templates.env.globals.update(CHANNELS=CHANNELS, CSRF_FIELD=CSRF_FIELD, VERSION=__version__)

# Pages carry secrets (API keys shown once) and per-user data: never cached, never framed, and
# only our own scripts and styles run.
HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def flash(request: Request, message: str, kind: str = "ok") -> None:
    request.session.setdefault("flash", []).append([kind, message])


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    messages = request.session.pop("flash", []) if "flash" in request.session else []
    context.setdefault("user", None)
    # Who is asking, where: the header's workspace, role and switcher, and role-aware buttons.
    context.setdefault("subject", getattr(request.state, "subject", None))
    context.setdefault("workspaces", getattr(request.state, "workspaces", []))
    context.setdefault("errors", {})
    context.setdefault("values", {})
    return templates.TemplateResponse(
        request,
        name,
        {"csrf": csrf_token(request), "messages": messages, "path": request.url.path, **context},
        status_code=status_code,
        headers=HEADERS,
    )
