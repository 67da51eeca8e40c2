"""Request and response shapes of order sources, webhooks, orders and identify (API.md)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from clicktrail.money import normalise_currency
from clicktrail.params import Moment, NonBlank

Platform = Literal["generic", "shopify", "woocommerce", "stripe"]
OrderStatus = Literal["pending", "paid", "partially_refunded", "refunded", "cancelled"]
AttributionMethod = Literal["click_id", "coupon", "utm", "customer"]
AttributionState = Literal["attributed", "pending", "unattributed"]


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    platform: Platform
    # Shopify and Stripe choose the signing secret themselves: paste theirs here. Otherwise a
    # random one is made (generic, WooCommerce: give it to the shop).
    secret: str | None = Field(default=None, min_length=8, max_length=255)


class SecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(default=None, min_length=8, max_length=255)


class SourceOut(BaseModel):
    id: int
    name: str
    platform: Platform
    webhook_url: str
    created_at: datetime
    secret_rotated_at: datetime | None = None
    # The shop's deliveries: the last one taken, the last one refused and why.
    last_delivery_at: datetime | None = None
    last_refused_at: datetime | None = None
    last_refused_reason: str | None = None


class SourceWithSecret(SourceOut):
    """Only the answers to creation and rotation show the secret."""

    secret: str


class GenericOrder(BaseModel):
    """Our own signed order JSON (API.md, generic)."""

    model_config = ConfigDict(extra="ignore")

    order_id: str = Field(min_length=1, max_length=255, coerce_numbers_to_str=True)
    amount: Decimal = Field(description="Major units, as a string or a number.")
    currency: str
    created_at: Moment | None = None
    status: Literal["paid", "pending", "refunded", "cancelled"] = "paid"
    click_id: str | None = Field(default=None, max_length=64)
    coupon_codes: list[str] = Field(default_factory=list, max_length=50)
    landing_url: str | None = Field(default=None, max_length=4096)
    customer_ref: NonBlank | None = Field(default=None, max_length=320)
    refunded_amount: Decimal | None = Field(default=None, description="Money given back so far, major units.")
    # For sales out: the shop's customer id, the buyer's user agent, and ct.js's cookies
    # (`_ga`, `_fbp`, `_fbc`, `_ttp`) as the shop read them.
    customer_id: str | None = Field(default=None, max_length=255, coerce_numbers_to_str=True)
    user_agent: str | None = Field(default=None, max_length=2048)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=50)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalise_currency(value)



class AttributionOut(BaseModel):
    method: AttributionMethod | None
    click_id: str | None
    link_id: int | None
    campaign_id: int | None
    channel: str | None
    app: str | None
    state: AttributionState


class WebhookAnswer(BaseModel):
    order_id: int | None
    external_id: str | None = None
    status: OrderStatus | Literal["ignored"]
    attribution: AttributionOut | None


class OrderOut(BaseModel):
    id: int
    source_id: int
    external_id: str
    amount: str
    currency: str
    status: OrderStatus
    refunded_amount: str
    net_amount: str
    created_at: datetime
    received_at: datetime
    attribution: AttributionOut


class Identify(BaseModel):
    model_config = ConfigDict(extra="forbid")

    click_id: str = Field(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9_-]+$")
    customer_ref: NonBlank = Field(max_length=320)


class CustomerErase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_ref: NonBlank = Field(max_length=320, description="The email or shop customer id, as given to identify or in orders.")


class ErasedOut(BaseModel):
    identify_links_removed: int = Field(description="Clicks the customer had been identified with, now unlinked.")
    orders_detached: int = Field(description="Orders that no longer refer to the customer (they keep their credit).")
