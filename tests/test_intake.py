"""Hostile input, each kind the issue lists, on both engines: a 4xx with a JSON {"detail"} and
nothing written, never a 5xx (API.md "Errors, for every route")."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select

from clicktrail.clicks.models import Click
from clicktrail.conversions.models import Order, OrderEvent
from clicktrail.links.models import Campaign, Link
from test_conversions import SHOP, deliver, dumps, generic_body, new_campaign, new_source, shopify_order, woo_order

MAX_INT = 2**31 - 1


async def count(app, model) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)))


def refused(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    assert "detail" in response.json()


async def test_ids_out_of_range_are_404_in_the_path_and_422_in_a_query_or_body(api: httpx.AsyncClient) -> None:
    for path in (f"/api/links/{MAX_INT + 1}", f"/api/links/{2**64}", "/api/links/-1", "/api/campaigns/0",
                 f"/api/orders/{10**30}", f"/api/sources/{2**63}", f"/api/reports/campaigns/{2**40}",
                 "/api/links/abc", f"/api/links/{2**63}/qr"):
        refused(await api.get(path), 404)
    refused(await api.patch(f"/api/links/{2**40}", json={"disabled": True}), 404)
    refused(await api.delete(f"/api/links/{2**40}"), 404)
    for query in (f"campaign_id={2**40}", "link_id=-5", f"campaign_id={10**30}"):
        refused(await api.get(f"/api/clicks?{query}"), 422)
    refused(await api.get(f"/api/links?campaign_id={2**40}"), 422)
    refused(await api.post("/api/links", json={"destination_url": SHOP, "channel": "sms", "campaign_id": 2**40}), 422)
    refused(await api.post("/api/links", json={"destination_url": SHOP, "channel": "sms", "max_clicks": 2**40}), 422)


async def test_an_empty_filter_means_no_filter(api: httpx.AsyncClient) -> None:
    campaign = await new_campaign(api)
    listed = await api.get("/api/links?campaign_id=&channel=")
    assert listed.status_code == 200, listed.text
    assert {l["id"] for l in listed.json()["items"]} == {l["id"] for l in campaign["links"]}
    assert (await api.get("/api/clicks?link_id=&campaign_id=&kind=")).status_code == 200
    assert (await api.get("/api/orders?source_id=&campaign_id=&status=")).status_code == 200


@pytest.mark.parametrize("text", ["Summer\x00Sale", "Summer \ud800 Sale", "\udfff"])
async def test_nul_and_lone_surrogates_are_422_and_store_nothing(app, api: httpx.AsyncClient, text: str) -> None:
    # Sent as JSON escapes (\u0000, \ud800), the way any client can.
    body = json.dumps({"name": text, "destination_url": SHOP, "channels": ["whatsapp"]})
    refused(await api.post("/api/campaigns", content=body, headers={"Content-Type": "application/json"}), 422)
    body = json.dumps({"destination_url": SHOP, "channel": "sms", "utm_term": text})
    refused(await api.post("/api/links", content=body, headers={"Content-Type": "application/json"}), 422)
    refused(await api.get("/api/links", params={"cursor": "a\x00b"}), 422)
    assert await count(app, Campaign) == 0 and await count(app, Link) == 0


async def test_a_body_that_is_not_utf8_is_422(app, api: httpx.AsyncClient) -> None:
    body = b'{"name": "Sommer \xe4 Sale", "destination_url": "https://shop.example/", "channels": []}'
    refused(await api.post("/api/campaigns", content=body, headers={"Content-Type": "application/json"}), 422)
    # Without the content type FastAPI still reads the body as JSON: the same answer.
    refused(await api.post("/api/campaigns", content=body), 422)
    assert await count(app, Campaign) == 0


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "1899-12-31T23:59:59Z", "3000-01-01T00:00:00Z",
                                    "9999-12-31T23:59:59-14:00"])
async def test_dates_outside_1900_to_2999_are_422_in_bodies_queries_and_webhooks(app, api, client, moment) -> None:
    refused(await api.post("/api/links", json={"destination_url": SHOP, "channel": "sms", "expires_at": moment}), 422)
    campaign = await new_campaign(api)
    report = await api.get(f"/api/reports/campaigns/{campaign['id']}", params={"from": moment})
    refused(report, 422)
    assert "1900 to 2999" in report.text
    refused(await api.get(f"/api/reports/campaigns/{campaign['id']}", params={"to": moment[:10]}), 422)
    source = await new_source(api, "generic")
    refused(await deliver(client, source, generic_body(created_at=moment)), 422)
    shop = await new_source(api, "shopify", secret="shpss_0123456789abcdef")
    order = shopify_order()
    order["created_at"] = moment
    refused(await deliver(client, shop, dumps(order)), 422)
    assert await count(app, Order) == 0
    assert await count(app, Link) == len(campaign["links"])


async def test_only_ascii_digits_name_a_webhook_source(app, api, client) -> None:
    source = await new_source(api, "generic")
    arabic = "".join(chr(0x0660 + int(d)) for d in str(source["id"]))  # ١ for 1, and so on
    body = generic_body()
    for path in (f"/webhooks/{arabic}", f"/webhooks/{source['id']}%0A", f"/webhooks/{2**40}", "/webhooks/0"):
        response = await client.post(path, content=body, headers={"Content-Type": "application/json"})
        refused(response, 404)
    assert await count(app, Order) == 0


async def test_a_blank_customer_ref_is_422(app, api, client) -> None:
    refused(await api.post("/api/identify", json={"click_id": "abc123", "customer_ref": "   "}), 422)
    source = await new_source(api, "generic")
    refused(await deliver(client, source, generic_body(customer_ref=" \t ")), 422)
    assert await count(app, Order) == 0


@pytest.mark.parametrize("amount", ["Infinity", "-Infinity", "NaN", "1e999999", "1E+30"])
async def test_amounts_that_are_not_finite_or_far_too_big_are_422(app, api, client, amount) -> None:
    source = await new_source(api, "generic")
    as_string = generic_body(amount=amount)
    refused(await deliver(client, source, as_string), 422)
    # And as bare JSON numbers / Python's non-standard constants.
    bare = as_string.replace(f'"{amount}"'.encode(), amount.encode())
    response = await deliver(client, source, bare)
    assert response.status_code in (400, 422), response.text
    assert await count(app, Order) == 0


async def test_refund_ids_over_255_characters_are_422(app, api, client) -> None:
    woo = await new_source(api, "woocommerce")
    order = woo_order()
    order["refunds"] = [{"id": "9" * 300, "reason": "", "total": "-10.00"}]
    refused(await deliver(client, woo, dumps(order), topic="order.updated"), 422)
    assert await count(app, Order) == 0 and await count(app, OrderEvent) == 0


@pytest.mark.parametrize("url", ["http://exa\\mple.com/", "http://ex%41mple.com/", "http://shop;evil.com/",
                                 'http://"shop".com/', "http://shop'x.com/", "http://-shop.com/", "http://shop..com/"])
async def test_destination_hosts_must_be_host_names(app, api: httpx.AsyncClient, url: str) -> None:
    refused(await api.post("/api/links", json={"destination_url": url, "channel": "sms"}), 422)
    refused(await api.post("/api/campaigns", json={"name": "x", "destination_url": url, "channels": ["sms"]}), 422)
    assert await count(app, Link) == 0
    ok = await api.post("/api/links", json={"destination_url": "https://bücher.example/x", "channel": "sms"})
    assert ok.status_code == 201, ok.text


async def test_a_slug_with_a_trailing_newline_is_refused(app, api: httpx.AsyncClient) -> None:
    refused(await api.post("/api/links", json={"destination_url": SHOP, "channel": "sms", "slug": "summer\n"}), 422)
    assert await count(app, Link) == 0
    made = await api.post("/api/links", json={"destination_url": SHOP, "channel": "sms", "slug": "summer"})
    assert made.status_code == 201
    assert (await api.get("/summer%0A")).status_code == 404  # the redirect matches whole slugs too


async def test_headers_over_16_kib_are_431_and_user_agents_are_cut_to_512(app, api: httpx.AsyncClient) -> None:
    made = (await api.post("/api/links", json={"destination_url": SHOP, "channel": "sms", "slug": "cut"})).json()
    big = {"X-Padding": "p" * 17_000}
    refused(await api.get("/cut", headers=big), 431)
    refused(await api.get("/api/links", headers=big), 431)
    refused(await api.get("/healthz", headers=big), 431)
    user_agent = "Mozilla/5.0 (iPhone) " + "x" * 5000
    referer = "https://l.messenger.com/" + "r" * 5000
    tap = await api.get("/cut", headers={"User-Agent": user_agent, "Referer": referer})
    assert tap.status_code == 302
    await app.state.recorder.flush()
    async with app.state.sessionmaker() as session:
        click = await session.scalar(select(Click).where(Click.link_id == made["id"]))
    assert click.user_agent == user_agent[:512]
    assert click.referrer_host == "l.messenger.com"


@pytest.mark.parametrize("platform", ["shopify", "woocommerce"])
async def test_a_replayed_delivery_is_answered_200_and_changes_nothing(app, api, client, platform) -> None:
    from test_conversions import signed_headers

    source = await new_source(api, platform, **({"secret": "shpss_0123456789abcdef"} if platform == "shopify" else {}))
    paid = shopify_order() if platform == "shopify" else woo_order()
    body = dumps(paid)
    headers = signed_headers(platform, source["secret"], body)
    delivery = {"shopify": "X-Shopify-Webhook-Id", "woocommerce": "X-WC-Webhook-Delivery-ID"}[platform]
    headers[delivery] = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    first = await client.post(f"/webhooks/{source['id']}", content=body, headers=headers)
    assert first.status_code == 200, first.text
    # The shop edits the order's total; then an attacker replays the captured first delivery.
    total = "total_price" if platform == "shopify" else "total"
    edited = dumps(dict(paid, **{total: "1.00"}))
    topic = "orders/updated" if platform == "shopify" else "order.updated"
    edit = await client.post(f"/webhooks/{source['id']}", content=edited,
                             headers=signed_headers(platform, source["secret"], edited, topic=topic))
    assert edit.status_code == 200
    events = await count(app, OrderEvent)
    replay = await client.post(f"/webhooks/{source['id']}", content=body, headers=headers)
    assert replay.status_code == 200 and replay.json()["order_id"] == first.json()["order_id"]
    async with app.state.sessionmaker() as session:
        order = await session.scalar(select(Order))
    assert order.amount_minor == 100  # the edit stands
    assert await count(app, OrderEvent) == events  # the replay stored nothing


@pytest.mark.parametrize("platform", ["shopify", "woocommerce"])
async def test_a_late_older_payload_never_overwrites_a_newer_order(app, api, client, platform) -> None:
    source = await new_source(api, platform, **({"secret": "shpss_0123456789abcdef"} if platform == "shopify" else {}))
    paid = shopify_order() if platform == "shopify" else woo_order()
    newer = dict(paid, status="cancelled", financial_status="voided", cancelled_at="2008-01-10T12:00:00-05:00",
                 updated_at="2008-01-11T12:00:00-05:00", date_modified_gmt="2017-03-25T10:00:00")
    older = dict(paid, updated_at="2008-01-10T11:00:00-05:00", date_modified_gmt="2017-03-22T19:28:02")
    topic = "orders/updated" if platform == "shopify" else "order.updated"
    assert (await deliver(client, source, dumps(newer), topic=topic)).json()["status"] == "cancelled"
    late = await deliver(client, source, dumps(older), topic=topic)
    assert late.status_code == 200 and late.json()["status"] == "cancelled"
    async with app.state.sessionmaker() as session:
        assert (await session.scalar(select(Order))).status == "cancelled"


async def test_an_unexpected_failure_is_a_json_500_with_the_traceback_logged(app, api, caplog) -> None:
    # A real failure, not a stand-in: the table under the route disappears.
    from sqlalchemy import text as sql

    async with app.state.engine.begin() as conn:
        await conn.execute(sql("ALTER TABLE campaigns RENAME TO campaigns_gone"))
    from clicktrail.app import asgi_app
    transport = httpx.ASGITransport(app=asgi_app(app), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ct.test", headers=api.headers) as client:
        answer = await client.get("/api/campaigns")
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error; it has been logged"}
    assert any(r.levelname == "ERROR" and r.exc_info and "campaigns" in str(r.exc_info[1]) for r in caplog.records)
    async with app.state.engine.begin() as conn:
        await conn.execute(sql("ALTER TABLE campaigns_gone RENAME TO campaigns"))
