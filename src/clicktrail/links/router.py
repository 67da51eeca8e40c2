"""HTTP API for campaigns, links, referral links and QR codes."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import Field

from clicktrail.auth.deps import writes_need
from clicktrail.db import SessionDep
from clicktrail.links import bulk, duplicate, previews, service
from clicktrail.links.csv_formats import ImportFormat
from clicktrail.links.card_image import ACCEPTED_TYPES, MAX_UPLOAD_BYTES, NotAnImage, card_image
from clicktrail.links.uploads import read_capped
from clicktrail.links.schemas import (
    CampaignCreate, CampaignDuplicate, CampaignOut, CampaignUpdate, LinkCreate, LinkOut, LinkUpdate, ReferralCreate,
)
from clicktrail.reports.queries import campaign_revenue
from clicktrail.reports.router import reporting_defaults
from clicktrail.redirect.cache import links_changed
from clicktrail.pagination import Page, PageDep, encode_cursor, int_cursor
from clicktrail.web.qr import MEDIA_TYPES, render_qr
from clicktrail.openapi import error_responses
from clicktrail.params import ChannelFilter, IdFilter, IdPath

router = APIRouter(prefix="/api", tags=["links"], dependencies=[writes_need("editor")])


def link_context(request: Request) -> service.LinkContext:
    return service.context_for(request)


ContextDep = Annotated[service.LinkContext, Depends(link_context)]


def _campaign_out(ctx: service.LinkContext, campaign, links) -> CampaignOut:
    return CampaignOut(
        id=campaign.id, name=campaign.name, slug=campaign.slug, domain=ctx.host_of(campaign.domain),
        destination_url=campaign.destination_url,
        utm_medium=campaign.utm_medium, created_at=campaign.created_at, archived=campaign.archived_at is not None,
        archived_at=campaign.archived_at, links=[ctx.out(l) for l in links],
    )


async def _links_changed(request: Request, session, *links) -> None:
    ctx = request.app.state.link_context
    await links_changed(session, request.app.state.link_cache, [ctx.change_of(link) for link in links])


@router.post("/campaigns", status_code=201, responses=error_responses(409))
async def create_campaign(data: CampaignCreate, session: SessionDep, ctx: ContextDep, request: Request) -> CampaignOut:
    campaign, links = await service.create_campaign(session, ctx, data)
    await _links_changed(request, session, *links)
    return _campaign_out(ctx, campaign, links)


@router.get("/campaigns")
async def list_campaigns(
    session: SessionDep,
    ctx: ContextDep,
    page: PageDep,
    request: Request,
    q: Annotated[str | None, Query(max_length=200, description="Text in the name or slug (any case).")] = None,
    archived: Annotated[bool | None, Query(description="true: archived only; false: active only; omitted: both.")] = None,
    sort: Annotated[service.CampaignSort, Query(description="created (newest first), name, or revenue "
                                                            "(highest first, in the reporting currency).")] = "created",
) -> Page[CampaignOut]:
    revenue = None
    if sort == "revenue":
        revenue = campaign_revenue(session.bind.dialect.name, reporting_defaults(request)[0])
    after = int_cursor(page)
    campaigns = await service.list_campaigns(session, page.limit, after, q=q, archived=archived, sort=sort,
                                             revenue=revenue)
    links = await service.links_of_campaigns(session, [c.id for c in campaigns])
    items = [_campaign_out(ctx, c, links[c.id]) for c in campaigns]
    if len(campaigns) < page.limit:
        return Page(items=items)
    # The cursor: the last id (newest first), else how many were seen.
    return Page(items=items, next_cursor=encode_cursor(campaigns[-1].id if sort == "created" else (after or 0) + len(campaigns)))


@router.patch("/campaigns/{campaign_id}")
async def update_campaign(campaign_id: IdPath, data: CampaignUpdate, session: SessionDep, ctx: ContextDep,
                          request: Request) -> CampaignOut:
    campaign, moved = await service.update_campaign(session, ctx, campaign_id, data)
    await _links_changed(request, session, *moved)
    links = await service.links_of_campaigns(session, [campaign.id])
    return _campaign_out(ctx, campaign, links[campaign.id])


@router.delete("/campaigns/{campaign_id}", status_code=204,
               responses={409: {"description": "its links were clicked: archive it instead"}})
async def delete_campaign(campaign_id: IdPath, session: SessionDep, ctx: ContextDep, request: Request) -> Response:
    removed = await service.delete_campaign(session, campaign_id)
    await links_changed(session, request.app.state.link_cache, [ctx.change_of(l) for l in removed])
    return Response(status_code=204)


@router.post("/campaigns/{campaign_id}/duplicate", status_code=201, responses=error_responses(404))
async def duplicate_campaign(
    campaign_id: IdPath, session: SessionDep, ctx: ContextDep, request: Request,
    data: Annotated[CampaignDuplicate | None, Body()] = None,
) -> CampaignOut:
    """A new campaign with this one's destination, medium, domain and channel links (labels, UTM
    overrides and preview cards too); no referral links, clicks or orders."""
    campaign, links = await duplicate.duplicate_campaign(session, ctx, campaign_id, data.name if data else None)
    await _links_changed(request, session, *links)
    return _campaign_out(ctx, campaign, links)


@router.get("/campaigns/{campaign_id}")
async def get_campaign(campaign_id: IdPath, session: SessionDep, ctx: ContextDep) -> CampaignOut:
    campaign = await service.get_campaign(session, campaign_id)
    links = await service.links_of_campaigns(session, [campaign.id])
    return _campaign_out(ctx, campaign, links[campaign.id])


@router.post("/campaigns/{campaign_id}/referrals", status_code=201, responses=error_responses(409))
async def create_referrals(
    campaign_id: IdPath,
    body: Annotated[ReferralCreate | Annotated[list[ReferralCreate], Field(min_length=1, max_length=1000)], Body()],
    session: SessionDep,
    ctx: ContextDep,
    request: Request,
) -> Page[LinkOut]:
    rows = body if isinstance(body, list) else [body]
    links = await service.create_referrals(session, ctx, campaign_id, rows)
    await _links_changed(request, session, *links)
    return Page(items=[ctx.out(l) for l in links])


@router.post("/links", status_code=201, responses=error_responses(404, 409))
async def create_link(data: LinkCreate, session: SessionDep, ctx: ContextDep, request: Request) -> LinkOut:
    link = await service.create_link(session, ctx, data)
    await _links_changed(request, session, link)
    return ctx.out(link)


@router.get("/links")
async def list_links(
    session: SessionDep,
    ctx: ContextDep,
    page: PageDep,
    campaign_id: IdFilter = None,
    channel: ChannelFilter = None,
) -> Page[LinkOut]:
    links = await service.list_links(
        session, campaign_id=campaign_id, channel=channel, limit=page.limit, before_id=int_cursor(page)
    )
    more = len(links) == page.limit
    return Page(items=[ctx.out(l) for l in links], next_cursor=encode_cursor(links[-1].id) if more else None)


CSV_TYPES = {"text/csv", "text/plain", "application/csv", "application/vnd.ms-excel", "application/octet-stream"}


def _csv_body(request: Request) -> None:
    media = request.headers.get("content-type", "text/csv").split(";")[0].strip().lower()
    if media not in CSV_TYPES:
        raise HTTPException(415, detail="send the file as text/csv")


def _refused(exc: bulk.Refused) -> JSONResponse:
    return JSONResponse({"detail": exc.detail()}, 422)


@router.post("/links/import", status_code=201, responses=error_responses(413, 415))
async def import_links(
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    format: Annotated[ImportFormat, Query(description="whose export the body is")],
    campaign_id: IdFilter = None,
    channel: Annotated[ChannelFilter, Query(description="the channel of every link (clicktrail rows may name their own)")] = None,
    domain: Annotated[str | None, Query(min_length=1, max_length=253, description="the short domain of every link: one of the "
                                        "workspace's domains, or the base URL's host (the default)")] = None,
) -> Any:
    """Links from another shortener's CSV export (body `text/csv`), up to 10,000 rows, each keeping
    its old code as its slug: every row is made or none (422 naming every bad line)."""
    _csv_body(request)
    try:
        host = await bulk.check_domain(session, ctx, domain)
        rows = await bulk.read_rows(request.stream(), format)
        links = await bulk.import_links(session, ctx, rows, campaign_id=campaign_id, channel=channel, domain=host)
    except bulk.Refused as exc:
        return _refused(exc)
    await bulk.new_codes(session, request.app.state.link_cache, [ctx.code_of(link) for link in links],
                         links[0].domain if links else "")
    return {"created": len(links), "items": [ctx.out(link) for link in links]}


@router.get("/links/export", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}})
async def export_links(request: Request, campaign_id: IdFilter = None, channel: ChannelFilter = None) -> StreamingResponse:
    """Every link as CSV (the columns `format=clicktrail` imports), streamed."""
    return links_csv(request, campaign_id, channel)


def links_csv(request: Request, campaign_id: int | None = None, channel: str | None = None) -> StreamingResponse:
    """The links export as a download, for the API and the web app alike."""
    workspace_id = request.state.subject.workspace.id  # set by the API key's or the session's auth
    rows = bulk.export_csv(request.app.state.sessionmaker, request.app.state.link_context, workspace_id,
                           campaign_id, channel)
    return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="clicktrail-links.csv"', "Cache-Control": "private, no-store"})


@router.post("/campaigns/{campaign_id}/links", status_code=201, responses=error_responses(413, 415))
async def campaign_links_from_csv(
    campaign_id: IdPath, request: Request, session: SessionDep, ctx: ContextDep
) -> Any:
    """The campaign's links from `channel,label` lines (body `text/csv`): one link per line."""
    _csv_body(request)
    raw = await read_capped(request, 2_000_000, "at most 2 MB of channel,label lines")
    try:
        links = await bulk.channel_links(session, ctx, campaign_id, raw.decode("utf-8"))
    except UnicodeDecodeError:
        return JSONResponse({"detail": "the body is not UTF-8 text"}, 422)
    except bulk.Refused as exc:
        return _refused(exc)
    await _links_changed(request, session, *links)
    return {"created": len(links), "items": [ctx.out(link) for link in links]}


@router.get("/links/{link_id}")
async def get_link(link_id: IdPath, session: SessionDep, ctx: ContextDep) -> LinkOut:
    return ctx.out(await service.get_link(session, link_id))


@router.patch("/links/{link_id}")
async def update_link(link_id: IdPath, data: LinkUpdate, session: SessionDep, ctx: ContextDep, request: Request) -> LinkOut:
    link = await service.update_link(session, ctx, link_id, data)
    await _links_changed(request, session, link)
    return ctx.out(link)


@router.delete("/links/{link_id}", responses={204: {"description": "erased (it had no clicks)"}})
async def delete_link(link_id: IdPath, session: SessionDep, ctx: ContextDep, request: Request) -> Response:
    link = await session.get(service.Link, link_id)
    change = ctx.change_of(link) if link is not None else (link_id, None)
    kept = await service.delete_link(session, link_id)
    if kept is not None:
        await _links_changed(request, session, kept)
        return Response(ctx.out(kept).model_dump_json(), media_type="application/json")
    await links_changed(session, request.app.state.link_cache, [change])
    return Response(status_code=204)


@router.get("/links/{link_id}/qr", response_class=Response)
async def link_qr(
    link_id: IdPath,
    session: SessionDep,
    ctx: ContextDep,
    format: Annotated[Literal["svg", "png"], Query()] = "svg",
    download: bool = False,
) -> Response:
    link = await service.get_link(session, link_id)
    out = ctx.out(link)
    headers = {"Cache-Control": "private, max-age=3600"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="clicktrail-{out.code}.{format}"'
    return Response(render_qr(out.short_url, format), media_type=MEDIA_TYPES[format], headers=headers)


@router.put("/links/{link_id}/preview-image", responses=error_responses(409, 413, 415))
async def put_preview_image(link_id: IdPath, request: Request, session: SessionDep, ctx: ContextDep) -> LinkOut:
    """The card's image: a PNG, JPEG or WebP body of at most 5 MB, stored as a 1200x630 JPEG."""
    link = await service.get_link(session, link_id)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ACCEPTED_TYPES:
        raise HTTPException(415, detail="send the image as image/png, image/jpeg or image/webp")
    data = await read_capped(request, MAX_UPLOAD_BYTES, "an image of at most 5 MB")
    try:
        # Decoding and re-encoding takes tens of milliseconds: off the event loop, so taps don't wait.
        image = await asyncio.to_thread(card_image, data)
    except NotAnImage as exc:
        raise HTTPException(422, detail=str(exc)) from None
    await previews.store_image(session, link, image)
    await _links_changed(request, session, link)
    return ctx.out(link)
