"""Request and answer shapes of outbound webhooks and integrations (API.md "Sales out")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from clicktrail.outbound.webhooks import EVENT_TYPES

EventType = Literal["order.attributed", "order.updated", "order.refunded"]
_ID = r"^[A-Za-z0-9_.-]+$"


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048)
    events: list[EventType] = Field(default_factory=lambda: list(EVENT_TYPES), min_length=1, max_length=3)

    @field_validator("events")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value), key=EVENT_TYPES.index)


class CircuitOut(BaseModel):
    state: Literal["active", "paused"]
    consecutive_failures: int
    paused_until: datetime | None
    last_error: str | None


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[EventType]
    created_at: datetime
    secret_rotated_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        None, description="Until then each delivery is signed with the previous secret as well.")
    circuit: CircuitOut


class WebhookWithSecret(WebhookOut):
    """Only creation and rotation show the secret."""

    secret: str


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # How long the old secret keeps signing too (0: it ends now, as after a leak); at most 7 days.
    previous_valid_hours: int = Field(default=24, ge=0, le=168)


class Ga4Create(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["ga4"]
    measurement_id: str = Field(min_length=1, max_length=64, pattern=_ID)
    api_secret: str = Field(min_length=1, max_length=255)


class MetaCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["meta"]
    pixel_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9]+$")
    access_token: str = Field(min_length=1, max_length=1000)
    send_hashed_email: bool = False


class TikTokCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["tiktok"]
    pixel_code: str = Field(min_length=1, max_length=64, pattern=_ID)
    access_token: str = Field(min_length=1, max_length=1000)
    send_hashed_email: bool = False


IntegrationCreate = Annotated[Ga4Create | MetaCreate | TikTokCreate, Field(discriminator="kind")]


class IntegrationOut(BaseModel):
    """The secret (api_secret, access_token) is never shown again."""

    id: int
    kind: Literal["ga4", "meta", "tiktok"]
    measurement_id: str | None = None
    pixel_id: str | None = None
    pixel_code: str | None = None
    send_hashed_email: bool
    created_at: datetime
    circuit: CircuitOut


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    type: str
    action: Literal["webhook", "purchase", "refund"]
    order_id: int
    status: Literal["pending", "delivered", "failed", "skipped"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class TestEventRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Meta's and TikTok's Events Manager show a code under "Test events"; GA4 needs none.
    test_event_code: str | None = Field(default=None, min_length=1, max_length=64, pattern=_ID)


class TestEventAnswer(BaseModel):
    delivered: bool
    status_code: int | None
    error: str | None
