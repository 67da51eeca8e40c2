"""What of a webhook body is kept: a per-platform allow-list, applied before anything is stored.

A shop sends the buyer's name, email, phone, addresses, IP and notes with every order; none of
that is needed to count a sale, so none of it is kept (API.md, Data lifecycle). Each platform's
shape below lists the fields that are kept — ids, amounts, currencies, statuses, times, line
items' product ids and prices, discount codes, landing URLs and the attributes that carry our
click id — and everything not listed is dropped, so a field a platform adds tomorrow is dropped
too. Customers exist only as the keyed hash the service makes of their reference.

A shape is one of:
- `SCALAR`: a string, number, boolean or null, kept as it is (an object or array there is dropped);
- `URL`: a URL, kept with only the query parameters that attribution reads (`landing_url`);
- a dict: an object, with only the listed fields, each by its own shape;
- a one-element list: an array whose elements all have that shape;
- `Entries` / `Keys`: name-value lists and free-form maps (Shopify `note_attributes`, WooCommerce
  `meta_data`, Stripe `metadata`), where the shop chooses the names: only known names are kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from clicktrail.conversions.platforms import CLICK_ID_KEYS, WC_LANDING_KEYS

SCALAR = "scalar"
URL = "url"
_DROP = object()

# Query parameters of a landing URL that are kept: the UTM tags and click ids attribution and
# the ad platforms read. Anything else (a newsletter's ?email=, a session token) is dropped.
UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "utm_id")
AD_CLICK_PARAMS = ("fbclid", "gclid", "gbraid", "wbraid", "ttclid", "msclkid", "ctwa_clid")
# Google Analytics' client id cookie, passed on by shops so that a purchase sent to GA4 joins the
# visit: a pseudonymous id that the outbound GA4 adapter needs, not a person's details.
GA_KEYS = ("_ga",)


@dataclass(frozen=True)
class Entries:
    """A list of {name, value} objects: entries with a known name are kept, by that name's shape."""

    name_key: str
    value_key: str
    names: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Keys:
    """An object whose keys the shop chooses: only the known keys are kept, each by its shape."""

    names: tuple[tuple[str, Any], ...]


def landing_url(url: Any, click_param: str = "ct_id") -> str | None:
    """A URL with only the query parameters attribution reads; no credentials, no fragment."""
    if not isinstance(url, str) or not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return None
    allowed = {*UTM_PARAMS, *AD_CLICK_PARAMS, *CLICK_ID_KEYS, click_param}
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k in allowed])
    netloc = host if port is None else f"{host}:{port}"
    if ":" in host:  # an IPv6 literal keeps its brackets
        netloc = f"[{host}]" if port is None else f"[{host}]:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def keep(value: Any, shape: Any, click_param: str = "ct_id") -> Any:
    """`value` with only what `shape` allows (see the module docstring); `_DROP` if nothing."""
    if shape == SCALAR:
        return value if value is None or isinstance(value, (str, int, float, bool)) else _DROP
    if shape == URL:
        return landing_url(value, click_param) if value is not None else None
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return _DROP
        kept = {}
        for name, inner in shape.items():
            if name in value:
                item = keep(value[name], inner, click_param)
                if item is not _DROP:
                    kept[name] = item
        return kept
    if isinstance(shape, list):
        if not isinstance(value, list):
            return _DROP
        return [item for item in (keep(v, shape[0], click_param) for v in value) if item is not _DROP]
    if isinstance(shape, Entries):
        if not isinstance(value, list):
            return _DROP
        names = dict(shape.names)
        kept_entries = []
        for entry in value:
            if isinstance(entry, dict) and isinstance(entry.get(shape.name_key), str) and entry[shape.name_key] in names:
                item = keep(entry.get(shape.value_key), names[entry[shape.name_key]], click_param)
                if item is not _DROP:
                    kept_entries.append({shape.name_key: entry[shape.name_key], shape.value_key: item})
        return kept_entries
    if isinstance(shape, Keys):
        if not isinstance(value, dict):
            return _DROP
        return {
            name: item for name, inner in shape.names if name in value
            for item in (keep(value[name], inner, click_param),) if item is not _DROP
        }
    raise TypeError(f"not a shape: {shape!r}")


def _fields(*names: str) -> dict[str, Any]:
    return {name: SCALAR for name in names}


# --- the shapes, per platform ---------------------------------------------------------------

_MONEY = {"shop_money": _fields("amount", "currency_code"), "presentment_money": _fields("amount", "currency_code")}


def _with_sets(*names: str) -> dict[str, Any]:
    """Shopify money fields: the amount in the shop's currency, and its `_set` of both currencies."""
    return {**_fields(*names), **{f"{n}_set": _MONEY for n in names}}


_SHOPIFY_TAX_LINE = {**_with_sets("price"), **_fields("rate", "title", "channel_liable")}
_SHOPIFY_DISCOUNT_ALLOCATION = {**_with_sets("amount"), **_fields("discount_application_index")}
_SHOPIFY_LINE_ITEM = {
    **_fields("id", "admin_graphql_api_id", "product_id", "variant_id", "sku", "quantity", "gift_card",
              "taxable", "requires_shipping", "fulfillable_quantity", "fulfillment_status", "product_exists"),
    **_with_sets("price", "total_discount"),
    "tax_lines": [_SHOPIFY_TAX_LINE],
    "discount_allocations": [_SHOPIFY_DISCOUNT_ALLOCATION],
}
_SHOPIFY_REFUND = {
    **_fields("id", "admin_graphql_api_id", "order_id", "created_at", "processed_at", "restock"),
    "total_duties_set": _MONEY,
    "transactions": [_fields("id", "admin_graphql_api_id", "order_id", "parent_id", "amount", "currency", "kind",
                             "status", "gateway", "created_at", "processed_at", "source_name", "test",
                             "error_code")],
    "refund_line_items": [{
        **_fields("id", "line_item_id", "quantity", "restock_type", "subtotal", "total_tax"),
        "subtotal_set": _MONEY, "total_tax_set": _MONEY,
    }],
    "order_adjustments": [{**_fields("id", "order_id", "refund_id", "kind", "amount", "tax_amount"),
                           "amount_set": _MONEY, "tax_amount_set": _MONEY}],
}


def _attributes(click_param: str) -> tuple[tuple[str, Any], ...]:
    """Names of the shop-chosen attributes that carry our click id, a landing URL or GA's id."""
    return tuple(
        {**{k: SCALAR for k in (click_param, *CLICK_ID_KEYS, *GA_KEYS)}, **{k: URL for k in WC_LANDING_KEYS}}.items()
    )


def _shopify_order(click_param: str) -> dict[str, Any]:
    return {
        **_fields("id", "admin_graphql_api_id", "order_number", "number", "created_at", "updated_at", "processed_at",
                  "cancelled_at", "cancel_reason", "closed_at", "currency", "presentment_currency", "financial_status",
                  "fulfillment_status", "confirmed", "test", "taxes_included", "source_name", "total_weight",
                  "landing_site_ref"),
        **_with_sets("total_price", "subtotal_price", "total_tax", "total_discounts", "total_line_items_price",
                     "current_total_price", "current_subtotal_price", "current_total_tax", "current_total_discounts",
                     "total_shipping_price", "total_outstanding", "total_tip_received"),
        "landing_site": URL,
        "note_attributes": Entries("name", "value", _attributes(click_param)),
        "discount_codes": [_fields("code", "amount", "type")],
        "discount_applications": [_fields("target_type", "type", "value", "value_type", "allocation_method",
                                          "target_selection", "code")],
        "line_items": [_SHOPIFY_LINE_ITEM],
        "tax_lines": [_SHOPIFY_TAX_LINE],
        "shipping_lines": [{**_fields("id", "code", "source", "title"), **_with_sets("price", "discounted_price")}],
        "refunds": [_SHOPIFY_REFUND],
    }


_WOO_TAXES = [_fields("id", "total", "subtotal")]


def _woocommerce_order(click_param: str) -> dict[str, Any]:
    return {
        **_fields("id", "parent_id", "number", "created_via", "version", "status", "currency", "date_created",
                  "date_created_gmt", "date_modified", "date_modified_gmt", "discount_total", "discount_tax",
                  "shipping_total", "shipping_tax", "cart_tax", "total", "total_tax", "prices_include_tax",
                  "payment_method", "transaction_id", "date_paid", "date_paid_gmt", "date_completed",
                  "date_completed_gmt"),
        "meta_data": Entries("key", "value", _attributes(click_param)),
        "line_items": [{**_fields("id", "product_id", "variation_id", "quantity", "tax_class", "subtotal",
                                  "subtotal_tax", "total", "total_tax", "sku", "price"), "taxes": _WOO_TAXES}],
        "tax_lines": [_fields("id", "rate_code", "rate_id", "label", "compound", "tax_total", "shipping_tax_total")],
        "shipping_lines": [{**_fields("id", "method_id", "method_title", "total", "total_tax"), "taxes": _WOO_TAXES}],
        "fee_lines": [{**_fields("id", "tax_class", "tax_status", "total", "total_tax"), "taxes": _WOO_TAXES}],
        "coupon_lines": [_fields("id", "code", "discount", "discount_tax")],
        # A refund's `reason` is free text the shop typed: not kept.
        "refunds": [_fields("id", "total")],
    }


_WOO_REFUND = {"id": SCALAR, "total": SCALAR}


def _stripe_event(click_param: str) -> dict[str, Any]:
    metadata = Keys((*_attributes(click_param), ("landing_url", URL), ("coupon_code", SCALAR), ("order_id", SCALAR)))
    payment = {
        **_fields("id", "object", "amount", "amount_total", "amount_subtotal", "amount_received", "amount_capturable",
                  "amount_captured", "amount_refunded", "currency", "created", "status", "payment_status", "paid",
                  "refunded", "captured", "disputed", "payment_intent", "latest_charge", "client_reference_id",
                  "livemode", "mode", "balance_transaction", "failure_code", "canceled_at", "cancellation_reason"),
        "metadata": metadata,
        "total_details": _fields("amount_discount", "amount_shipping", "amount_tax"),
        "discounts": [_fields("coupon", "promotion_code")],
        "payment_method_types": [SCALAR],
        "refunds": {**_fields("object", "has_more", "total_count"),
                    "data": [_fields("id", "object", "amount", "currency", "status", "created", "charge",
                                     "payment_intent", "reason")]},
    }
    return {**_fields("id", "object", "api_version", "created", "type", "livemode", "pending_webhooks"),
            "data": {"object": payment}}


_GENERIC = {
    **_fields("order_id", "amount", "currency", "created_at", "status", "click_id", "refunded_amount"),
    "coupon_codes": [SCALAR],
    "landing_url": URL,
    # customer_ref (an email, often) is not kept: the order keeps its keyed hash.
}


@lru_cache(maxsize=8)
def _shapes(click_param: str) -> dict[str, Any]:
    return {
        "generic": _GENERIC,
        "shopify": _shopify_order(click_param),
        "woocommerce": _woocommerce_order(click_param),
        "stripe": _stripe_event(click_param),
    }


REFUND_SHAPES = {"shopify": _SHOPIFY_REFUND, "woocommerce": _WOO_REFUND}


def is_shopify_refund(payload: Any) -> bool:
    """A Shopify Refund (a refunds/create body) rather than an Order: it names its order."""
    return isinstance(payload, dict) and "order_id" in payload and "total_price" not in payload


def kept(platform: str, payload: Any, click_param: str = "ct_id", *, refund: bool = False) -> Any:
    """What is stored of a delivery's parsed JSON (`refund`: a refund object on its own)."""
    shape = REFUND_SHAPES[platform] if refund else _shapes(click_param)[platform]
    result = keep(payload, shape, click_param)
    return {} if result is _DROP else result


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def stored_body(platform: str, body: bytes | str, click_param: str = "ct_id", *, refund: bool | None = None) -> str:
    """The JSON text stored for a delivery. `refund` None: a Shopify body is taken for a Refund
    by its shape (`is_shopify_refund`), as the migration of stored bodies must."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "{}"  # nothing readable is kept (only parsed bodies reach the service)
    if refund is None:
        refund = platform == "shopify" and is_shopify_refund(payload)
    return dumps(kept(platform, payload, click_param, refund=refund))


# --- bodies stored before the allow-list (the migration that brings them under it) ------------

MIGRATION_BATCH = 500  # rows read and rewritten per statement: memory stays bounded


def redact_stored(conn: Any, click_param: str = "ct_id") -> int:
    """Rewrite every stored body (orders, order events) and landing URL to what the allow-list
    keeps, a batch of rows at a time in id order (sync: run from a migration). Returns the rows
    rewritten. Plain table clauses, not the models: the migration must not change with them."""
    from sqlalchemy import bindparam, column, select, table, update

    sources = table("order_sources", column("id"), column("platform"))
    orders = table("orders", column("id"), column("source_id"), column("raw_payload"), column("landing_url"))
    events = table("order_events", column("id"), column("order_id"), column("kind"), column("raw_payload"))
    if conn.dialect.name == "sqlite":
        # Overwrite what is replaced with zeros, so the old bodies do not linger in free pages.
        conn.exec_driver_sql("PRAGMA secure_delete = ON")
    rewritten = 0
    for target, query in (
        (orders, select(orders.c.id, sources.c.platform, orders.c.raw_payload, orders.c.landing_url, None)
         .join_from(orders, sources, orders.c.source_id == sources.c.id)),
        (events, select(events.c.id, sources.c.platform, events.c.raw_payload, None, events.c.kind)
         .join_from(events, orders, events.c.order_id == orders.c.id)
         .join(sources, orders.c.source_id == sources.c.id)),
    ):
        last = None
        while True:
            batch = query.order_by(target.c.id).limit(MIGRATION_BATCH)
            if last is not None:
                batch = batch.where(target.c.id > last)
            rows = conn.execute(batch).all()
            if not rows:
                break
            last = rows[-1][0]
            values = []
            for row_id, platform, raw, landing, kind in rows:
                refund = kind == "refund" and platform in REFUND_SHAPES
                entry = {"row_id": row_id, "raw": stored_body(platform, raw or "{}", click_param,
                                                             refund=True if refund else None)}
                if target is orders:
                    entry["landing"] = (landing_url(landing, click_param) or "")[:4096] or None
                values.append(entry)
            changes = {"raw_payload": bindparam("raw")}
            if target is orders:
                changes["landing_url"] = bindparam("landing")
            conn.execute(update(target).where(target.c.id == bindparam("row_id")).values(changes), values)
            rewritten += len(values)
    return rewritten
