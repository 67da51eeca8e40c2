"""HTTP for sales out: outbound webhooks (with their deliveries log, retry and secret rotation)
and integrations (GA4, Meta, TikTok). API key required."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.auth.deps import writes_need
from clicktrail.db import SessionDep
from clicktrail.outbound import service
from clicktrail.outbound.schemas import (
    DeliveryOut, IntegrationCreate, IntegrationOut, SecretRotation, TestEventAnswer, TestEventRequest, WebhookCreate,
    WebhookOut, WebhookWithSecret,
)
from clicktrail.outbound.sender import Policy, outbound_context, send_test
from clicktrail.outbound.service import INTEGRATIONS, OutboundContext
from clicktrail.pagination import Page, PageDep, PageParams, encode_cursor, int_cursor
from clicktrail.openapi import error_responses
from clicktrail.params import IdPath

router = APIRouter(prefix="/api", tags=["sales out"], dependencies=[writes_need("admin")])
WEBHOOK = ("webhook",)


def _context(request: Request) -> OutboundContext:
    return outbound_context(request.app)


ContextDep = Annotated[OutboundContext, Depends(_context)]


def _page(items: list, limit: int) -> dict:
    """Page fields: newest first, the cursor the last id when the page is full."""
    return {"items": items, "next_cursor": encode_cursor(items[-1].id) if len(items) == limit else None}


@router.post("/webhooks", status_code=201)
async def create_webhook(data: WebhookCreate, session: SessionDep, ctx: ContextDep) -> WebhookWithSecret:
    """The secret (`whsec_…`) is shown in this answer only."""
    return await service.create_webhook(session, ctx, data.url, list(data.events))


@router.get("/webhooks")
async def list_webhooks(session: SessionDep, page: PageDep) -> Page[WebhookOut]:
    hooks = await service.list_destinations(session, WEBHOOK, page.limit, int_cursor(page))
    return Page(**_page([service.webhook_out(h) for h in hooks], page.limit))


@router.get("/webhooks/{hook_id}")
async def get_webhook(hook_id: IdPath, session: SessionDep) -> WebhookOut:
    return service.webhook_out(await service.get_destination(session, hook_id, WEBHOOK))


@router.delete("/webhooks/{hook_id}", status_code=204)
async def delete_webhook(hook_id: IdPath, session: SessionDep) -> Response:
    await service.delete_destination(session, hook_id, WEBHOOK)
    return Response(status_code=204)


@router.post("/webhooks/{hook_id}/rotate-secret")
async def rotate_webhook_secret(
    hook_id: IdPath, session: SessionDep, ctx: ContextDep, data: Annotated[SecretRotation | None, Body()] = None,
) -> WebhookWithSecret:
    """A new secret, shown once; every try from now on (pending ones too) is signed with it."""
    hours = (data or SecretRotation()).previous_valid_hours
    return await service.rotate_webhook_secret(session, ctx, hook_id, timedelta(hours=hours))


async def _deliveries(session: AsyncSession, destination_id: int, kinds: tuple[str, ...], page: PageParams) -> Page[DeliveryOut]:
    await service.get_destination(session, destination_id, kinds)
    items = await service.list_deliveries(session, destination_id, page.limit, int_cursor(page))
    return Page(**_page(items, page.limit))


async def _retry(session, destination_id: int, kinds: tuple[str, ...], delivery_id: IdPath) -> DeliveryOut:
    await service.get_destination(session, destination_id, kinds)
    return await service.retry_delivery(session, destination_id, delivery_id)


@router.get("/webhooks/{hook_id}/deliveries")
async def webhook_deliveries(hook_id: IdPath, session: SessionDep, page: PageDep) -> Page[DeliveryOut]:
    """Newest first: status, attempts, the last answer's code and error."""
    return await _deliveries(session, hook_id, WEBHOOK, page)


@router.post("/webhooks/{hook_id}/deliveries/{delivery_id}/retry", status_code=202, responses=error_responses(409))
async def retry_webhook_delivery(hook_id: IdPath, delivery_id: IdPath, session: SessionDep) -> DeliveryOut:
    """Sent again now, with the same event id."""
    return await _retry(session, hook_id, WEBHOOK, delivery_id)


@router.post("/integrations", status_code=201, responses=error_responses(409))
async def create_integration(data: IntegrationCreate, session: SessionDep, ctx: ContextDep) -> IntegrationOut:
    return await service.create_integration(session, ctx, data)


@router.get("/integrations")
async def list_integrations(session: SessionDep, page: PageDep) -> Page[IntegrationOut]:
    found = await service.list_destinations(session, INTEGRATIONS, page.limit, int_cursor(page))
    return Page(**_page([service.integration_out(d) for d in found], page.limit))


@router.get("/integrations/{integration_id}")
async def get_integration(integration_id: IdPath, session: SessionDep) -> IntegrationOut:
    return service.integration_out(await service.get_destination(session, integration_id, INTEGRATIONS))


@router.delete("/integrations/{integration_id}", status_code=204)
async def delete_integration(integration_id: IdPath, session: SessionDep) -> Response:
    await service.delete_destination(session, integration_id, INTEGRATIONS)
    return Response(status_code=204)


@router.get("/integrations/{integration_id}/deliveries")
async def integration_deliveries(integration_id: IdPath, session: SessionDep, page: PageDep) -> Page[DeliveryOut]:
    return await _deliveries(session, integration_id, INTEGRATIONS, page)


@router.post("/integrations/{integration_id}/deliveries/{delivery_id}/retry", status_code=202,
             responses=error_responses(409))
async def retry_integration_delivery(integration_id: IdPath, delivery_id: IdPath, session: SessionDep) -> DeliveryOut:
    return await _retry(session, integration_id, INTEGRATIONS, delivery_id)


async def _test(request: Request, session: AsyncSession, ctx: OutboundContext, destination_id: int, kinds: tuple[str, ...],
                code: str | None) -> TestEventAnswer:
    job = await service.test_job(session, ctx, destination_id, kinds, code)
    outcome = await send_test(job, ctx, Policy.from_settings(request.app.state.settings))
    return TestEventAnswer(delivered=outcome.delivered, status_code=outcome.status_code, error=outcome.error)


@router.post("/webhooks/{hook_id}/test")
async def test_webhook(hook_id: IdPath, request: Request, session: SessionDep, ctx: ContextDep) -> TestEventAnswer:
    """Send a made-up order (`data.test` true) now, signed as usual; the answer says how it went."""
    return await _test(request, session, ctx, hook_id, WEBHOOK, None)


@router.post("/integrations/{integration_id}/test")
async def test_integration(
    integration_id: IdPath, request: Request, session: SessionDep, ctx: ContextDep,
    data: Annotated[TestEventRequest | None, Body()] = None,
) -> TestEventAnswer:
    """GA4: to its validation endpoint (/debug/mp/collect); Meta and TikTok: with `test_event_code`."""
    return await _test(request, session, ctx, integration_id, INTEGRATIONS, data.test_event_code if data else None)
