"""HTTP for orders: the API (sources, orders, identify; API key) and the public side (the
signed webhooks, which authenticate by signature, and `/ct.js`)."""

from __future__ import annotations

import time

import logging
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from pydantic import BeforeValidator
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from clicktrail.workspaces import tenancy
from clicktrail.auth.deps import needs, writes_need
from clicktrail.conversions import erasure, service, shopjs
from clicktrail.conversions.pending import conversion_context
from clicktrail.conversions.platforms import DELIVERY_ID_HEADERS, NORMALISERS, BadPayload, Ignored, InvalidPayload, is_woocommerce_ping
from clicktrail.conversions.schemas import (
    CustomerErase, ErasedOut, Identify, OrderOut, OrderStatus, SecretRotate, SourceCreate, SourceOut, SourceWithSecret, WebhookAnswer,
)
from clicktrail.conversions.service import ConversionContext
from clicktrail.conversions.signatures import BadSignature, verify
from clicktrail.db import SessionDep
from clicktrail.pagination import Page, PageDep, encode_cursor, int_cursor
from clicktrail.params import MAX_ID, IdFilter, IdPath, blank_is_none

log = logging.getLogger("clicktrail.conversions")

MAX_BODY = 1024 * 1024  # 1 MiB

router = APIRouter(prefix="/api", tags=["orders"], dependencies=[writes_need("editor")])
public_router = APIRouter(tags=["webhooks"])


def _context(request: Request) -> ConversionContext:
    return conversion_context(request.app)


ContextDep = Annotated[ConversionContext, Depends(_context)]


@router.post("/sources", status_code=201, dependencies=[needs("admin")])
async def create_source(data: SourceCreate, session: SessionDep, ctx: ContextDep) -> SourceWithSecret:
    return await service.create_source(session, ctx, data.name, data.platform, data.secret)


@router.get("/sources", dependencies=[needs("admin")])
async def list_sources(session: SessionDep, ctx: ContextDep, page: PageDep) -> Page[SourceOut]:
    sources = await service.list_sources(session, ctx, page.limit, int_cursor(page))
    more = len(sources) == page.limit
    return Page(items=sources, next_cursor=encode_cursor(sources[-1].id) if more else None)


@router.get("/sources/{source_id}", dependencies=[needs("admin")])
async def get_source(source_id: IdPath, session: SessionDep, ctx: ContextDep) -> SourceOut:
    return await service.source_out(session, ctx, source_id)


@router.post("/sources/{source_id}/rotate-secret", dependencies=[needs("admin")])
async def rotate_secret(
    source_id: IdPath, session: SessionDep, ctx: ContextDep, data: Annotated[SecretRotate | None, Body()] = None
) -> SourceWithSecret:
    """A new random secret (or the one given, for Shopify and Stripe, which choose their own);
    the old one stops working at once."""
    return await service.rotate_secret(session, ctx, source_id, data.secret if data else None)


@router.delete("/sources/{source_id}", status_code=204, dependencies=[needs("admin")])
async def delete_source(source_id: IdPath, session: SessionDep) -> Response:
    await service.delete_source(session, source_id)
    return Response(status_code=204)


@router.get("/orders")
async def list_orders(
    session: SessionDep,
    page: PageDep,
    source_id: IdFilter = None,
    campaign_id: IdFilter = None,
    status: Annotated[OrderStatus | None, BeforeValidator(blank_is_none), Query()] = None,
) -> Page[OrderOut]:
    orders = await service.list_orders(
        session, source_id=source_id, campaign_id=campaign_id, status=status, limit=page.limit,
        before_id=int_cursor(page),
    )
    more = len(orders) == page.limit
    return Page(items=[service.order_out(o) for o in orders], next_cursor=encode_cursor(orders[-1].id) if more else None)


@router.get("/orders/{order_id}")
async def get_order(order_id: IdPath, session: SessionDep) -> OrderOut:
    return service.order_out(await service.get_order(session, order_id))


@router.post("/identify", status_code=204)
async def identify(data: Identify, session: SessionDep, ctx: ContextDep) -> Response:
    await service.identify(session, ctx, data.click_id, data.customer_ref)
    return Response(status_code=204)


@router.post("/customers/erase", dependencies=[needs("admin")])
async def erase_customer(data: CustomerErase, session: SessionDep, ctx: ContextDep) -> ErasedOut:
    """Remove what links a customer to clicks (identify links) and detach their orders. The
    reference travels in the body, not the URL, so that no access log keeps it."""
    erased = await erasure.erase_customer(session, ctx.customer_hash(data.customer_ref))
    return ErasedOut(identify_links_removed=erased.identify_links_removed, orders_detached=erased.orders_detached)


async def _read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it passes 1 MiB (whatever Content-Length claims)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, detail="the body is larger than 1 MiB")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise HTTPException(413, detail="the body is larger than 1 MiB")
            chunks.append(chunk)
    except ClientDisconnect:
        # The sender gave up mid-body: nothing to store, and no traceback in the log for it.
        raise HTTPException(400, detail="the request body was not received completely") from None
    return b"".join(chunks)


async def _note_refused(request: Request, source_id: int, reason: str) -> None:
    """Keep the last refused delivery's time and reason for the settings page: in a session of
    its own (the request's rolls back with the error), at most once a second per source, so a
    flood of forged deliveries costs one write a second."""
    state = request.app.state
    noted: dict[int, float] = getattr(state, "refusals_noted", None) or {}  # source id → when written
    state.refusals_noted = noted
    now = time.monotonic()
    if now - noted.get(source_id, -10.0) < 1.0:
        return
    if len(noted) > 10_000:
        noted.clear()
    noted[source_id] = now
    async with request.app.state.sessionmaker() as session:
        await service.note_refused(session, source_id, reason)
        await session.commit()


def _ignored(reason: str) -> JSONResponse:
    return JSONResponse({"order_id": None, "status": "ignored", "attribution": None, "detail": reason})


@public_router.post(
    "/webhooks/{source_id}",
    responses={400: {"description": "malformed body"}, 401: {"description": "bad or missing signature"},
               404: {"description": "unknown source"}, 409: {"description": "a refund of an order not delivered yet"},
               413: {"description": "body over 1 MiB"}},
    response_model=WebhookAnswer,
)
async def webhook(source_id: str, request: Request, session: SessionDep, ctx: ContextDep) -> Response:
    # ASCII digits only: int() would also read other scripts' digits ("١٢" is 12).
    known = source_id.isascii() and source_id.isdigit() and 0 < int(source_id) <= MAX_ID
    source = await service.webhook_source(session, int(source_id)) if known else None
    if source is None:
        raise HTTPException(404, detail="order source not found")
    # Everything this delivery reads and writes is in the source's workspace.
    tenancy.enter(session, source.workspace_id)
    ctx = ctx.with_window(source.attribution_window_days)
    body = await _read_body(request)
    headers = request.headers
    if source.platform == "woocommerce" and is_woocommerce_ping(body, headers):
        return _ignored("WooCommerce webhook ping")
    try:
        verify(source.platform, source.secret, body, headers)
    except BadSignature as exc:
        await _note_refused(request, source.id, f"bad signature: {exc}")
        raise HTTPException(401, detail=str(exc)) from None
    try:
        data = NORMALISERS[source.platform](body, headers, ctx.click_param)
    except BadPayload as exc:
        await _note_refused(request, source.id, f"unreadable body: {exc}")
        raise HTTPException(400, detail=str(exc)) from None
    except InvalidPayload as exc:
        await _note_refused(request, source.id, "unknown format: fields the service cannot take")
        raise HTTPException(422, detail=exc.errors) from None
    await service.note_delivery(session, source.id)
    if isinstance(data, Ignored):
        return _ignored(data.reason)
    delivery_id = headers.get(DELIVERY_ID_HEADERS.get(source.platform, ""), "").strip()
    if delivery_id and not await service.first_delivery(session, source.id, delivery_id):
        # A delivery already taken (a retry, or a captured request replayed): the same answer,
        # and nothing changes.
        known = await service.find_order(session, source.id, data.external_id)
        if known is None:
            return _ignored("this delivery was received before")
        return Response(service.webhook_answer(known).model_dump_json(), media_type="application/json")
    order = await service.receive(session, ctx, source, data, body.decode("utf-8", errors="replace"))
    return Response(service.webhook_answer(order).model_dump_json(), media_type="application/json")


async def ct_js(ctx: ContextDep) -> Response:
    """`GET /ct.js`. Registered on the app itself (app.py), not through a router: the short-link
    front door only knows the app's own single-segment paths, and would take /ct.js for a code."""
    return Response(
        shopjs.script(ctx.click_param),
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"},
    )
