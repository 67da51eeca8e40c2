"""Sales out on the settings page: each destination, whether its circuit has paused it, and its
last deliveries, through the outbound service."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.outbound import service as outbound
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
