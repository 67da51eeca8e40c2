"""Normalisers: each platform's order payload → one `OrderData` shape.

Amounts become exact integer minor units of the ISO 4217 currency (money.py); times become
aware UTC datetimes; statuses become a base status (`pending`, `paid`, `cancelled`, or
`refunded` for "fully refunded") plus refunds, which the service turns into the stored status.
Where each platform carries our click id, coupons and customer email: ../shared/API.md and
tests/data/webhooks/SOURCES.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import ValidationError

from clicktrail.conversions.schemas import GenericOrder
from clicktrail.money import from_decimal, minor_units, normalise_currency
from clicktrail.params import year_problem

CLICK_ID_KEYS = ("ct_id", "_ct_id")
_CLICK_ID = re.compile(r"[A-Za-z0-9_-]{1,24}")  # a click id of ours fits a clicks.click_id column
# WooCommerce (8.5+) order attribution keeps the landing page here; plugins use the others.
WC_LANDING_KEYS = ("_wc_order_attribution_session_entry", "_ct_landing_url", "_landing_url", "landing_url")
# Stripe's minor unit where it is not ISO 4217's (SOURCES.md §4): ISK is two-decimal in the
# Stripe API (100 = 1 króna), MGA zero-decimal.
STRIPE_EXPONENTS = {"ISK": 2, "MGA": 0}


class BadPayload(Exception):
    """The body is not the JSON it should be (400)."""


class InvalidPayload(Exception):
    """Well-formed JSON that does not describe an order (422); `errors` as pydantic gives them."""

    def __init__(self, errors: list[dict[str, Any]] | str) -> None:
        super().__init__(str(errors))
        self.errors = errors


@dataclass
class Ignored:
    """A delivery that is not about an order we track (a ping, another event type): 200, nothing stored."""

    reason: str


@dataclass
class OrderData:
    external_id: str
    # None for a delivery that only carries a refund (Shopify refunds/create).
    amount_minor: int | None = None
    currency: str | None = None
    ordered_at: datetime | None = None
    status: str | None = None  # pending | paid | cancelled | refunded (in full)
    refunds: dict[str, int] = field(default_factory=dict)  # platform refund id → minor units
    refund_payloads: dict[str, Any] = field(default_factory=dict)
    refunded_total: int | None = None  # where the platform sends a cumulative total (Stripe)
    click_ids: list[str] = field(default_factory=list)
    coupon_codes: list[str] = field(default_factory=list)
    landing_url: str | None = None
    customer_ref: str | None = None
    # The shop's own time of this state (Shopify updated_at, WooCommerce date_modified_gmt).
    source_updated_at: datetime | None = None
    # For sales out (outbound/): the shop's customer id, and the cookies ct.js copied into the
    # order's attributes (`ga`, `fbp`, `fbc`, `ttp`) plus the buyer's `user_agent`.
    customer_id: str | None = None
    signals: dict[str, str] = field(default_factory=dict)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadPayload(f"the body is not valid JSON: {exc}") from None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{what} should be a JSON object")
    return value


MAX_MINOR = 10**15  # a quadrillion cents: more than any order, well inside BIGINT


def _minor(amount: Any, currency: str, what: str, signed: bool = False) -> int:
    if isinstance(amount, bool) or not isinstance(amount, (str, int, float, Decimal)):
        raise InvalidPayload(f"{what}: not an amount: {amount!r}")
    try:
        minor = from_decimal(str(amount), currency)
    except ValueError as exc:
        raise InvalidPayload(f"{what}: {exc}") from None
    if abs(minor) >= MAX_MINOR or (minor < 0 and not signed):
        raise InvalidPayload(f"{what}: {amount} is out of range")
    return minor


def _currency(value: Any) -> str:
    try:
        return normalise_currency(str(value))
    except ValueError as exc:
        raise InvalidPayload(str(exc)) from None


def _refund_id(value: Any) -> str:
    text = "" if value is None or isinstance(value, (dict, list)) else str(value)
    if not text or len(text) > 255:
        raise InvalidPayload("a refund id is 1 to 255 characters")
    return text


def _time(value: Any, naive_is_utc: bool = True) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parsed = datetime.fromtimestamp(value, timezone.utc)
        else:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise InvalidPayload(f"not an ISO 8601 time: {str(value)[:64]!r}") from None
    if problem := year_problem(parsed):
        raise InvalidPayload(problem)
    if parsed.tzinfo is None:
        if not naive_is_utc:
            return None
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def click_id_of_url(url: str | None, param: str = "ct_id") -> str | None:
    """The click id in a landing URL's query (a full URL or a path such as '/?ct_id=...')."""
    if not url:
        return None
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    for key, value in parse_qsl(query):
        if key in (param, "ct_id"):
            return value
    return None


def _add_click_id(data: OrderData, value: Any) -> None:
    if isinstance(value, (str, int)) and _CLICK_ID.fullmatch(str(value).strip()):
        candidate = str(value).strip()
        if candidate not in data.click_ids:
            data.click_ids.append(candidate)


def _add_coupon(data: OrderData, value: Any) -> None:
    if isinstance(value, str) and value.strip():
        code = value.strip().upper()  # as links store them (links.service.normalise_coupon)
        if code not in data.coupon_codes:
            data.coupon_codes.append(code)


def _email(value: Any) -> str | None:
    return value if isinstance(value, str) and "@" in value else None


# The attribute names ct.js writes (the cookies' own names) → OrderData.signals keys.
SIGNAL_ATTRIBUTES = {"_ga": "ga", "_fbp": "fbp", "_fbc": "fbc", "_ttp": "ttp"}


def _add_signals(data: OrderData, attributes: dict[str, Any], user_agent: Any = None, customer_id: Any = None) -> None:
    for name, key in SIGNAL_ATTRIBUTES.items():
        value = attributes.get(name)
        if isinstance(value, str) and 0 < len(value.strip()) <= 500:
            data.signals[key] = value.strip()
    if isinstance(user_agent, str) and user_agent.strip():
        data.signals["user_agent"] = user_agent.strip()[:512]
    if isinstance(customer_id, (str, int)) and not isinstance(customer_id, bool) and str(customer_id) not in ("", "0"):
        data.customer_id = str(customer_id)[:255]


def _name_values(entries: Any, name_key: str, value_key: str) -> dict[str, Any]:
    """[{name, value}, ...] (Shopify note_attributes, WooCommerce meta_data) → a dict."""
    out: dict[str, Any] = {}
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get(name_key), str):
                out.setdefault(entry[name_key], entry.get(value_key))
    return out


# --- generic -------------------------------------------------------------------------------


def generic(body: bytes, headers: dict[str, str], param: str) -> OrderData | Ignored:
    try:
        order = GenericOrder.model_validate_json(body)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise BadPayload("the body is not valid JSON") from None
        raise InvalidPayload(exc.errors(include_url=False, include_context=False)) from None
    currency = order.currency
    amount = _minor(order.amount, currency, "amount")
    data = OrderData(
        external_id=order.order_id,
        amount_minor=amount,
        currency=currency,
        ordered_at=order.created_at,
        status=order.status,
        landing_url=order.landing_url,
        customer_ref=order.customer_ref,
    )
    _add_signals(data, order.attributes, order.user_agent, order.customer_id)
    if order.refunded_amount is not None:
        data.refunded_total = _minor(order.refunded_amount, currency, "refunded_amount")
    if order.status == "refunded":
        data.refunded_total = amount
    _add_click_id(data, order.click_id)
    _add_click_id(data, click_id_of_url(order.landing_url, param))
    for code in order.coupon_codes:
        _add_coupon(data, code)
    return data


# --- Shopify -------------------------------------------------------------------------------

SHOPIFY_ORDER_TOPICS = {
    "orders/create", "orders/paid", "orders/updated", "orders/cancelled", "orders/fulfilled",
    "orders/partially_fulfilled", "orders/edited",
}
_SHOPIFY_STATUS = {
    "paid": "paid", "partially_refunded": "paid", "refunded": "refunded", "voided": "cancelled",
    "pending": "pending", "authorized": "pending", "partially_paid": "pending",
}


def _shopify_refund(refund: dict[str, Any], currency: str, rate: Decimal | None) -> int:
    """Money given back by one Shopify Refund: its successful refund transactions."""
    total = 0
    for tx in refund.get("transactions") or []:
        if not isinstance(tx, dict) or tx.get("kind") != "refund" or tx.get("status") != "success":
            continue
        tx_currency = str(tx.get("currency") or currency).upper()
        if tx_currency == currency:
            total += _minor(tx.get("amount", "0"), currency, "refund amount")
        elif rate is not None:
            # In the customer's (presentment) currency: converted at the order's own rate.
            converted = (Decimal(str(tx.get("amount", "0"))) * rate).quantize(Decimal(1).scaleb(-minor_units(currency)))
            total += _minor(converted, currency, "refund amount")
    return total


def _shopify_rate(order: dict[str, Any]) -> Decimal | None:
    money = order.get("total_price_set") or {}
    try:
        shop = Decimal(str(money["shop_money"]["amount"]))
        shown = Decimal(str(money["presentment_money"]["amount"]))
    except (KeyError, TypeError, ArithmeticError, ValueError):
        return None
    return shop / shown if shown else None


def _shopify_shop_money(order: dict[str, Any]) -> tuple[int, str]:
    """The order's total in the shop's own currency: `total_price_set.shop_money` where the order
    has it in another currency than `currency` (a shop selling in several currencies settles in
    one), else `total_price` in `currency` (the same money, and what an edit of the order changes)."""
    money_set = order.get("total_price_set")
    shop_money = money_set.get("shop_money") if isinstance(money_set, dict) else None
    if isinstance(shop_money, dict) and shop_money.get("amount") not in (None, "") and shop_money.get("currency_code"):
        currency = _currency(shop_money["currency_code"])
        if currency != _currency(order["currency"]):
            return _minor(shop_money["amount"], currency, "total_price_set.shop_money.amount"), currency
    currency = _currency(order["currency"])
    return _minor(order["total_price"], currency, "total_price"), currency


def shopify(body: bytes, headers: dict[str, str], param: str) -> OrderData | Ignored:
    topic = headers.get("x-shopify-topic", "")
    payload = _object(_json(body), "the body")
    if topic == "refunds/create":
        if "order_id" not in payload or "id" not in payload:
            raise InvalidPayload("a Shopify refund needs id and order_id")
        data = OrderData(external_id=str(payload["order_id"]))
        # The currency is the stored order's; transactions say theirs, which the service checks.
        currency = next((str(tx.get("currency")).upper() for tx in payload.get("transactions") or []
                         if isinstance(tx, dict) and tx.get("currency")), None)
        data.currency = currency
        data.refunds[_refund_id(payload.get("id"))] = _shopify_refund(payload, currency or "USD", None)
        data.refund_payloads[str(payload["id"])] = payload
        return data
    if topic not in SHOPIFY_ORDER_TOPICS:
        return Ignored(f"Shopify topic {topic or '(none)'} is not an order topic")
    for key in ("id", "total_price", "currency"):
        if payload.get(key) in (None, ""):
            raise InvalidPayload(f"a Shopify order needs {key}")
    amount, currency = _shopify_shop_money(payload)
    data = OrderData(
        external_id=str(payload["id"]),
        amount_minor=amount,
        currency=currency,
        ordered_at=_time(payload.get("created_at")),
        status=_SHOPIFY_STATUS.get(str(payload.get("financial_status")), "pending"),
        landing_url=payload.get("landing_site") if isinstance(payload.get("landing_site"), str) else None,
        source_updated_at=_time(payload.get("updated_at")),
    )
    if payload.get("cancelled_at") and data.status != "refunded":
        data.status = "cancelled"
    if data.status == "refunded":
        data.refunded_total = data.amount_minor
    rate = _shopify_rate(payload)
    for refund in payload.get("refunds") or []:
        if isinstance(refund, dict) and refund.get("id") is not None:
            data.refunds[_refund_id(refund.get("id"))] = _shopify_refund(refund, currency, rate)
            data.refund_payloads[str(refund["id"])] = refund
    attributes = _name_values(payload.get("note_attributes"), "name", "value")
    for key in (param, *CLICK_ID_KEYS):
        _add_click_id(data, attributes.get(key))
    _add_click_id(data, click_id_of_url(data.landing_url, param))
    for discount in payload.get("discount_codes") or []:
        if isinstance(discount, dict):
            _add_coupon(data, discount.get("code"))
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    data.customer_ref = _email(customer.get("email")) or _email(payload.get("email")) or _email(payload.get("contact_email"))
    client = payload.get("client_details") if isinstance(payload.get("client_details"), dict) else {}
    _add_signals(data, attributes, client.get("user_agent"), customer.get("id"))
    return data


# --- WooCommerce ---------------------------------------------------------------------------

_WOO_STATUS = {
    "processing": "paid", "completed": "paid", "refunded": "refunded", "pending": "pending",
    "on-hold": "pending", "cancelled": "cancelled", "failed": "cancelled", "trash": "cancelled",
}
_WOO_PING = re.compile(rb"webhook_id=\d+")


# Shopify and WooCommerce sign no timestamp: their delivery ids are what tells a replay.
DELIVERY_ID_HEADERS = {"shopify": "x-shopify-webhook-id", "woocommerce": "x-wc-webhook-delivery-id"}


def is_woocommerce_ping(body: bytes, headers: dict[str, str]) -> bool:
    """The unsigned `webhook_id=N` form post WooCommerce sends when a webhook is created; it
    activates the webhook only if answered 200."""
    return "x-wc-webhook-signature" not in headers and _WOO_PING.fullmatch(body.strip()) is not None


def woocommerce(body: bytes, headers: dict[str, str], param: str) -> OrderData | Ignored:
    payload = _object(_json(body), "the body")
    resource = headers.get("x-wc-webhook-resource")
    if resource not in (None, "order"):
        return Ignored(f"WooCommerce resource {resource} is not an order")
    for key in ("id", "total", "currency"):
        if payload.get(key) in (None, ""):
            raise InvalidPayload(f"a WooCommerce order needs {key}")
    currency = _currency(payload["currency"])
    data = OrderData(
        external_id=str(payload["id"]),
        amount_minor=_minor(payload["total"], currency, "total"),
        currency=currency,
        # date_created_gmt has no offset but is UTC; date_created is site-local time.
        ordered_at=_time(payload.get("date_created_gmt")),
        status=_WOO_STATUS.get(str(payload.get("status")), "pending"),
        source_updated_at=_time(payload.get("date_modified_gmt")),
    )
    if data.status == "refunded":
        data.refunded_total = data.amount_minor
    for refund in payload.get("refunds") or []:
        if isinstance(refund, dict) and refund.get("id") is not None:
            # Refund totals are negative strings ("-10.00").
            data.refunds[_refund_id(refund.get("id"))] = abs(_minor(refund.get("total", "0"), currency, "refund total", signed=True))
            data.refund_payloads[str(refund["id"])] = refund
    meta = _name_values(payload.get("meta_data"), "key", "value")
    for key in (param, *CLICK_ID_KEYS):
        _add_click_id(data, meta.get(key))
    data.landing_url = next((meta[k] for k in WC_LANDING_KEYS if isinstance(meta.get(k), str) and meta[k]), None)
    _add_click_id(data, click_id_of_url(data.landing_url, param))
    for coupon in payload.get("coupon_lines") or []:
        if isinstance(coupon, dict):
            _add_coupon(data, coupon.get("code"))
    billing = payload.get("billing") if isinstance(payload.get("billing"), dict) else {}
    data.customer_ref = _email(billing.get("email"))
    _add_signals(data, meta, payload.get("customer_user_agent"), payload.get("customer_id"))
    return data


# --- Stripe --------------------------------------------------------------------------------


def _stripe_minor(amount: Any, currency: str) -> int:
    """Stripe's integer amount → ISO 4217 minor units (equal except ISK and MGA)."""
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 <= amount < MAX_MINOR:
        raise InvalidPayload("a Stripe amount is a non-negative integer of minor units")
    shift = minor_units(currency) - STRIPE_EXPONENTS.get(currency, minor_units(currency))
    if shift >= 0:
        return amount * 10**shift
    whole, rest = divmod(amount, 10**-shift)
    if rest:
        raise InvalidPayload(f"{amount} is not a whole amount of {currency}")
    return whole


def _stripe_common(obj: dict[str, Any], data: OrderData, param: str) -> None:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    _add_click_id(data, obj.get("client_reference_id"))
    for key in (param, *CLICK_ID_KEYS):
        _add_click_id(data, metadata.get(key))
    landing = metadata.get("landing_url")
    if isinstance(landing, str) and landing:
        data.landing_url = landing
        _add_click_id(data, click_id_of_url(landing, param))
    _add_coupon(data, metadata.get("coupon_code"))
    _add_signals(data, metadata, metadata.get("user_agent"), obj.get("customer"))


def stripe(body: bytes, headers: dict[str, str], param: str) -> OrderData | Ignored:
    event = _object(_json(body), "the body")
    kind = event.get("type")
    obj = (event.get("data") or {}).get("object") if isinstance(event.get("data"), dict) else None
    if not isinstance(obj, dict) or not isinstance(kind, str):
        raise InvalidPayload("a Stripe event needs type and data.object")
    if kind not in STRIPE_EVENTS:
        return Ignored(f"Stripe event {kind} is not about a payment")
    if not isinstance(obj.get("currency"), str) or not obj.get("id"):
        raise InvalidPayload("the event's object needs id and currency")
    currency = _currency(obj["currency"])
    # One order per payment: a Checkout Session, its PaymentIntent and its Charge all carry the
    # PaymentIntent id, so their events update one order (sessions without one use their own id).
    external = obj.get("payment_intent") if isinstance(obj.get("payment_intent"), str) else None
    data = OrderData(
        external_id=external or str(obj["id"]),
        currency=currency,
        ordered_at=_time(obj.get("created") or event.get("created")),
    )
    if kind.startswith("checkout.session."):
        data.amount_minor = _stripe_minor(obj.get("amount_total"), currency)
        paid = obj.get("payment_status") in ("paid", "no_payment_required")
        data.status = {"checkout.session.async_payment_failed": "cancelled"}.get(kind, "paid" if paid else "pending")
        details = obj.get("customer_details") if isinstance(obj.get("customer_details"), dict) else {}
        data.customer_ref = _email(details.get("email")) or _email(obj.get("customer_email"))
    elif kind.startswith("payment_intent."):
        data.amount_minor = _stripe_minor(obj.get("amount"), currency)
        data.status = "cancelled" if kind == "payment_intent.canceled" else "paid"
        data.customer_ref = _email(obj.get("receipt_email"))
    else:  # charge.*
        data.amount_minor = _stripe_minor(obj.get("amount"), currency)
        data.status = "paid" if obj.get("paid", True) else "pending"
        if obj.get("amount_refunded") is not None:
            data.refunded_total = _stripe_minor(obj["amount_refunded"], currency)  # cumulative
        billing = obj.get("billing_details") if isinstance(obj.get("billing_details"), dict) else {}
        data.customer_ref = _email(billing.get("email")) or _email(obj.get("receipt_email"))
    _stripe_common(obj, data, param)
    return data


STRIPE_EVENTS = {
    "checkout.session.completed", "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed", "payment_intent.succeeded", "payment_intent.canceled",
    "charge.succeeded", "charge.refunded",
}

NORMALISERS = {"generic": generic, "shopify": shopify, "woocommerce": woocommerce, "stripe": stripe}
PLATFORMS = tuple(NORMALISERS)
