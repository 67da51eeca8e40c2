"""Sales out on the settings page: each destination, whether its circuit has paused it, and its
last deliveries, through the outbound service."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.errors import NotFound
from clicktrail.outbound import service as outbound
from clicktrail.outbound.sender import Policy, outbound_context, send_test
from clicktrail.outbound.schemas import TestEventRequest
from clicktrail.outbound.models import Destination
from clicktrail.outbound.schemas import CircuitOut, DeliveryOut

KIND_NAMES = {"webhook": "Webhook", "ga4": "Google Analytics 4", "meta": "Meta Conversions API",
              "tiktok": "TikTok Events API"}
LAST = 5


@dataclass(frozen=True)
class DestinationView:
    id: int
    kind: str
    name: str
    target: str
    circuit: CircuitOut
    deliveries: list[DeliveryOut]


def _target(d: Destination) -> str:
    return d.url or d.account_id or ""


async def destinations(session: AsyncSession) -> list[DestinationView]:
    found = await outbound.list_destinations(session, ("webhook", *outbound.INTEGRATIONS), 100, None)
    return [
        DestinationView(d.id, d.kind, KIND_NAMES[d.kind], _target(d), outbound.circuit_of(d),
                        await outbound.list_deliveries(session, d.id, LAST, None))
        for d in found
    ]


async def send_test_event(session: AsyncSession, request: Request, destination_id: int, code: str) -> tuple[str, str] | None:
    """("ok" | "error", what to tell the person), or None for an unknown destination."""
    try:
        wanted = TestEventRequest(test_event_code=code.strip() or None)
    except ValidationError:
        return "error", "A test event code is letters, digits, dots, dashes and underscores."
    ctx = outbound_context(request.app)
    try:
        job = await outbound.test_job(session, ctx, destination_id, ("webhook", *outbound.INTEGRATIONS),
                                      wanted.test_event_code)
    except NotFound:
        return None
    outcome = await send_test(job, ctx, Policy.from_settings(request.app.state.settings))
    name = KIND_NAMES[job.kind]
    if outcome.delivered:
        return "ok", f"Test event sent to {name}: answered {outcome.status_code}."
    return "error", f"The test event to {name} failed: {outcome.error}"
