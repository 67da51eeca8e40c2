"""The link page's preview card: its fields, an image upload, and "copy card from destination".

Saving refuses what the API refuses (with the message beside the field, nothing stored);
copying reads the destination's og: tags once and fills the form for the marketer to check
and save: nothing is stored until they do.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from clicktrail.db import SessionDep
from clicktrail.errors import Conflict, Invalid
from clicktrail.links import previews
from clicktrail.links import service as links
from clicktrail.links.card_image import ACCEPTED_TYPES, MAX_UPLOAD_BYTES, NotAnImage, card_image
from clicktrail.links.card_source import CardSourceError, fetch_card
from clicktrail.links.models import Link
from clicktrail.links.schemas import LinkUpdate, PreviewIn
from clicktrail.web.forms import Errors, field_errors, invalid_error, text
from clicktrail.web.session import EditorDep, checked_form
from clicktrail.web.templating import flash

router = APIRouter(include_in_schema=False)

CARD_FIELDS = ("preview_title", "preview_description", "preview_image_url")


def allow_card_images(page: Response) -> Response:
    """The card mock-ups show an image hosted elsewhere (https) or a file just chosen (blob:);
    only the link page's policy lets images come from there."""
    policy = page.headers["content-security-policy"]
    page.headers["content-security-policy"] = policy.replace("img-src 'self' data:", "img-src 'self' data: blob: https:")
    return page


def card_values(link: Link) -> dict[str, str]:
    return {"preview_title": link.preview_title or "", "preview_description": link.preview_description or "",
            "preview_image_url": link.preview_image_url or ""}


def card_context(request: Request, link: Link) -> dict[str, Any]:
    """What the link page's card section shows before anything is typed: the stored card."""
    out = request.app.state.link_context.preview_of(link)
    return {"card_image": out.image_url if out else None, "card_host": urlsplit(request.app.state.settings.base_url).hostname,
            "has_uploaded_image": link.preview_image_version is not None}


async def _page(request: Request, session: SessionDep, user: Any, link: Link, status: int, **extra: Any) -> Response:
    from clicktrail.web.router import _link_page  # the link page lives with the other pages

    return await _link_page(request, session, user, link, status, **extra)


async def _upload(form: Any) -> tuple[bytes | None, str | None]:
    """The uploaded image's bytes, or why it cannot be used (None, None: no file chosen)."""
    upload = form.get("preview_image")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None, None
    if (upload.content_type or "").lower() not in ACCEPTED_TYPES:
        return None, "Choose a PNG, JPEG or WebP image."
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return None, "The image is larger than 5 MB: choose a smaller one."
    return data, None


@router.post("/links/{link_id}/card")
async def save_card(link_id: int, request: Request, session: SessionDep, user: EditorDep) -> Response:
    from clicktrail.web.router import _changed, _not_found, _rollback

    form = await checked_form(request)
    link = await session.get(Link, link_id)
    if link is None:
        return _not_found(request, user, "Link")
    ctx: links.LinkContext = request.app.state.link_context
    action = text(form, "action") or "save"
    values = {f: text(form, f) for f in CARD_FIELDS}
    errors: Errors = {}
    if action == "copy":
        try:
            found = await fetch_card(link.destination_url, allow_private=request.app.state.settings.outbound_allow_private)
        except CardSourceError as exc:
            return await _page(request, session, user, link, 422, card_values=values,
                               card_errors={"form": f"Could not copy the card: {exc}."})
        copied = {"preview_title": found.title or "", "preview_description": found.description or "",
                  "preview_image_url": found.image_url or ""}
        return await _page(request, session, user, link, 200, card_values=copied, card_copied=True)
    if action == "remove":
        await links.update_link(session, ctx, link_id, LinkUpdate(preview=None))
        await _changed(request, session, link)
        flash(request, "Card removed: previews now show whatever the destination page says.")
        return RedirectResponse(f"/links/{link_id}#card", 303)
    image, problem = await _upload(form)
    if problem:
        errors["preview_image"] = problem
    # A multipart form passes the front door's text checks (they read JSON and url-encoded bodies).
    errors.update({f: "Remove the NUL character." for f, v in values.items() if "\x00" in v})
    try:
        preview = PreviewIn(title=values["preview_title"], description=values["preview_description"] or None,
                            image_url=values["preview_image_url"] or None)
        if not errors:
            await links.update_link(session, ctx, link_id, LinkUpdate(preview=preview))
            if image is not None:
                await previews.store_image(session, link, await asyncio.to_thread(card_image, image))
    except ValidationError as exc:
        errors = {f"preview_{k}": v for k, v in field_errors(exc).items()}
    except Invalid as exc:
        errors = {f"preview_{k}": v for k, v in invalid_error(exc).items()}
    except NotAnImage as exc:
        errors = {"preview_image": str(exc)[:1].upper() + str(exc)[1:] + "."}
    except Conflict as exc:
        errors = {"form": str(exc)}
    if errors:
        await _rollback(session, user)
        link = await session.get(Link, link_id)
        return await _page(request, session, user, link, 422, card_values=values, card_errors=errors)  # type: ignore[arg-type]
    await _changed(request, session, link)
    flash(request, "Card saved: chats show it the next time the link is shared.")
    return RedirectResponse(f"/links/{link_id}#card", 303)
