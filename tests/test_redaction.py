"""No buyer's personal data at rest (API.md, Data lifecycle): each platform's real webhook body
(tests/data/webhooks/, SOURCES.md) goes through the service, and none of its names, emails,
phones, addresses, IPs or notes is found anywhere in the database afterwards — every row of every
table, and on SQLite the bytes of the database file and its write-ahead log — while the order is
still credited to its click and its refunds still count.

The fixtures carry no buyer IP, note or receipt email in some places; the tests fill those fields
(named in each platform's docs: WooCommerce `customer_ip_address`, `customer_note`; Shopify
`browser_ip`, `note`; Stripe `receipt_email`, `billing_details`, `shipping`) with made-up values.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from clicktrail import migrate
from clicktrail.conversions import redaction
from clicktrail.db import create_engine
from clicktrail.models import Base

from test_conversions import (
    SHOPIFY_ORDER_AT, STRIPE_SESSION_AT, WOO_ORDER_AT, add_click, deliver, dumps, fixture, generic_body, new_campaign,
    new_source, orders, shopify_order, stripe_session, woo_order,
)

SHOPIFY_PERSONAL = [
    "bob.norman@mail.example.com", "Norman", '"Bob"', "+557734881234", "+1(502)-459-2181", "+16136120707",
    "555-625-1199", "Chestnut Street 92", "Louisville", "40202", "Happy Birthday", "Merry Christmas",
    "it broke during shipping", "imasecretipod", "198.51.100.23", "Léon, Noël", "Leave it with the neighbour",
    "45.41634",
]
WOO_PERSONAL = [
    "john.doe@example.com", "John", '"Doe"', "969 Market", "San Francisco", "94103", "(555) 555-5555",
    "203.0.113.7", "Ring twice please", "Mozilla/5.0 (Windows NT 10.0; buyer)", "the buyer Jane Roe changed her mind",
]
# The card's last4 is looked for as a JSON string ("4242" with its quotes): the bare digits can turn
# up by chance inside a random id or a time.
STRIPE_PERSONAL = [
    "stripe@example.com", "Jenny Rosen", "354 Oyster Point Blvd", "94080", "South San Francisco",
    "jenny.rosen@example.com", "Rosen Street 7", "\"4242\"", "mToisGZ01V71BCos",
]
GENERIC_PERSONAL = ["alice.buyer@example.org", "newsletter-token-77"]


async def everything_stored(app) -> str:
    """Every value of every row of every table, as text (bytes as Latin-1), plus on SQLite the
    raw bytes of the database file and its write-ahead log."""
    parts = []
    async with app.state.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                parts.extend(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row)
    url = app.state.settings.resolved_database_url
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        for file in (path, path.with_name(path.name + "-wal")):
            if file.exists():
                parts.append(file.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(parts)


def kept(value: str, stored: str) -> bool:
    """A value made only of digits (a zip code) counts where it stands on its own: the same digits
    turn up by chance inside a hex hash, a random id or the microseconds of a time."""
    if value.isdigit():
        return re.search(rf"(?<![0-9A-Za-z.:]){value}(?![0-9A-Za-z])", stored) is not None
    return value in stored


def assert_none_of(stored: str, personal: list[str]) -> None:
    found = [value for value in personal if kept(value, stored)]
    assert found == [], f"personal data kept: {found}"


def test_a_zip_code_is_found_on_its_own_not_inside_a_hash_or_a_time() -> None:
    assert kept("40202", 'Louisville\n40202\n') and kept("40202", '{"zip": "40202"}')
    assert not kept("40202", "1dcc9d2e40202f2699d7\n2026-12-04 08:08:51.402020\nct_40202x")


def with_personal_shopify(click_id: str) -> dict:
    order = shopify_order(click_id, "note_attributes")
    order["browser_ip"] = order["client_details"]["browser_ip"] = "198.51.100.23"
    order["note"] = "Leave it with the neighbour"
    return order


async def test_shopify_order_and_refund_keep_no_personal_data_and_stay_attributed(app, api, client) -> None:
    campaign = await new_campaign(api)
    click_id = await add_click(app, campaign["links"][0], SHOPIFY_ORDER_AT - timedelta(hours=1))
    source = await new_source(api, "shopify")
    order = with_personal_shopify(click_id)
    order["landing_site"] = f"/products/ipod?utm_source=whatsapp&ct_id={click_id}&email=bob.norman@mail.example.com"
    response = await deliver(client, source, dumps(order), topic="orders/create")
    assert response.status_code == 200, response.text
    # its refund again, on its own (refunds/create), and a second one: counted, not kept in full
    second = fixture("shopify_refund.json")
    second["id"], second["transactions"][0]["id"], second["transactions"][0]["amount"] = 509562970, 179259970, "100.00"
    for refund in (fixture("shopify_refund.json"), second):
        assert (await deliver(client, source, dumps(refund), topic="refunds/create")).status_code == 200
    [item] = await orders(api)
    assert (item["status"], item["refunded_amount"], item["net_amount"]) == ("partially_refunded", "309.00", "289.94")
    assert item["attribution"]["method"] == "click_id" and item["attribution"]["click_id"] == click_id

    stored = await everything_stored(app)
    assert_none_of(stored, SHOPIFY_PERSONAL)
    # what is kept is what a sale is: ids, money, codes, products, the landing page's tags
    for kept in ("450789469", "598.94", "TENOFF", "632910392", "IPOD2008GREEN", "209.00",
                 f"/products/ipod?utm_source=whatsapp&ct_id={click_id}"):
        assert kept in stored


async def test_woocommerce_order_keeps_no_personal_data_and_stays_attributed(app, api, client) -> None:
    campaign = await new_campaign(api)
    click_id = await add_click(app, campaign["links"][1], WOO_ORDER_AT - timedelta(hours=1))
    source = await new_source(api, "woocommerce")
    order = woo_order(click_id)
    order.update(customer_ip_address="203.0.113.7", customer_note="Ring twice please",
                 customer_user_agent="Mozilla/5.0 (Windows NT 10.0; buyer)")
    order["meta_data"].append({"id": 13108, "key": "_billing_email_copy", "value": "john.doe@example.com"})
    assert (await deliver(client, source, dumps(order))).status_code == 200
    order["refunds"] = [{"id": 730, "reason": "the buyer Jane Roe changed her mind", "total": "-10.00"}]
    assert (await deliver(client, source, dumps(order), topic="order.updated")).status_code == 200
    [item] = await orders(api)
    assert (item["status"], item["net_amount"]) == ("partially_refunded", "19.35")
    assert item["attribution"]["click_id"] == click_id

    stored = await everything_stored(app)
    assert_none_of(stored, WOO_PERSONAL)
    for kept in ("29.35", "processing", '"product_id":93', "Bar3", click_id, "-10.00"):
        assert kept in stored


async def test_stripe_events_keep_no_personal_data_and_refunds_count(app, api, client) -> None:
    campaign = await new_campaign(api)
    click_id = await add_click(app, campaign["links"][0], STRIPE_SESSION_AT - timedelta(minutes=5))
    source = await new_source(api, "stripe")
    assert (await deliver(client, source, dumps(stripe_session(click_id)))).status_code == 200
    intent = fixture("stripe_payment_intent_succeeded.json")
    intent["data"]["object"].update(id="pi_3T0a5LIeADuLKrJV03FitWbm", status="succeeded", amount=3000,
                                    amount_received=3000, receipt_email="jenny.rosen@example.com")
    assert (await deliver(client, source, dumps(intent))).status_code == 200
    charge = fixture("stripe_charge_refunded.json")  # overrides per SOURCES.md: a refunded charge
    charge["data"]["object"].update(amount=3000, amount_captured=3000, amount_refunded=1000,
                                    payment_intent="pi_3T0a5LIeADuLKrJV03FitWbm",
                                    receipt_email="jenny.rosen@example.com",
                                    shipping={"name": "Jenny Rosen", "address": {"line1": "Rosen Street 7"}})
    charge["data"]["object"]["billing_details"].update(name="Jenny Rosen", email="jenny.rosen@example.com")
    charge["data"]["object"]["metadata"] = {"buyer": "Jenny Rosen", "ct_id": click_id}
    assert (await deliver(client, source, dumps(charge))).status_code == 200
    [item] = await orders(api)
    assert (item["status"], item["net_amount"]) == ("partially_refunded", "20.00")
    assert item["attribution"]["click_id"] == click_id

    stored = await everything_stored(app)
    assert_none_of(stored, STRIPE_PERSONAL)
    for kept in ("pi_3T0a5LIeADuLKrJV03FitWbm", "checkout.session.completed", '"amount_total":3000'):
        assert kept in stored


async def test_generic_customer_ref_and_landing_url_query_are_not_kept(app, api, client) -> None:
    campaign = await new_campaign(api)
    link = campaign["links"][0]
    source = await new_source(api, "generic")
    landing = (f"https://shop.example/p?utm_source=whatsapp&utm_campaign={campaign['slug']}"
               f"&utm_content={link['code']}&token=newsletter-token-77#alice.buyer@example.org")
    body = generic_body(None, customer_ref="alice.buyer@example.org", landing_url=landing)
    response = await deliver(client, source, body)
    assert response.status_code == 200
    assert response.json()["attribution"]["method"] == "utm"
    assert_none_of(await everything_stored(app), GENERIC_PERSONAL)


def test_an_unknown_field_is_dropped_by_default() -> None:
    order = fixture("woocommerce_order.json")
    order["loyalty_profile"] = {"name": "John Doe", "birthday": "1980-01-01"}
    order["line_items"][0]["engraving"] = "For John"
    kept = redaction.kept("woocommerce", order)
    assert "loyalty_profile" not in kept and "engraving" not in kept["line_items"][0]
    assert kept["line_items"][0]["product_id"] == 93 and kept["total"] == "29.35"
    # a field that should be a value but comes as an object is dropped too
    order["total"] = {"amount": "29.35", "buyer": "John"}
    assert "total" not in redaction.kept("woocommerce", order)


# --- the migration that redacts bodies stored before -----------------------------------------

REDACTION_REVISION = "4c1d8e0b2f6a"


def _insert_old_rows(url: str) -> None:
    """Rows as 0.1 stored them: verbatim bodies, with an order event holding a Shopify refund."""
    shopify, woo, stripe = with_personal_shopify("ck1"), fixture("woocommerce_order.json"), fixture(
        "stripe_checkout_session_completed.json")
    rows = [("shopify", shopify, "450789469"), ("woocommerce", woo, "727"), ("stripe", stripe, "pi_1")]

    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                for n, (platform, payload, external) in enumerate(rows, start=1):
                    await conn.execute(text(
                        "INSERT INTO order_sources (id, name, platform, secret, created_at) "
                        "VALUES (:id, :name, :platform, 'secret-secret', CURRENT_TIMESTAMP)"),
                        {"id": n, "name": f"{platform} shop", "platform": platform})
                    await conn.execute(text(
                        "INSERT INTO orders (id, source_id, external_id, amount_minor, refunded_minor, currency, "
                        "status, ordered_at, received_at, updated_at, landing_url, attribution_state, raw_payload) "
                        "VALUES (:id, :id, :external, 100, 0, 'USD', 'paid', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, "
                        "CURRENT_TIMESTAMP, :landing, 'unattributed', :raw)"),
                        {"id": n, "external": external, "raw": json.dumps(payload),
                         "landing": "https://shop.example/?utm_source=x&email=john.doe@example.com"})
                await conn.execute(text(
                    "INSERT INTO order_events (order_id, kind, refund_id, amount_minor, received_at, raw_payload) "
                    "VALUES (1, 'refund', '509562969', 20900, CURRENT_TIMESTAMP, :refund), "
                    "(1, 'update', NULL, NULL, CURRENT_TIMESTAMP, :update)"),
                    {"refund": json.dumps(fixture("shopify_refund.json")), "update": json.dumps(shopify)})
        finally:
            await engine.dispose()

    asyncio.run(run())


async def _stored_text(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = [*(await conn.execute(text("SELECT raw_payload, landing_url FROM orders"))).all(),
                    *(await conn.execute(text("SELECT raw_payload, kind FROM order_events"))).all()]
    finally:
        await engine.dispose()
    return "\n".join(str(v) for row in rows for v in row)


def test_the_migration_redacts_bodies_stored_before(backend, monkeypatch) -> None:
    url = backend.new_database()
    migrate.upgrade(url, REDACTION_REVISION + "-1")
    _insert_old_rows(url)
    assert "john.doe@example.com" in asyncio.run(_stored_text(url))
    # batches smaller than the rows, so that more than one batch runs
    monkeypatch.setattr(redaction, "MIGRATION_BATCH", 2)
    migrate.upgrade(url)

    stored = asyncio.run(_stored_text(url))
    assert_none_of(stored, SHOPIFY_PERSONAL + WOO_PERSONAL + STRIPE_PERSONAL)
    for kept in ("450789469", "TENOFF", "29.35", "pi_3T0a5LIeADuLKrJV03FitWbm", "179259969",
                 "https://shop.example/?utm_source=x"):
        assert kept in stored
    if backend.name == "sqlite":  # and not left behind in the file's free space either
        path = Path(url.split(":///", 1)[1])
        sqlite3.connect(path).close()  # checkpoints the write-ahead log into the file
        raw = path.read_bytes().decode("utf-8", errors="replace")
        assert_none_of(raw, ["john.doe@example.com", "bob.norman@mail.example.com", "Jenny Rosen"])
    migrate.downgrade(url, REDACTION_REVISION + "-1")  # nothing to put back: it only runs
    migrate.upgrade(url)


@pytest.mark.parametrize("url, kept", [
    ("https://user:pw@shop.example:8443/p/x?ct_id=abc&utm_source=wa&email=a@b.c#frag",
     "https://shop.example:8443/p/x?ct_id=abc&utm_source=wa"),
    ("/products/red?fbclid=F1&name=Bob", "/products/red?fbclid=F1"),
    ("http://[::1]/?gclid=G", "http://[::1]/?gclid=G"),
    ("http://[bad", None),
])
def test_landing_urls_keep_only_what_attribution_reads(url, kept) -> None:
    assert redaction.landing_url(url) == kept
