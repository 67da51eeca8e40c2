"""What an adapter is given (one delivery of one event) and what it gives back (one HTTP request,
or a reason not to send). Adapters are pure: no database, no network."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class Endpoints:
    ga4_collect_url: str
    meta_graph_url: str
    tiktok_events_url: str


@dataclass(frozen=True)
class Job:
    """One delivery: the event (its webhook body and the platforms' signals), the destination."""

    delivery_id: int
    event_id: str
    type: str
    action: str  # webhook | purchase | refund
    body: str
    signals: dict[str, Any]
    kind: str
    url: str | None
    account_id: str | None
    secret: str
    email_sha256: str | None = None
    test_event_code: str | None = None
    previous_secret: str | None = None  # a webhook's old secret while a rotation overlaps

    @cached_property
    def order(self) -> dict[str, Any]:
        return json.loads(self.body)["data"]

    @property
    def transaction_id(self) -> str:
        """The shop's own order id: what its browser tag reports too, so platforms deduplicate."""
        return str(self.order["external_id"])

    @property
    def currency(self) -> str:
        return str(self.order["currency"])

    @property
    def value(self) -> float:
        """Major units: the order's amount for a purchase, the refund's for a refund."""
        amount = self.order["refund"]["amount"] if self.action == "refund" else self.order["amount"]
        return float(Decimal(amount))

    @property
    def ordered_at(self) -> datetime:
        return datetime.fromisoformat(self.order["created_at"]).astimezone(timezone.utc)

    def signal(self, name: str) -> str | None:
        value = self.signals.get(name)
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Outgoing:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"


@dataclass(frozen=True)
class Skip:
    """Not sent, on purpose (the platform would refuse it): the delivery ends as `skipped`."""

    reason: str


def json_body(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


JSON = {"Content-Type": "application/json"}
