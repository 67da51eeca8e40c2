"""Links in bulk in the web app: an upload that shows its rows before anything is stored, the
links export, and a campaign's links from a CSV of channels and labels.

The preview runs the very import the commit will run, inside a transaction that is rolled back,
so what it shows (every link, or every bad line) is what the commit does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from clicktrail.db import SessionDep
from clicktrail.errors import NotFound
from clicktrail.links.service import context_for
from clicktrail.links import bulk
from clicktrail.links.csv_formats import FORMATS, HEADERS_EXPECTED
from clicktrail.links.models import Campaign
from clicktrail.links.router import links_csv
from clicktrail.vocabulary import CHANNELS
from clicktrail.web.forms import Errors, text
from clicktrail.web.session import EditorDep, UserDep, checked_form
from clicktrail.web.templating import flash, render

router = APIRouter(include_in_schema=False)

FORMAT_NAMES = {"yourls": "YOURLS", "bitly": "Bitly", "shlink": "Shlink", "clicktrail": "Clicktrail (our own export)"}
PREVIEW_ROWS = 50


async def _page(request: Request, session: SessionDep, user: Any, status: int = 200, **extra: Any) -> Response:
    campaigns = (await session.execute(select(Campaign.id, Campaign.name).order_by(Campaign.name))).all()
    return render(request, "import.html", status, user=user, campaigns=campaigns, formats=FORMAT_NAMES,
                  headers_expected=HEADERS_EXPECTED, **extra)


@router.get("/links/import")
async def import_page(request: Request, session: SessionDep, user: EditorDep) -> Response:
    return await _page(request, session, user, values={"format": "yourls", "channel": "other"})


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 64 * 1024):
        yield data[start:start + 64 * 1024]


@router.post("/links/import")
async def import_upload(request: Request, session: SessionDep, user: EditorDep) -> Response:
    from clicktrail.web.router import _rollback

    # The confirming post carries the previewed file back as a text field, up to the import's own limit.
    form = await checked_form(request, max_part_size=bulk.MAX_BYTES)
    values = {"format": text(form, "format"), "campaign_id": text(form, "campaign_id"),
              "channel": text(form, "channel") or "other"}
    upload = form.get("file")
    content = form.get("content") if isinstance(form.get("content"), str) else ""
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(bulk.MAX_BYTES + 1)
    else:
        data = str(content).encode()
    errors: Errors = {}
    if values["format"] not in FORMATS:
        errors["format"] = "Pick the service the file comes from."
    if values["channel"] not in CHANNELS:
        errors["channel"] = "Pick one from the list."
    campaign_id = int(values["campaign_id"]) if values["campaign_id"].isdigit() else None
    if not data.strip():
        errors["file"] = "Choose the CSV file your old shortener exported."
    if errors:
        return await _page(request, session, user, 422, errors=errors, values=values)
    ctx = context_for(request)
    try:
        rows = await bulk.read_rows(_chunks(data), values["format"])
        made = await bulk.import_links(session, ctx, rows, campaign_id=campaign_id, channel=values["channel"])
    except bulk.Refused as exc:
        await _rollback(session, user)
        return await _page(request, session, user, 422, values=values, problems=exc.problems)
    except NotFound:
        await _rollback(session, user)
        return await _page(request, session, user, 422, values=values, errors={"campaign_id": "That campaign no longer exists."})
    if text(form, "action") != "commit":
        shown = [ctx.out(link) for link in made[:PREVIEW_ROWS]]
        await _rollback(session, user)  # a preview stores nothing
        return await _page(request, session, user, 200, values=values, preview=shown, total=len(made),
                           content=data.decode("utf-8"))
    await bulk.new_codes(session, request.app.state.link_cache, [ctx.code_of(link) for link in made])
    flash(request, f"Imported {len(made):,} link{'s' * (len(made) != 1)}, each under its old code.")
    return RedirectResponse(f"/campaigns/{campaign_id}#links" if campaign_id else "/links/import", 303)


@router.get("/links/export.csv")
async def export_page(request: Request, user: UserDep) -> Response:
    return links_csv(request)


@router.post("/campaigns/{campaign_id}/links/csv")
async def campaign_links_csv(campaign_id: int, request: Request, session: SessionDep, user: EditorDep) -> Response:
    from clicktrail.web.router import _campaign_page, _changed, _not_found, _rollback

    form = await checked_form(request)
    pasted = text(form, "lines")
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        pasted = (await upload.read(2_000_000)).decode("utf-8", "replace")
    try:
        made = await bulk.channel_links(session, context_for(request), campaign_id, pasted)
    except NotFound:
        return _not_found(request, user, "Campaign")
    except bulk.Refused as exc:
        await _rollback(session, user)
        message = "; ".join(f"line {p.line}: {p.message}" if p.line else p.message for p in exc.problems[:20])
        return await _campaign_page(request, session, user, campaign_id, 422, link_errors={"lines": message[:1].upper() + message[1:] + "."},
                                    link_values={"lines": pasted}, open_form="link-csv")
    await _changed(request, session, *made)
    flash(request, f"Added {len(made):,} link{'s' * (len(made) != 1)}.")
    return RedirectResponse(f"/campaigns/{campaign_id}#links", 303)
