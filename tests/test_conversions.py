"""Order sources, signed webhooks per platform, normalised orders and attribution
(API.md: Orders and attribution).

Payloads are the published examples in tests/data/webhooks/ (SOURCES.md says where each comes
from), with a click id of ours placed where each platform carries it. Requests are signed here
with hmac/hashlib directly, not with the code under test.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from clicktrail.app import create_app
from clicktrail.clicks.models import Click, CustomerClick
from clicktrail.conversions import service
from clicktrail.conversions.models import Order, OrderEvent, OrderSource
from conftest import BASE_URL

DATA = Path(__file__).parent / "data" / "webhooks"
SHOP = "https://shop.example/products/red-shoes"


def fixture(name: str) -> dict:
    return json.loads((DATA / name).read_text())


# Published examples (SOURCES.md §1):
# - shopify_order.json: Shopify REST Admin Order 450789469, the docs example, as orders/* webhooks send it.
# - shopify_refund.json: its refunds[0], Refund 509562969: the refunds/create webhook body.
# - woocommerce_order.json: WooCommerce REST v3 Order 727 ("Create an order" JSON response example).
# - stripe_checkout_session_completed.json: a real Stripe CLI checkout.session.completed event.
# - stripe_charge_refunded.json / stripe_payment_intent_succeeded.json: docs Event envelope around
#   the docs Charge / PaymentIntent object (assembled; the values SOURCES.md lists are overridden).
SHOPIFY_ORDER_AT = datetime(2008, 1, 10, 16, 0, tzinfo=timezone.utc)  # "2008-01-10T11:00:00-05:00"
WOO_ORDER_AT = datetime(2017, 3, 22, 19, 28, 2, tzinfo=timezone.utc)  # date_created_gmt, UTC
STRIPE_SESSION_AT = datetime.fromtimestamp(1771041837, timezone.utc)  # data.object.created


@pytest.fixture
def settings(settings):
    # The pending-order task retries often, so a test sees it work within a second.
    return settings.model_copy(update={"pending_retry_interval": 0.05})


# --- signing, the way each platform does it -------------------------------------------------


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def timestamped(secret: str, body: bytes, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    return f"t={t},v1={_hmac(secret, f'{t}.'.encode() + body).hex()}"


def signed_headers(platform: str, secret: str, body: bytes, *, topic: str | None = None, t: int | None = None) -> dict:
    if platform == "generic":
        return {"Clicktrail-Signature": timestamped(secret, body, t), "Content-Type": "application/json"}
    if platform == "stripe":
        return {"Stripe-Signature": timestamped(secret, body, t), "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
    digest = base64.b64encode(_hmac(secret, body)).decode()
    if platform == "shopify":
        return {"X-Shopify-Hmac-Sha256": digest, "X-Shopify-Topic": topic or "orders/create",
                "X-Shopify-Shop-Domain": "jsmith.myshopify.com", "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                "X-Shopify-API-Version": "2023-01", "Content-Type": "application/json"}
    event = (topic or "order.created").split(".")[1]
    return {"X-WC-Webhook-Signature": digest, "X-WC-Webhook-Topic": topic or "order.created",
            "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Source": "https://example.com/", "Content-Type": "application/json"}


def dumps(payload: dict) -> bytes:
    return json.dumps(payload).encode()


async def deliver(client: httpx.AsyncClient, source: dict, body: bytes, **sign) -> httpx.Response:
    headers = signed_headers(source["platform"], source["secret"], body, **sign)
    return await client.post(f"/webhooks/{source['id']}", content=body, headers=headers)


# --- set-up helpers -------------------------------------------------------------------------


async def new_source(api: httpx.AsyncClient, platform: str, **extra) -> dict:
    response = await api.post("/api/sources", json={"name": f"{platform} shop", "platform": platform, **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def new_campaign(api: httpx.AsyncClient, channels=("whatsapp", "messenger"), **extra) -> dict:
    body = {"name": "Summer Sale", "destination_url": SHOP, "channels": list(channels), **extra}
    response = await api.post("/api/campaigns", json=body)
    assert response.status_code == 201, response.text
    return response.json()


_seq = iter(range(1, 10**9))


async def add_click(app, link: dict, occurred_at: datetime, *, app_name: str | None = "whatsapp") -> str:
    """A click row as the recorder writes it (the recorder itself is tested in test_redirect)."""
    click_id = f"ck{next(_seq):08d}{uuid.uuid4().hex[:10]}"
    async with app.state.sessionmaker() as session:
        session.add(Click(workspace_id=1,
            click_id=click_id, link_id=link["id"], campaign_id=link["campaign_id"], kind="click",
            channel=link["channel"], app=app_name, device="mobile", occurred_at=occurred_at,
        ))
        await session.commit()
    return click_id


async def count(app, model) -> int:
    async with app.state.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def stored_orders(app) -> list[Order]:
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(select(Order).order_by(Order.id))).all())


async def orders(api: httpx.AsyncClient, **params) -> list[dict]:
    response = await api.get("/api/orders", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


# --- payloads with our click id where each platform carries it ------------------------------


def generic_body(click_id: str | None = None, **fields) -> bytes:
    body = {"order_id": "A-1001", "amount": "49.90", "currency": "EUR", "created_at": datetime.now(timezone.utc).isoformat()}
    if click_id:
        body["click_id"] = click_id
    body.update(fields)
    return dumps(body)


def shopify_order(click_id: str | None = None, where: str = "landing_site") -> dict:
    order = fixture("shopify_order.json")
    if click_id and where == "landing_site":
        order["landing_site"] = f"/products/red-shoes?utm_source=whatsapp&ct_id={click_id}"
    elif click_id:  # ct.js put it in the cart attributes, which become note_attributes
        order["note_attributes"].append({"name": "ct_id", "value": click_id})
    return order


def woo_order(click_id: str | None = None, key: str = "_ct_id") -> dict:
    order = fixture("woocommerce_order.json")
    if click_id:
        order["meta_data"].append({"id": 13107, "key": key, "value": click_id})
    return order


def stripe_session(click_id: str | None = None, where: str = "client_reference_id") -> dict:
    event = fixture("stripe_checkout_session_completed.json")
    if click_id and where == "client_reference_id":
        event["data"]["object"]["client_reference_id"] = click_id
    elif click_id:
        event["data"]["object"]["metadata"] = {"ct_id": click_id}
    return event


# (platform, where the click id goes, payload builder, order time, amount, status, external id)
PLACEMENTS = [
    ("generic", "click_id", lambda c: json.loads(generic_body(c, created_at="2026-02-14T04:00:00+00:00")),
     datetime(2026, 2, 14, 4, tzinfo=timezone.utc), "49.90", "EUR", "paid", "A-1001"),
    ("generic", "landing_url", lambda c: json.loads(generic_body(
        None, created_at="2026-02-14T04:00:00Z", landing_url=f"https://shop.example/p?ct_id={c}&utm_source=x")),
     datetime(2026, 2, 14, 4, tzinfo=timezone.utc), "49.90", "EUR", "paid", "A-1001"),
    # The published order is partially refunded already: 598.94 with a 209.00 refund.
    ("shopify", "landing_site", lambda c: shopify_order(c, "landing_site"), SHOPIFY_ORDER_AT, "598.94", "USD",
     "partially_refunded", "450789469"),
    ("shopify", "note_attributes", lambda c: shopify_order(c, "note_attributes"), SHOPIFY_ORDER_AT, "598.94", "USD",
     "partially_refunded", "450789469"),
    ("woocommerce", "meta_data _ct_id", lambda c: woo_order(c, "_ct_id"), WOO_ORDER_AT, "29.35", "USD", "paid", "727"),
    ("woocommerce", "meta_data ct_id", lambda c: woo_order(c, "ct_id"), WOO_ORDER_AT, "29.35", "USD", "paid", "727"),
    ("stripe", "client_reference_id", lambda c: stripe_session(c, "client_reference_id"), STRIPE_SESSION_AT, "30.00",
     "USD", "paid", "pi_3T0a5LIeADuLKrJV03FitWbm"),
    ("stripe", "metadata.ct_id", lambda c: stripe_session(c, "metadata"), STRIPE_SESSION_AT, "30.00", "USD", "paid",
     "pi_3T0a5LIeADuLKrJV03FitWbm"),
]


@pytest.mark.parametrize(
    ("platform", "where", "build", "ordered_at", "amount", "currency", "status", "external_id"),
    PLACEMENTS, ids=[f"{p[0]}-{p[1]}" for p in PLACEMENTS],
)
async def test_published_payload_is_stored_and_credited_to_its_click(
    app, api, client, platform, where, build, ordered_at, amount, currency, status, external_id
) -> None:
    campaign = await new_campaign(api)
    messenger = campaign["links"][1]
    click_id = await add_click(app, messenger, ordered_at - timedelta(hours=3), app_name="messenger")
    await add_click(app, campaign["links"][0], ordered_at - timedelta(hours=2))  # another, not named by the order
    source = await new_source(api, platform)
    body = dumps(build(click_id))

    first = await deliver(client, source, body)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["status"] == status
    assert answer["attribution"] == {
        "method": "click_id", "click_id": click_id, "link_id": messenger["id"], "campaign_id": campaign["id"],
        "channel": "messenger", "app": "messenger", "state": "attributed",
    }
    [item] = await orders(api)
    assert item["id"] == answer["order_id"]
    assert (item["source_id"], item["external_id"], item["amount"], item["currency"], item["status"]) == (
        source["id"], external_id, amount, currency, status)
    assert datetime.fromisoformat(item["created_at"]) == ordered_at
    assert item["attribution"] == answer["attribution"]
    [stored] = await stored_orders(app)
    # What the allow-list keeps of the body (tests/test_redaction.py): the order's own id and money.
    assert external_id in stored.raw_payload and click_id in stored.raw_payload
    events = await count(app, OrderEvent)

    again = await deliver(client, source, body)
    assert again.status_code == 200 and again.json() == answer
    assert await count(app, Order) == 1 and await count(app, OrderEvent) == events
    assert await orders(api) == [item]


# (platform, a body signed the platform's way can be tampered with in these ways)
async def _refused(app, client, source: dict, body: bytes) -> list[tuple[str, int, str]]:
    platform, secret = source["platform"], source["secret"]
    url = f"/webhooks/{source['id']}"
    good = signed_headers(platform, secret, body)
    header = next(h for h in good if h.lower() in (
        "clicktrail-signature", "stripe-signature", "x-shopify-hmac-sha256", "x-wc-webhook-signature"))
    attempts = {
        "wrong secret": (body, signed_headers(platform, "not-the-secret-at-all", body)),
        "missing header": (body, {k: v for k, v in good.items() if k != header}),
        "one byte changed": (body.replace(b'"', b"'", 1), good),
        "garbage signature": (body, {**good, header: "t=1,v1=00" if platform in ("generic", "stripe") else "AAAA"}),
    }
    if platform in ("generic", "stripe"):
        attempts["stale timestamp"] = (body, signed_headers(platform, secret, body, t=int(time.time()) - 310))
        attempts["far future timestamp"] = (body, signed_headers(platform, secret, body, t=int(time.time()) + 330))
    results = []
    for name, (content, headers) in attempts.items():
        response = await client.post(url, content=content, headers=headers)
        results.append((name, response.status_code, response.json().get("detail", "")))
    return results


BODIES = {
    "generic": lambda: generic_body("ck1"),
    "shopify": lambda: dumps(shopify_order("ck1")),
    "woocommerce": lambda: dumps(woo_order("ck1")),
    "stripe": lambda: dumps(stripe_session("ck1")),
}


@pytest.mark.parametrize("platform", list(BODIES))
async def test_bad_signatures_truncated_json_and_big_bodies_are_refused_and_store_nothing(app, api, client, platform) -> None:
    source = await new_source(api, platform)
    body = BODIES[platform]()
    for name, status, detail in await _refused(app, client, source, body):
        assert status == 401, (name, status, detail)
        assert detail, name
    truncated = body[: len(body) // 2]
    response = await deliver(client, source, truncated)
    assert response.status_code == 400 and "JSON" in response.json()["detail"]
    huge = body[:-1] + b', "padding": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = await deliver(client, source, huge)
    assert response.status_code == 413
    assert await count(app, Order) == 0 and await count(app, OrderEvent) == 0
    # The source tells what went wrong last, and that nothing was taken yet.
    shown = (await api.get(f"/api/sources/{source['id']}")).json()
    assert shown["last_delivery_at"] is None and shown["last_refused_at"] is not None
    assert shown["last_refused_reason"].startswith(("bad signature", "unreadable body")), shown
    # and the untouched delivery still works
    assert (await deliver(client, source, body)).status_code == 200
    assert (await api.get(f"/api/sources/{source['id']}")).json()["last_delivery_at"] is not None


async def test_a_big_body_is_cut_off_without_trusting_content_length(app, api, client) -> None:
    source = await new_source(api, "generic")

    async def chunks():
        for _ in range(40):
            yield b"x" * 65536  # 2.5 MiB, streamed without a Content-Length

    response = await client.post(f"/webhooks/{source['id']}", content=chunks(),
                                 headers={"Clicktrail-Signature": "t=1,v1=00"})
    assert response.status_code == 413
    lying = await client.post(f"/webhooks/{source['id']}", content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                              headers={"Clicktrail-Signature": "t=1,v1=00"})
    assert lying.status_code == 413


async def test_unknown_source_other_platform_and_malformed_bodies(app, api, client) -> None:
    generic = await new_source(api, "generic")
    shopify = await new_source(api, "shopify")
    body = generic_body()
    assert (await client.post("/webhooks/999999", content=body)).status_code == 404
    assert (await client.post("/webhooks/not-a-source", content=body)).status_code == 404
    # A Shopify delivery to a generic source, even signed with that source's secret, is refused.
    shopify_body = dumps(shopify_order())
    response = await client.post(f"/webhooks/{generic['id']}", content=shopify_body,
                                 headers=signed_headers("shopify", generic["secret"], shopify_body))
    assert response.status_code == 401 and "generic" in response.json()["detail"]
    response = await client.post(f"/webhooks/{shopify['id']}", content=body,
                                 headers=signed_headers("generic", shopify["secret"], body))
    assert response.status_code == 401 and "shopify" in response.json()["detail"]
    # Well-formed JSON that is not an order: 422 with the field named.
    response = await deliver(client, generic, dumps({"order_id": "1", "currency": "EUR"}))
    assert response.status_code == 422 and "amount" in json.dumps(response.json()["detail"])
    response = await deliver(client, generic, dumps({"order_id": "1", "amount": "1.234", "currency": "EUR"}))
    assert response.status_code == 422
    response = await deliver(client, generic, dumps({"order_id": "1", "amount": "-5", "currency": "EUR"}))
    assert response.status_code == 422
    response = await deliver(client, generic, b"[1, 2]")
    assert response.status_code == 422
    assert await count(app, Order) == 0


@pytest.mark.parametrize(("currency", "amount", "shown", "minor"), [
    ("JPY", "1500", "1500", 1500),
    ("JPY", 1500, "1500", 1500),
    ("jpy", "1500.00", "1500", 1500),
    ("KWD", "12.345", "12.345", 12345),
    ("BHD", "0.5", "0.500", 500),
    ("EUR", 19.99, "19.99", 1999),
    ("USD", "1234567.89", "1234567.89", 123456789),
])
async def test_amounts_are_exact_in_the_currencys_minor_units(app, api, client, currency, amount, shown, minor) -> None:
    source = await new_source(api, "generic")
    response = await deliver(client, source, generic_body(amount=amount, currency=currency))
    assert response.status_code == 200, response.text
    [item] = await orders(api)
    assert (item["amount"], item["currency"], item["net_amount"]) == (shown, currency.upper(), shown)
    [stored] = await stored_orders(app)
    assert stored.amount_minor == minor


async def test_more_places_than_the_currency_has_is_refused(app, api, client) -> None:
    source = await new_source(api, "generic")
    for currency, amount in (("JPY", "1500.5"), ("EUR", "1.001"), ("KWD", "1.0001")):
        response = await deliver(client, source, generic_body(amount=amount, currency=currency))
        assert response.status_code == 422, (currency, amount)
    assert await count(app, Order) == 0


@pytest.mark.parametrize(("currency", "stripe_amount", "shown"), [
    ("usd", 3000, "30.00"), ("jpy", 500, "500"), ("kwd", 5120, "5.120"), ("isk", 10000, "100"),
])
async def test_stripe_amounts_are_minor_units(app, api, client, currency, stripe_amount, shown) -> None:
    source = await new_source(api, "stripe")
    event = stripe_session()
    event["data"]["object"].update(currency=currency, amount_total=stripe_amount, amount_subtotal=stripe_amount)
    response = await deliver(client, source, dumps(event))
    assert response.status_code == 200, response.text
    [item] = await orders(api)
    assert (item["amount"], item["currency"]) == (shown, currency.upper())


# --- attribution without a click id ---------------------------------------------------------


async def test_coupon_of_a_referral_link_credits_that_link(app, api, client) -> None:
    campaign = await new_campaign(api)
    referrals = (await api.post(f"/api/campaigns/{campaign['id']}/referrals", json=[
        {"referrer": "Anna", "coupon_code": "ANNA10", "channel": "whatsapp"},
        {"referrer": "Ben", "coupon_code": "BEN10", "channel": "telegram"},
    ])).json()["items"]
    source = await new_source(api, "shopify")
    order = shopify_order()
    order["discount_codes"] = [{"code": "ben10", "amount": "10.00", "type": "fixed_amount"}]
    response = await deliver(client, source, dumps(order))
    assert response.status_code == 200, response.text
    assert response.json()["attribution"] == {
        "method": "coupon", "click_id": None, "link_id": referrals[1]["id"], "campaign_id": campaign["id"],
        "channel": "telegram", "app": None, "state": "attributed",
    }
    # WooCommerce coupon_lines (the docs example has none; shape per SOURCES.md §3)
    woo = await new_source(api, "woocommerce")
    order = woo_order()
    order["coupon_lines"] = [{"id": 321, "code": "anna10", "discount": "2.00", "discount_tax": "0.00", "meta_data": []}]
    response = await deliver(client, woo, dumps(order))
    assert response.json()["attribution"]["method"] == "coupon"
    assert response.json()["attribution"]["link_id"] == referrals[0]["id"]


async def test_utm_tags_of_the_landing_url_credit_the_link(app, api, client) -> None:
    campaign = await new_campaign(api, channels=["whatsapp", "telegram"])
    telegram = campaign["links"][1]
    utm = telegram["utm"]
    landing = (f"{SHOP}?color=red&utm_source={utm['source']}&utm_medium={utm['medium']}"
               f"&utm_campaign={utm['campaign']}&utm_content={utm['content']}")
    source = await new_source(api, "generic")
    response = await deliver(client, source, generic_body(landing_url=landing))
    assert response.json()["attribution"] == {
        "method": "utm", "click_id": None, "link_id": telegram["id"], "campaign_id": campaign["id"],
        "channel": "telegram", "app": None, "state": "attributed",
    }
    # Shopify's landing_site, a path with the tags but no code: the campaign's link for that source
    shopify = await new_source(api, "shopify")
    order = shopify_order()
    order["landing_site"] = f"/?utm_source=whatsapp&utm_medium=social&utm_campaign={utm['campaign']}"
    response = await deliver(client, shopify, dumps(order))
    assert response.json()["attribution"]["method"] == "utm"
    assert response.json()["attribution"]["link_id"] == campaign["links"][0]["id"]
    # Tags of nobody's link credit nothing.
    response = await deliver(client, source, generic_body(order_id="A-2", landing_url=f"{SHOP}?utm_content=zzzzzz"))
    assert response.json()["attribution"]["method"] is None
    assert response.json()["attribution"]["state"] == "unattributed"


async def test_identified_customer_is_credited_across_devices(app, api, client) -> None:
    campaign = await new_campaign(api)
    link = campaign["links"][1]
    # The phone: a tap in Messenger, then the shop identifies the customer (say at sign-in).
    click_id = await add_click(app, link, datetime.now(timezone.utc) - timedelta(days=2), app_name="messenger")
    response = await api.post("/api/identify", json={"click_id": click_id, "customer_ref": "John.Doe@Example.com "})
    assert response.status_code == 204
    assert (await client.post("/api/identify", json={"click_id": click_id, "customer_ref": "x"})).status_code == 401
    # The laptop: an order with no click id, no coupon, no tags; only the billing email.
    source = await new_source(api, "woocommerce")
    order = woo_order()
    order["date_created_gmt"] = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")
    response = await deliver(client, source, dumps(order))
    assert response.json()["attribution"] == {
        "method": "customer", "click_id": click_id, "link_id": link["id"], "campaign_id": campaign["id"],
        "channel": link["channel"], "app": "messenger", "state": "attributed",
    }
    # Only a keyed hash of the normalised email is kept as the customer reference.
    [stored] = await stored_orders(app)
    async with app.state.sessionmaker() as session:
        [kept] = (await session.scalars(select(CustomerClick))).all()
    assert stored.customer_hash == kept.customer_hash and len(stored.customer_hash) == 64
    assert "john" not in stored.customer_hash and "example" not in (stored.customer_hash + kept.customer_hash)
    assert stored.customer_hash != hashlib.sha256(b"john.doe@example.com").hexdigest()


async def test_a_click_older_than_the_window_is_not_credited(app, api, client) -> None:
    campaign = await new_campaign(api)
    link = campaign["links"][0]
    now = datetime.now(timezone.utc)
    old = await add_click(app, link, now - timedelta(days=31))
    recent = await add_click(app, link, now - timedelta(days=29))
    source = await new_source(api, "generic")
    response = await deliver(client, source, generic_body(old, order_id="old"))
    assert response.json()["attribution"]["method"] is None
    # its landing URL's tags belong to that stale visit and do not credit it either
    landing = f"{SHOP}?utm_content={link['code']}&ct_id={old}"
    response = await deliver(client, source, generic_body(order_id="old-2", landing_url=landing))
    assert response.json()["attribution"]["method"] is None
    response = await deliver(client, source, generic_body(recent, order_id="recent"))
    assert response.json()["attribution"]["method"] == "click_id"
    # identified customers too: the window counts from their click
    await api.post("/api/identify", json={"click_id": old, "customer_ref": "late@example.com"})
    response = await deliver(client, source, generic_body(order_id="cust", customer_ref="late@example.com"))
    assert response.json()["attribution"]["method"] is None
    assert [o["attribution"]["method"] for o in await orders(api)] == [None, "click_id", None, None]


async def test_the_window_is_a_setting(app, api, client, settings) -> None:
    campaign = await new_campaign(api)
    click_id = await add_click(app, campaign["links"][0], datetime.now(timezone.utc) - timedelta(days=3))
    short = create_app(settings.model_copy(update={"attribution_window_days": 2}))
    async with short.router.lifespan_context(short):
        transport = httpx.ASGITransport(app=short)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as other:
            source = await new_source(api, "generic")
            response = await deliver(other, source, generic_body(click_id))
    assert response.json()["attribution"]["method"] is None


# --- orders before their clicks -------------------------------------------------------------


async def _wait_for(api, predicate, timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        items = await orders(api)
        if predicate(items) or time.monotonic() > deadline:
            return items
        await asyncio.sleep(0.05)


async def test_an_order_that_arrives_before_its_click_is_written_ends_attributed(app, api, client) -> None:
    campaign = await new_campaign(api)
    link = campaign["links"][0]
    source = await new_source(api, "generic")
    tapped_at = datetime.now(timezone.utc) - timedelta(seconds=30)
    click_id = f"late{uuid.uuid4().hex[:12]}"
    response = await deliver(client, source, generic_body(click_id))
    assert response.status_code == 200
    assert response.json()["attribution"]["state"] == "pending"
    assert response.json()["attribution"]["method"] is None
    await asyncio.sleep(1)  # the recorder writes the click a second later
    async with app.state.sessionmaker() as session:
        session.add(Click(workspace_id=1, click_id=click_id, link_id=link["id"], campaign_id=campaign["id"], kind="click",
                          channel="whatsapp", app="whatsapp", device="mobile", occurred_at=tapped_at))
        await session.commit()
    items = await _wait_for(api, lambda items: items[0]["attribution"]["state"] != "pending")
    assert items[0]["attribution"] == {
        "method": "click_id", "click_id": click_id, "link_id": link["id"], "campaign_id": campaign["id"],
        "channel": "whatsapp", "app": "whatsapp", "state": "attributed",
    }
    # a repeated delivery now answers with the credit and stores nothing new
    again = await deliver(client, source, generic_body(click_id))
    assert again.json()["attribution"]["method"] == "click_id" and await count(app, Order) == 1


async def settle_pending(app, ctx) -> int:
    """Retry pending orders with `ctx` until a pass settles some. The service's own retry task
    may hold a row meanwhile (SKIP LOCKED passes it over), so one pass may find nothing."""
    for _ in range(100):
        async with app.state.sessionmaker() as session:
            settled = await service.retry_pending(session, ctx)
            await session.commit()
        if settled:
            return settled
        await asyncio.sleep(0.02)
    return 0


async def test_pending_orders_survive_a_restart_and_time_out_to_the_next_method(app, api, client, settings) -> None:
    campaign = await new_campaign(api)
    link = campaign["links"][0]
    source = await new_source(api, "generic")
    await deliver(client, source, generic_body("never-written", order_id="A"))
    await deliver(client, source, generic_body("written-later", order_id="B", coupon_codes=[]))
    await app.state.pending_orders.stop()  # the first process stops retrying (it "died")
    # A second process on the same database: all it knows is what the database holds.
    restarted = create_app(settings)
    async with restarted.router.lifespan_context(restarted):
        await add_click(app, link, datetime.now(timezone.utc))  # unrelated click
        async with restarted.state.sessionmaker() as session:
            session.add(Click(workspace_id=1, click_id="written-later", link_id=link["id"], campaign_id=campaign["id"], kind="click",
                              channel="whatsapp", device="mobile", occurred_at=datetime.now(timezone.utc)))
            await session.commit()
        items = await _wait_for(api, lambda items: items[0]["attribution"]["state"] == "attributed")
        assert [(o["external_id"], o["attribution"]["state"]) for o in items] == [("B", "attributed"), ("A", "pending")]
        # Past the timeout, an order whose click never came is unattributed (nothing else names it).
        ctx = dataclasses.replace(restarted.state.conversions, pending_timeout=timedelta(0))
        assert await settle_pending(restarted, ctx) == 1
    [b, a] = await orders(api)
    assert a["attribution"] == {"method": None, "click_id": None, "link_id": None, "campaign_id": None,
                                "channel": None, "app": None, "state": "unattributed"}


async def test_a_timed_out_order_falls_back_to_its_coupon(app, api, client) -> None:
    campaign = await new_campaign(api)
    [referral] = (await api.post(f"/api/campaigns/{campaign['id']}/referrals",
                                 json={"referrer": "Cleo", "coupon_code": "CLEO"})).json()["items"]
    source = await new_source(api, "generic")
    response = await deliver(client, source, generic_body("nowhere", coupon_codes=["cleo"]))
    assert response.json()["attribution"]["state"] == "pending"
    ctx = dataclasses.replace(app.state.conversions, pending_timeout=timedelta(0))
    await settle_pending(app, ctx)
    [item] = await orders(api)
    assert item["attribution"]["method"] == "coupon" and item["attribution"]["link_id"] == referral["id"]


# --- refunds and updates --------------------------------------------------------------------


async def test_shopify_refunds_lower_net_revenue_once_and_never_below_zero(app, api, client) -> None:
    source = await new_source(api, "shopify")
    order = shopify_order()
    order["financial_status"], order["refunds"] = "paid", []  # the order as first created
    assert (await deliver(client, source, dumps(order), topic="orders/create")).json()["status"] == "paid"
    [item] = await orders(api)
    assert (item["amount"], item["net_amount"], item["refunded_amount"]) == ("598.94", "598.94", "0.00")

    refund = dumps(fixture("shopify_refund.json"))  # 209.00 back
    for _ in range(3):  # retried deliveries of one refund count once
        response = await deliver(client, source, refund, topic="refunds/create")
        assert response.status_code == 200 and response.json()["status"] == "partially_refunded"
    [item] = await orders(api)
    assert (item["status"], item["net_amount"], item["refunded_amount"]) == ("partially_refunded", "389.94", "209.00")
    # orders/updated with the full refunds[] list holds the same refund: still counted once
    updated = fixture("shopify_order.json")
    response = await deliver(client, source, dumps(updated), topic="orders/updated")
    assert response.json()["status"] == "partially_refunded"
    [item] = await orders(api)
    assert item["net_amount"] == "389.94"

    big = fixture("shopify_refund.json")
    big["id"], big["transactions"][0]["id"], big["transactions"][0]["amount"] = 509562970, 179259970, "1000.00"
    response = await deliver(client, source, dumps(big), topic="refunds/create")
    assert response.json()["status"] == "refunded"
    [item] = await orders(api)
    assert (item["status"], item["net_amount"], item["refunded_amount"]) == ("refunded", "0.00", "598.94")
    assert await count(app, Order) == 1
    # a refund for an order never delivered is not stored (Shopify delivers it again later)
    stray = fixture("shopify_refund.json")
    stray["order_id"] = 1
    assert (await deliver(client, source, dumps(stray), topic="refunds/create")).status_code == 409


async def test_shopify_order_in_a_customers_currency_is_stored_in_shop_money(app, api, client) -> None:
    """A shop in USD selling to a customer in euros: Shopify's `total_price_set` gives both; the shop's
    money is what the shop books, so that is stored."""
    source = await new_source(api, "shopify")
    order = shopify_order()
    order["financial_status"], order["refunds"] = "paid", []
    order["currency"], order["total_price"], order["presentment_currency"] = "EUR", "169.90", "EUR"
    order["total_price_set"] = {"shop_money": {"amount": "185.00", "currency_code": "USD"},
                                "presentment_money": {"amount": "169.90", "currency_code": "EUR"}}
    assert (await deliver(client, source, dumps(order), topic="orders/create")).status_code == 200
    [item] = await orders(api)
    assert (item["amount"], item["currency"]) == ("185.00", "USD")
    # Without total_price_set (older payloads), total_price in `currency` is all there is.
    del order["total_price_set"]
    order["id"] = 450789470
    assert (await deliver(client, source, dumps(order), topic="orders/create")).status_code == 200
    assert {(i["amount"], i["currency"]) for i in await orders(api)} == {("185.00", "USD"), ("169.90", "EUR")}


async def test_stripe_charge_refunded_counts_the_cumulative_amount(app, api, client) -> None:
    campaign = await new_campaign(api)
    click_id = await add_click(app, campaign["links"][0], STRIPE_SESSION_AT - timedelta(minutes=5))
    source = await new_source(api, "stripe")
    paid = await deliver(client, source, dumps(stripe_session(click_id)))
    assert paid.json()["status"] == "paid"
    # payment_intent.succeeded of the same payment: same order, its credit kept
    intent = fixture("stripe_payment_intent_succeeded.json")
    intent["data"]["object"].update(id="pi_3T0a5LIeADuLKrJV03FitWbm", status="succeeded", amount=3000,
                                    amount_received=3000, latest_charge="ch_3MmlLrLkdIwHu7ix0snN0B15")
    response = await deliver(client, source, dumps(intent))
    assert response.json() == paid.json()

    def charge(refunded: int) -> bytes:
        event = fixture("stripe_charge_refunded.json")  # overrides per SOURCES.md: a refunded charge
        event["data"]["object"].update(amount=3000, amount_captured=3000, amount_refunded=refunded,
                                       refunded=refunded == 3000, payment_intent="pi_3T0a5LIeADuLKrJV03FitWbm")
        return dumps(event)

    for _ in range(2):
        response = await deliver(client, source, charge(1000))
        assert response.json()["status"] == "partially_refunded"
    [item] = await orders(api)
    assert (item["net_amount"], item["refunded_amount"]) == ("20.00", "10.00")
    assert item["attribution"]["method"] == "click_id" and item["attribution"]["click_id"] == click_id
    response = await deliver(client, source, charge(3000))
    [item] = await orders(api)
    assert (item["status"], item["net_amount"]) == ("refunded", "0.00")
    assert await count(app, Order) == 1


async def test_woocommerce_refund_arrives_as_order_updated(app, api, client) -> None:
    source = await new_source(api, "woocommerce")
    order = woo_order()
    await deliver(client, source, dumps(order))
    order["refunds"] = [{"id": 730, "reason": "damaged", "total": "-10.00"}]
    for _ in range(2):
        response = await deliver(client, source, dumps(order), topic="order.updated")
        assert response.json()["status"] == "partially_refunded"
    [item] = await orders(api)
    assert (item["net_amount"], item["refunded_amount"]) == ("19.35", "10.00")
    order["status"] = "cancelled"
    order["refunds"].append({"id": 731, "reason": "", "total": "-19.35"})
    response = await deliver(client, source, dumps(order), topic="order.updated")
    assert response.json()["status"] == "refunded"
    [item] = await orders(api)
    assert item["net_amount"] == "0.00"


async def test_generic_status_updates_and_cancellation(app, api, client) -> None:
    source = await new_source(api, "generic")
    await deliver(client, source, generic_body())
    response = await deliver(client, source, generic_body(refunded_amount="9.90"))
    assert response.json()["status"] == "partially_refunded"
    response = await deliver(client, source, generic_body(status="refunded"))
    assert response.json()["status"] == "refunded"
    response = await deliver(client, source, generic_body(order_id="B-1"))
    response = await deliver(client, source, generic_body(order_id="B-1", status="cancelled"))
    assert response.json()["status"] == "cancelled"
    assert {(o["external_id"], o["status"], o["net_amount"]) for o in await orders(api)} == {
        ("A-1001", "refunded", "0.00"), ("B-1", "cancelled", "0.00")}


async def test_woocommerce_ping_is_answered_200_and_stores_nothing(app, api, client) -> None:
    source = await new_source(api, "woocommerce")
    response = await client.post(f"/webhooks/{source['id']}", content=b"webhook_id=15",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert await count(app, Order) == 0


async def test_events_that_are_not_orders_are_acknowledged_and_ignored(app, api, client) -> None:
    stripe = await new_source(api, "stripe")
    event = stripe_session()
    event["type"] = "customer.created"
    response = await deliver(client, stripe, dumps(event))
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    shopify = await new_source(api, "shopify")
    response = await deliver(client, shopify, dumps({"id": 1}), topic="customers/create")
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert await count(app, Order) == 0


# --- concurrency ----------------------------------------------------------------------------


async def test_twenty_concurrent_deliveries_of_one_order_store_one(app, api, client, backend) -> None:
    campaign = await new_campaign(api)
    click_id = await add_click(app, campaign["links"][0], SHOPIFY_ORDER_AT - timedelta(hours=1))
    source = await new_source(api, "shopify")
    body = dumps(shopify_order(click_id))
    responses = await asyncio.gather(*(deliver(client, source, body) for _ in range(20)))
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses if r.status_code != 200]
    assert len({r.text for r in responses}) == 1
    assert await count(app, Order) == 1
    # one refund row per refund id, however many deliveries raced
    assert await count(app, OrderEvent) == 1
    [item] = await orders(api)
    assert item["attribution"]["click_id"] == click_id and item["net_amount"] == "389.94"


# --- sources, listing -----------------------------------------------------------------------


async def test_sources_create_list_rotate_delete(app, api, client) -> None:
    assert (await client.get("/api/sources")).status_code == 401
    source = await new_source(api, "woocommerce")
    assert set(source) >= {"id", "name", "platform", "secret", "webhook_url"}
    assert source["webhook_url"] == f"{BASE_URL}/webhooks/{source['id']}"
    assert len(source["secret"]) >= 32
    stripe = await new_source(api, "stripe", secret="whsec_test_from_the_stripe_dashboard")
    assert stripe["secret"] == "whsec_test_from_the_stripe_dashboard"
    listed = (await api.get("/api/sources")).json()
    assert [s["id"] for s in listed["items"]] == [stripe["id"], source["id"]]
    assert all("secret" not in s for s in listed["items"])
    assert (await api.post("/api/sources", json={"name": "x", "platform": "magento"})).status_code == 422

    body = dumps(woo_order())
    rotated = (await api.post(f"/api/sources/{source['id']}/rotate-secret")).json()
    assert rotated["secret"] != source["secret"]
    assert (await deliver(client, source, body)).status_code == 401  # the old secret stopped working
    assert (await deliver(client, rotated, body)).status_code == 200
    given = await api.post(f"/api/sources/{stripe['id']}/rotate-secret", json={"secret": "whsec_rolled_secret_2"})
    assert given.json()["secret"] == "whsec_rolled_secret_2"

    assert (await api.delete(f"/api/sources/{source['id']}")).status_code == 204
    assert (await deliver(client, rotated, body)).status_code == 404
    assert (await api.get(f"/api/sources/{source['id']}")).status_code == 404
    assert await count(app, OrderSource) == 1


async def test_orders_filter_by_source_campaign_and_status_and_page(app, api, client) -> None:
    spring = await new_campaign(api, name="Spring")
    autumn = await new_campaign(api, name="Autumn")
    now = datetime.now(timezone.utc)
    spring_click = await add_click(app, spring["links"][0], now)
    autumn_click = await add_click(app, autumn["links"][1], now)
    generic = await new_source(api, "generic")
    stripe = await new_source(api, "stripe")
    for i in range(3):
        await deliver(client, generic, generic_body(spring_click, order_id=f"s{i}"))
    await deliver(client, generic, generic_body(autumn_click, order_id="a1", status="cancelled"))
    event = stripe_session(autumn_click)
    event["data"]["object"]["created"] = int(now.timestamp())
    await deliver(client, stripe, dumps(event))
    assert len(await orders(api)) == 5
    assert {o["external_id"] for o in await orders(api, source_id=stripe["id"])} == {"pi_3T0a5LIeADuLKrJV03FitWbm"}
    assert {o["external_id"] for o in await orders(api, campaign_id=autumn["id"])} == {"a1", "pi_3T0a5LIeADuLKrJV03FitWbm"}
    assert [o["external_id"] for o in await orders(api, status="cancelled")] == ["a1"]
    assert (await api.get("/api/orders", params={"status": "lost"})).status_code == 422
    first = (await api.get("/api/orders", params={"limit": 2})).json()
    second = (await api.get("/api/orders", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    third = (await api.get("/api/orders", params={"limit": 2, "cursor": second["next_cursor"]})).json()
    seen = [o["id"] for o in first["items"] + second["items"] + third["items"]]
    assert len(seen) == len(set(seen)) == 5 and third["next_cursor"] is None
    one = (await api.get(f"/api/orders/{seen[0]}")).json()
    assert one["id"] == seen[0]
    assert (await client.get("/api/orders")).status_code == 401


# --- the shop side: /ct.js ------------------------------------------------------------------

NODE_HARNESS = r"""
const script = require("fs").readFileSync(0, "utf8");
const [search, cookie, shopify] = JSON.parse(process.argv[1]);
const jar = {}; const writes = [];
if (cookie) { if (typeof cookie === "string") jar.ct_id = cookie; else Object.assign(jar, cookie); }
const document = {
  get cookie() { return Object.entries(jar).map(([k, v]) => `${k}=${v}`).join("; "); },
  set cookie(value) { writes.push(value); const [pair] = value.split(";"); const i = pair.indexOf("=");
                      jar[pair.slice(0, i)] = pair.slice(i + 1); },
};
const calls = []; const store = {};
const window = {
  location: { search, protocol: "https:" },
  sessionStorage: { getItem: (k) => store[k] ?? null, setItem: (k, v) => { store[k] = v; } },
  fetch: (url, init) => { calls.push([url, init.method, JSON.parse(init.body)]); return Promise.resolve({ ok: true }); },
};
if (shopify) window.Shopify = { shop: "jsmith.myshopify.com", routes: { root: "/" } };
new Function("window", "document", script)(window, document);
setTimeout(() => console.log(JSON.stringify({ clickId: window.clicktrail.clickId, writes, calls })), 10);
"""


async def _run_ct_js(script: str, search: str, cookie: str | None, shopify: bool) -> dict:
    proc = await asyncio.create_subprocess_exec(
        "node", "-e", NODE_HARNESS, json.dumps([search, cookie, shopify]),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(script.encode())
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


async def test_ct_js_keeps_the_click_id_and_hands_it_to_a_shopify_cart(app, client) -> None:
    response = await client.get("/ct.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    script = response.text
    assert len(script) < 4096 and "import" not in script and "require(" not in script
    # A landing with ?ct_id= keeps it for 90 days; a later click replaces it (last click wins).
    landed = await _run_ct_js(script, "?utm_source=whatsapp&ct_id=0Abc123xyz", None, shopify=False)
    assert landed["clickId"] == "0Abc123xyz" and landed["calls"] == []
    [cookie] = landed["writes"]
    assert cookie.startswith("ct_id=0Abc123xyz;") and "Max-Age=7776000" in cookie and "Path=/" in cookie
    assert "SameSite=Lax" in cookie and "Secure" in cookie
    later = await _run_ct_js(script, "?ct_id=1Newer", "0Abc123xyz", shopify=False)
    assert later["clickId"] == "1Newer"
    # Browsing on without the parameter keeps the cookie; junk in the parameter is not stored.
    kept = await _run_ct_js(script, "?page=2&ct_id=%3Cscript%3E", "0Abc123xyz", shopify=False)
    assert kept["clickId"] == "0Abc123xyz" and kept["writes"] == []
    # On Shopify it goes into the cart attributes, which become the order's note_attributes.
    shop = await _run_ct_js(script, "?ct_id=0Abc123xyz", None, shopify=True)
    assert shop["calls"] == [["/cart/update.js", "POST", {"attributes": {"ct_id": "0Abc123xyz"}}]]


async def test_ct_js_hands_the_ad_platforms_cookies_to_the_cart_too(client) -> None:
    script = (await client.get("/ct.js")).text
    cookies = {"ct_id": "0Abc123xyz", "_ga": "GA1.1.1180349341.1733270400", "_fbp": "fb.1.1733270400000.98765",
               "_ttp": "2Tq3Xc9vLw0sT1uYk", "_other": "not-ours"}
    shop = await _run_ct_js(script, "?page=2", cookies, shopify=True)
    assert shop["calls"] == [["/cart/update.js", "POST", {"attributes": {
        "ct_id": "0Abc123xyz", "_ga": "GA1.1.1180349341.1733270400", "_fbp": "fb.1.1733270400000.98765",
        "_ttp": "2Tq3Xc9vLw0sT1uYk"}}]]


def test_stripe_style_headers_accept_any_v1_and_ignore_other_schemes() -> None:
    from clicktrail.conversions.signatures import BadSignature, verify_timestamped

    body, now = b'{"id": "evt_1"}', int(time.time())
    old_secret, new_secret = "whsec_old", "whsec_new"
    v1_old = timestamped(old_secret, body, now).split(",")[1]
    v1_new = timestamped(new_secret, body, now).split(",")[1]
    # While a secret is rolled Stripe signs with both; either one of ours matches.
    verify_timestamped(new_secret, body, f"t={now},{v1_old},{v1_new}")
    verify_timestamped(old_secret, body, f"t={now},{v1_old},{v1_new}")
    # A test-mode v0 (or any other scheme) never counts, even if it is the right HMAC.
    v0 = "v0=" + v1_new.split("=")[1]
    with pytest.raises(BadSignature):
        verify_timestamped(new_secret, body, f"t={now},{v0}")
    with pytest.raises(BadSignature):
        verify_timestamped(new_secret, body, f"t=soon,{v1_new}")
