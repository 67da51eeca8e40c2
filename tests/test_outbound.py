"""Sales out (API.md "Sales out"): the outbox, its sender, outbound webhooks, GA4, Meta, TikTok.

Every destination is a real HTTP server on 127.0.0.1 started here, which records each request
and checks it against the platform's documented format: Standard Webhooks signatures verified
with the `standardwebhooks` package; GA4 Measurement Protocol, Meta Conversions API and TikTok
Events API 2.0 bodies, auth and deduplication keys as their references describe them.

The app's own background sender is stopped here and the tests drive `Sender.run_once`
themselves, so every try is one the test can count (one test lets it run on its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update
from standardwebhooks.webhooks import Webhook

from clicktrail.app import asgi_app, create_app
from clicktrail.clicks.models import Click
from clicktrail.outbound.ga4 import client_id_of_click
from clicktrail.outbound.models import Delivery, Destination, OutboxEvent
from clicktrail.outbound.sender import Policy, Sender
from test_conversions import deliver, dumps, new_campaign, new_source
from test_web import make_user, sign_in
from conftest import BASE_URL

UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Mobile/15E148 [FBAN/FBIOS;FBAV/468.0.0.45.107]")
GA_COOKIE = "GA1.1.1180349341.1733270400"
FBP = "fb.1.1733270400000.1098765432"
TTP = "2Tq3Xc9vLw0sT1uYkPq8wEr"
FBCLID = "IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk"
TTCLID = "E.C.P.CsIBx9gQ2WZ"


# --- stand-ins for the receivers, on loopback -----------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1: records each request and answers from `answers` (status,
    headers) in turn, then `default`."""

    requests: list[Seen] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    default: int = 200
    delay: float = 0.0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                parts = urlsplit(self.path)
                receiver.requests.append(Seen(
                    "POST", parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                ))
                status, headers = receiver.answers.pop(0) if receiver.answers else (receiver.default, {})
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    server = r.serve()
    yield r
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(settings, receiver):
    return settings.model_copy(update={
        "outbound_allow_private": True,  # the stand-ins live on loopback
        "ga4_collect_url": f"{receiver.url}/mp/collect",
        "meta_graph_url": f"{receiver.url}/v21.0",
        "tiktok_events_url": f"{receiver.url}/open_api/v1.3/event/track/",
        "outbound_send_interval": 3600.0,  # polls never: only a commit wakes it
        "outbound_retry_base": 0.05,
        "outbound_retry_max_delay": 0.2,
        "outbound_circuit_failures": 3,
        "outbound_circuit_pause": 3600.0,
    })


async def quiet(app):
    """Stop the app's background sender: the test drives `run_once` itself."""
    await app.state.outbound_sender.stop()
    return app


@pytest.fixture
async def app(app):
    return await quiet(app)


# --- set-up ----------------------------------------------------------------------------------------


async def add_click(app, link: dict, occurred_at: datetime | None = None) -> tuple[str, datetime]:
    occurred_at = occurred_at or datetime.now(timezone.utc) - timedelta(hours=1)
    click_id = "ck" + uuid.uuid4().hex[:20]
    async with app.state.sessionmaker() as session:
        session.add(Click(workspace_id=1, click_id=click_id, link_id=link["id"], campaign_id=link["campaign_id"], kind="click",
                          channel=link["channel"], app="messenger", device="mobile", user_agent=UA,
                          occurred_at=occurred_at))
        await session.commit()
    return click_id, occurred_at


@dataclass
class Shop:
    app: object
    api: httpx.AsyncClient
    client: httpx.AsyncClient
    source: dict
    campaign: dict

    @property
    def link(self) -> dict:
        return self.campaign["links"][0]

    async def order(self, order_id: str = "A-1001", *, click: bool = True, expect: int = 200,
                    clicked_at: datetime | None = None, **fields) -> dict:
        """A generic order webhook from the shop, credited to a fresh click unless click=False."""
        body = {"order_id": order_id, "amount": "49.90", "currency": "EUR",
                "created_at": datetime.now(timezone.utc).isoformat(), "customer_ref": "Buyer@Example.com ",
                "customer_id": "cust-42"}
        if click:
            click_id, self.clicked_at = await add_click(self.app, self.link, clicked_at)
            body["click_id"] = click_id
            body["landing_url"] = f"https://shop.example/p/red?ct_id={click_id}&fbclid={FBCLID}&ttclid={TTCLID}"
        body.update(fields)
        response = await deliver(self.client, self.source, dumps(body))
        assert response.status_code == expect, response.text
        return response.json()


@pytest.fixture
async def shop(app, api, client) -> Shop:
    source = await new_source(api, "generic")
    campaign = await new_campaign(api, channels=("whatsapp",), name="Summer Sale")
    return Shop(app, api, client, source, campaign)


async def new_webhook(api: httpx.AsyncClient, url: str, events: list[str] | None = None) -> dict:
    body = {"url": url} | ({"events": events} if events is not None else {})
    response = await api.post("/api/webhooks", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def new_integration(api: httpx.AsyncClient, **body) -> dict:
    response = await api.post("/api/integrations", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def drain(sender: Sender, done, timeout: float = 10.0) -> None:
    """Run the sender until `done()` holds (tries that wait out a backoff included)."""
    async with asyncio.timeout(timeout):
        while not await done():
            await sender.run_once()
            await asyncio.sleep(0.02)


async def deliveries(api: httpx.AsyncClient, path: str) -> list[dict]:
    response = await api.get(f"{path}/deliveries")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def settled(api: httpx.AsyncClient, path: str, n: int = 1):
    async def check() -> bool:
        items = await deliveries(api, path)
        return len(items) >= n and all(d["status"] != "pending" for d in items)
    return check


# --- outbound webhooks -----------------------------------------------------------------------------


async def test_webhook_is_signed_per_standard_webhooks_and_carries_the_order_and_its_attribution(
        app, api, shop, receiver) -> None:
    hook = await new_webhook(api, f"{receiver.url}/crm/hooks")
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]+={0,2}", hook["secret"])
    assert hook["events"] == ["order.attributed", "order.updated", "order.refunded"]
    listed = (await api.get("/api/webhooks")).json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]  # shown once

    answer = await shop.order("A-1001")
    await drain(app.state.outbound_sender, settled(api, f"/api/webhooks/{hook['id']}"))

    [seen] = receiver.requests
    assert seen.path == "/crm/hooks" and seen.headers["content-type"] == "application/json"
    payload = Webhook(hook["secret"]).verify(seen.body, seen.headers)  # raises unless the signature is right
    assert seen.headers["webhook-id"].startswith("evt_")
    assert payload["type"] == "order.attributed"
    datetime.fromisoformat(payload["timestamp"])
    order = payload["data"]
    assert order["id"] == answer["order_id"] and order["external_id"] == "A-1001" and order["customer_id"] == "cust-42"
    assert (order["amount"], order["currency"], order["status"]) == ("49.90", "EUR", "paid")
    attribution = order["attribution"]
    assert attribution == {"method": "click_id", "click_id": answer["attribution"]["click_id"],
                           "link_id": shop.link["id"], "campaign_id": shop.campaign["id"], "campaign": "Summer Sale",
                           "channel": "whatsapp", "app": "messenger"}
    assert "Buyer@Example.com" not in seen.body.decode() and "fbclid" not in order  # no buyer data, no signals

    [log] = await deliveries(api, f"/api/webhooks/{hook['id']}")
    assert (log["status"], log["attempts"], log["last_status_code"], log["type"]) == ("delivered", 1, 200, "order.attributed")
    assert log["event_id"] == seen.headers["webhook-id"]


async def test_a_receiver_that_fails_twice_gets_the_same_event_id_three_times(app, api, shop, receiver) -> None:
    hook = await new_webhook(api, f"{receiver.url}/hooks")
    receiver.answers = [(500, {}), (503, {})]
    await shop.order()
    await drain(app.state.outbound_sender, settled(api, f"/api/webhooks/{hook['id']}"))
    assert len(receiver.requests) == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1  # the same bytes, signed afresh each time
    for seen in receiver.requests:
        Webhook(hook["secret"]).verify(seen.body, seen.headers)
    [log] = await deliveries(api, f"/api/webhooks/{hook['id']}")
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("delivered", 3, 200)


async def test_events_for_updates_and_refunds_and_none_for_a_redelivery(app, api, shop, receiver) -> None:
    hook = await new_webhook(api, f"{receiver.url}/hooks")
    only_refunds = await new_webhook(api, f"{receiver.url}/refunds", ["order.refunded"])
    await shop.order("A-7")
    click_id = (await shop.api.get("/api/orders")).json()["items"][0]["attribution"]["click_id"]
    same = {"order_id": "A-7", "amount": "49.90", "currency": "EUR", "click_id": click_id}
    await deliver(shop.client, shop.source, dumps(same))  # the shop repeats itself: nothing new
    await deliver(shop.client, shop.source, dumps(same | {"refunded_amount": "10.00"}))
    await deliver(shop.client, shop.source, dumps(same | {"refunded_amount": "10.00"}))  # again: nothing new
    await deliver(shop.client, shop.source, dumps(same | {"refunded_amount": "10.00", "status": "cancelled"}))
    await drain(app.state.outbound_sender, settled(api, f"/api/webhooks/{hook['id']}", 3))

    # Deliveries run concurrently, so they may arrive out of order; each carries its time.
    to_hook = sorted((r.json() for r in receiver.requests if r.path == "/hooks"), key=lambda p: p["timestamp"])
    assert [p["type"] for p in to_hook] == ["order.attributed", "order.refunded", "order.updated"]
    assert to_hook[1]["data"]["refund"] == {"amount": "10.00"} and to_hook[1]["data"]["refunded_amount"] == "10.00"
    assert to_hook[2]["data"]["status"] == "cancelled"
    to_refunds = [r.json()["type"] for r in receiver.requests if r.path == "/refunds"]
    assert to_refunds == ["order.refunded"]
    # An order credited to no link is nobody's sale: no event.
    await shop.order("B-1", click=False)
    await app.state.outbound_sender.run_once()
    assert len([r for r in receiver.requests if r.path == "/hooks"]) == 3


async def test_retry_by_hand_and_secret_rotation(app, api, shop, receiver) -> None:
    hook = await new_webhook(api, f"{receiver.url}/hooks")
    await shop.order()
    await drain(app.state.outbound_sender, settled(api, f"/api/webhooks/{hook['id']}"))
    [log] = await deliveries(api, f"/api/webhooks/{hook['id']}")

    # A rotation: the old secret goes on signing beside the new one for a day.
    rotated = await api.post(f"/api/webhooks/{hook['id']}/rotate-secret")
    assert rotated.status_code == 200 and rotated.json()["secret"] != hook["secret"]
    overlap = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"]) - datetime.now(timezone.utc)
    assert timedelta(hours=23) < overlap <= timedelta(hours=24)
    retried = await api.post(f"/api/webhooks/{hook['id']}/deliveries/{log['id']}/retry")
    assert retried.status_code == 202 and retried.json()["status"] == "pending"
    await drain(app.state.outbound_sender, settled(api, f"/api/webhooks/{hook['id']}"))
    first, again = receiver.requests
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    assert len(again.headers["webhook-signature"].split(" ")) == 2
    Webhook(rotated.json()["secret"]).verify(again.body, again.headers)
    Webhook(hook["secret"]).verify(again.body, again.headers)

    # After a leak: the old secret ends at once.
    leaked = await api.post(f"/api/webhooks/{hook['id']}/rotate-secret", json={"previous_valid_hours": 0})
    assert leaked.json()["previous_secret_expires_at"] is None
    await api.post(f"/api/webhooks/{hook['id']}/deliveries/{log['id']}/retry")
    await drain(app.state.outbound_sender, settled(api, f"/api/webhooks/{hook['id']}"))
    last = receiver.requests[-1]
    Webhook(leaked.json()["secret"]).verify(last.body, last.headers)
    for old in (hook["secret"], rotated.json()["secret"]):
        with pytest.raises(Exception, match="No matching signature"):
            Webhook(old).verify(last.body, last.headers)
    too_long = await api.post(f"/api/webhooks/{hook['id']}/rotate-secret", json={"previous_valid_hours": 1000})
    assert too_long.status_code == 422

    assert (await api.post(f"/api/webhooks/{hook['id']}/deliveries/999999/retry")).status_code == 404
    assert (await api.post(f"/api/webhooks/999999/deliveries/{log['id']}/retry")).status_code == 404
    assert (await api.get("/api/webhooks/999999/deliveries")).status_code == 404


async def test_backoff_doubles_with_jitter_and_gives_up_after_three_days(app, api, shop, receiver, settings) -> None:
    policy = Policy.from_settings(settings.model_copy(update={"outbound_retry_base": 10.0,
                                                              "outbound_retry_max_delay": 6 * 3600.0}))
    for attempts in range(1, 8):
        delays = [policy.backoff(attempts) for _ in range(50)]
        ceiling = 10.0 * 2 ** (attempts - 1)
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(set(delays)) > 1
    assert max(policy.backoff(40) for _ in range(50)) <= 6 * 3600.0

    hook = await new_webhook(api, f"{receiver.url}/hooks")
    receiver.default = 500
    await shop.order()
    sender = app.state.outbound_sender
    await sender.run_once()
    async with app.state.sessionmaker() as session:
        delivery = await session.scalar(select(Delivery))
        assert delivery.status == "pending" and delivery.attempts == 1
        assert timedelta(0) < delivery.next_attempt_at - delivery.last_attempt_at <= timedelta(seconds=0.05)
        # Three days have passed since the event: the next failure is the last.
        delivery.created_at -= timedelta(days=3)
        delivery.next_attempt_at -= timedelta(days=3)
        await session.commit()
    await sender.run_once()
    [log] = await deliveries(api, f"/api/webhooks/{hook['id']}")
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("failed", 2, 500)
    assert log["next_attempt_at"] is None
    await sender.run_once()
    assert len(receiver.requests) == 2


async def test_a_failing_destination_is_paused_by_its_circuit_and_says_so(app, api, shop, receiver) -> None:
    hook = await new_webhook(api, f"{receiver.url}/hooks")
    receiver.default = 503
    for n in range(4):
        await shop.order(f"C-{n}")
    sender = app.state.outbound_sender
    await drain(sender, lambda: _paused(api, hook["id"]))
    tries = len(receiver.requests)
    assert tries >= 3
    circuit = (await api.get(f"/api/webhooks/{hook['id']}")).json()["circuit"]
    assert circuit["state"] == "paused" and circuit["consecutive_failures"] >= 3 and "503" in circuit["last_error"]
    for _ in range(5):  # resting: nothing is tried, nothing is lost
        await sender.run_once()
        await asyncio.sleep(0.05)
    assert len(receiver.requests) == tries
    assert {d["status"] for d in await deliveries(api, f"/api/webhooks/{hook['id']}")} == {"pending"}
    # The web app's settings page says so.
    await make_user(app)
    assert (await sign_in(shop.client)).status_code == 303
    page = (await shop.client.get("/settings")).text
    section = page[page.index('id="sales-out"'):page.index('id="keys"')]
    assert f"{receiver.url}/hooks" in section and "Paused until" in section
    assert "failed tries in a row" in section and "answered 503" in section

    # The receiver is back; a retry by hand closes the circuit and the rest follows.
    receiver.default = 200
    first = (await deliveries(api, f"/api/webhooks/{hook['id']}"))[-1]
    assert (await api.post(f"/api/webhooks/{hook['id']}/deliveries/{first['id']}/retry")).status_code == 202
    await drain(sender, settled(api, f"/api/webhooks/{hook['id']}", 4))
    assert {d["status"] for d in await deliveries(api, f"/api/webhooks/{hook['id']}")} == {"delivered"}
    assert (await api.get(f"/api/webhooks/{hook['id']}")).json()["circuit"]["state"] == "active"
    delivered = {r.headers["webhook-id"] for r in receiver.requests if r is not None}
    assert len(delivered) == 4


async def _paused(api: httpx.AsyncClient, hook_id: int) -> bool:
    return (await api.get(f"/api/webhooks/{hook_id}")).json()["circuit"]["state"] == "paused"


async def test_a_restart_mid_retry_and_a_crash_mid_try_lose_and_double_nothing(app, api, shop, receiver, settings) -> None:
    hook = await new_webhook(api, f"{receiver.url}/hooks")
    receiver.answers = [(500, {})]
    await shop.order("R-1")
    await app.state.outbound_sender.run_once()  # fails once, then the process goes away
    assert len(receiver.requests) == 1

    # A second process on the same database, after a restart; and a crash: this one claims the
    # next order's delivery and dies before it sends or records anything.
    short_lease = settings.model_copy(update={"outbound_lease": 0.3})
    await shop.order("R-2")
    restarted = create_app(short_lease)
    async with restarted.router.lifespan_context(restarted):
        await quiet(restarted)
        crashed = Sender.for_app(restarted)
        await asyncio.sleep(0.06)  # R-1's backoff has run out, so both are due
        claimed = await crashed._claim("crashed-sender")  # noqa: SLF001 (a sender dying mid-try)
        assert {c.job.type for c in claimed} == {"order.attributed"} and len(claimed) == 2
        assert await restarted.state.outbound_sender.run_once() == 0  # leased: nobody else takes them
        await asyncio.sleep(0.35)  # the lease runs out
        await drain(restarted.state.outbound_sender, settled(api, f"/api/webhooks/{hook['id']}", 2))
        await crashed.stop()

    ids = [r.headers["webhook-id"] for r in receiver.requests]
    # its failed try and one more; R-2: one try, after the crashed sender's lease ran out.
    assert len(ids) == 3 and len(set(ids)) == 2 and ids[0] in ids[1:]
    logs = await deliveries(api, f"/api/webhooks/{hook['id']}")
    assert sorted(d["attempts"] for d in logs) == [1, 2] and {d["status"] for d in logs} == {"delivered"}


async def test_two_senders_deliver_every_event_exactly_once(app, api, shop, receiver, settings) -> None:
    """Two senders on the same rows: on PostgreSQL they claim with FOR UPDATE SKIP LOCKED; on
    SQLite the claim is one UPDATE, which SQLite runs one writer at a time."""
    hook = await new_webhook(api, f"{receiver.url}/hooks")
    receiver.delay = 0.01
    for n in range(30):
        await shop.order(f"T-{n}")
    second_app = create_app(settings)
    async with second_app.router.lifespan_context(second_app):
        await quiet(second_app)
        first, second = app.state.outbound_sender, second_app.state.outbound_sender
        done = settled(api, f"/api/webhooks/{hook['id']}", 30)
        await asyncio.gather(drain(first, done, 30), drain(second, done, 30))
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == 30 and len(set(ids)) == 30


# --- GA4, Meta, TikTok -------------------------------------------------------------------------------


async def test_ga4_gets_one_purchase_per_paid_order_and_one_refund_per_refund(app, api, shop, receiver) -> None:
    integration = await new_integration(api, kind="ga4", measurement_id="G-TEST12345", api_secret="mp-secret-1")
    assert integration["measurement_id"] == "G-TEST12345" and "api_secret" not in integration
    await shop.order("G-1", attributes={"_ga": GA_COOKIE})
    click_id = (await api.get("/api/orders")).json()["items"][0]["attribution"]["click_id"]
    base = {"order_id": "G-1", "amount": "49.90", "currency": "EUR", "click_id": click_id}
    await deliver(shop.client, shop.source, dumps(base | {"refunded_amount": "10.00"}))
    await deliver(shop.client, shop.source, dumps(base | {"refunded_amount": "10.00"}))  # repeated: once
    await deliver(shop.client, shop.source, dumps(base | {"refunded_amount": "15.50"}))
    path = f"/api/integrations/{integration['id']}"
    await drain(app.state.outbound_sender, settled(api, path, 3))

    assert len(receiver.requests) == 3
    for seen in receiver.requests:
        assert seen.path == "/mp/collect"
        assert seen.query == {"measurement_id": ["G-TEST12345"], "api_secret": ["mp-secret-1"]}
    # Sent concurrently, so in any order: the purchase, then the refunds by value.
    purchase, refund, second_refund = sorted(
        (r.json() for r in receiver.requests),
        key=lambda b: (b["events"][0]["name"] != "purchase", b["events"][0]["params"]["value"]))
    assert purchase["client_id"] == "1180349341.1733270400"  # the visitor's own, from _ga
    assert re.fullmatch(r"\d{16}", str(purchase["timestamp_micros"]))
    age = datetime.now(timezone.utc) - datetime.fromtimestamp(purchase["timestamp_micros"] / 1e6, timezone.utc)
    assert timedelta(0) <= age < timedelta(hours=72)
    [event] = purchase["events"]
    assert event["name"] == "purchase"
    params = event["params"]
    assert (params["transaction_id"], params["value"], params["currency"]) == ("G-1", 49.9, "EUR")
    assert (params["campaign"], params["source"], params["medium"]) == ("Summer Sale", "whatsapp", "social")
    assert refund["client_id"] == purchase["client_id"]
    assert refund["events"] == [{"name": "refund", "params": {"transaction_id": "G-1", "value": 5.5, "currency": "EUR"}}]
    assert second_refund["events"][0]["params"]["value"] == 10.0  # 10.00, then 5.50 more


async def test_ga4_purchase_waits_for_payment_and_derives_a_client_id_from_the_click(app, api, shop, receiver) -> None:
    integration = await new_integration(api, kind="ga4", measurement_id="G-TEST12345", api_secret="mp-secret-1")
    await shop.order("P-1", status="pending")
    click_id = (await api.get("/api/orders")).json()["items"][0]["attribution"]["click_id"]
    await app.state.outbound_sender.run_once()
    assert receiver.requests == []  # not paid yet: no purchase
    paid = {"order_id": "P-1", "amount": "49.90", "currency": "EUR", "click_id": click_id, "status": "paid"}
    await deliver(shop.client, shop.source, dumps(paid))
    await deliver(shop.client, shop.source, dumps(paid))
    await drain(app.state.outbound_sender, settled(api, f"/api/integrations/{integration['id']}", 1))
    [seen] = receiver.requests
    body = seen.json()
    assert body["client_id"] == client_id_of_click(click_id, shop.clicked_at)
    assert re.fullmatch(r"\d{1,10}\.\d{10}", body["client_id"])
    assert body["events"][0]["name"] == "purchase" and body["events"][0]["params"]["transaction_id"] == "P-1"


async def test_meta_gets_a_purchase_with_fbc_fbp_user_agent_and_the_hashed_email(app, api, shop, receiver) -> None:
    integration = await new_integration(api, kind="meta", pixel_id="1234567890", access_token="EAAtoken",
                                        send_hashed_email=True)
    assert integration["pixel_id"] == "1234567890" and "access_token" not in integration
    await shop.order("M-1", attributes={"_fbp": FBP}, user_agent=UA)
    await drain(app.state.outbound_sender, settled(api, f"/api/integrations/{integration['id']}", 1))
    [seen] = receiver.requests
    assert seen.path == "/v21.0/1234567890/events"
    body = seen.json()
    assert body["access_token"] == "EAAtoken"
    [event] = body["data"]
    assert (event["event_name"], event["event_id"], event["action_source"]) == ("Purchase", "M-1", "website")
    assert event["event_source_url"].startswith("https://shop.example/p/red?ct_id=")
    assert abs(event["event_time"] - datetime.now(timezone.utc).timestamp()) < 60
    user = event["user_data"]
    assert user["fbc"] == f"fb.1.{int(shop.clicked_at.timestamp() * 1000)}.{FBCLID}"
    assert user["fbp"] == FBP and user["client_user_agent"] == UA
    assert user["em"] == [hashlib.sha256(b"buyer@example.com").hexdigest()]
    assert (event["custom_data"]["currency"], event["custom_data"]["value"]) == ("EUR", 49.9)
    async with app.state.sessionmaker() as session:  # the hash is gone with the delivery
        assert await session.scalar(select(func.count()).where(Delivery.email_sha256.is_not(None))) == 0


async def test_meta_without_the_email_option_and_orders_older_than_seven_days(app, api, shop, receiver) -> None:
    integration = await new_integration(api, kind="meta", pixel_id="1234567890", access_token="EAAtoken")
    old = datetime.now(timezone.utc) - timedelta(days=8)
    await shop.order("M-old", created_at=old.isoformat(), clicked_at=old - timedelta(hours=1))
    await shop.order("M-new")
    await drain(app.state.outbound_sender, settled(api, f"/api/integrations/{integration['id']}", 2))
    [seen] = receiver.requests
    assert seen.json()["data"][0]["event_id"] == "M-new" and "em" not in seen.json()["data"][0]["user_data"]
    statuses = {d["order_id"]: d["status"] for d in await deliveries(api, f"/api/integrations/{integration['id']}")}
    assert sorted(statuses.values()) == ["delivered", "skipped"]


async def test_tiktok_gets_complete_payment_with_ttclid_and_ttp(app, api, shop, receiver) -> None:
    integration = await new_integration(api, kind="tiktok", pixel_code="CTEST123ABC", access_token="tt-token")
    await shop.order("K-1", attributes={"_ttp": TTP})
    await drain(app.state.outbound_sender, settled(api, f"/api/integrations/{integration['id']}", 1))
    [seen] = receiver.requests
    assert seen.path == "/open_api/v1.3/event/track/" and seen.headers["access-token"] == "tt-token"
    body = seen.json()
    assert (body["event_source"], body["event_source_id"]) == ("web", "CTEST123ABC")
    [event] = body["data"]
    assert (event["event"], event["event_id"]) == ("CompletePayment", "K-1")
    assert event["user"] == {"ttclid": TTCLID, "ttp": TTP, "user_agent": UA}
    assert (event["properties"]["currency"], event["properties"]["value"]) == ("EUR", 49.9)
    assert event["page"]["url"].startswith("https://shop.example/p/red")


async def test_a_pending_order_is_sent_when_its_click_arrives_with_the_cookies_it_came_with(
        app, api, shop, receiver) -> None:
    integration = await new_integration(api, kind="ga4", measurement_id="G-TEST12345", api_secret="mp-secret-1")
    click_id = "late" + uuid.uuid4().hex[:12]
    body = {"order_id": "L-1", "amount": "20.00", "currency": "EUR", "click_id": click_id,
            "created_at": datetime.now(timezone.utc).isoformat(), "attributes": {"_ga": GA_COOKIE}}
    answer = (await deliver(shop.client, shop.source, dumps(body))).json()
    assert answer["attribution"]["state"] == "pending"
    await app.state.outbound_sender.run_once()
    assert receiver.requests == []  # credited to nothing yet: nothing to send
    async with app.state.sessionmaker() as session:  # the recorder writes the click a moment later
        session.add(Click(workspace_id=1, click_id=click_id, link_id=shop.link["id"], campaign_id=shop.campaign["id"], kind="click",
                          channel="whatsapp", app=None, device="mobile",
                          occurred_at=datetime.now(timezone.utc) - timedelta(minutes=5)))
        await session.commit()
    await app.state.pending_orders.run_once()
    await drain(app.state.outbound_sender, settled(api, f"/api/integrations/{integration['id']}", 1))
    [seen] = receiver.requests
    body = seen.json()
    assert body["client_id"] == "1180349341.1733270400"  # the _ga of the first delivery, kept for this
    assert body["events"][0]["params"]["transaction_id"] == "L-1" and body["events"][0]["params"]["value"] == 20.0


async def test_all_destinations_at_once(app, api, shop, receiver) -> None:
    await new_webhook(api, f"{receiver.url}/hooks")
    await new_integration(api, kind="ga4", measurement_id="G-TEST12345", api_secret="s")
    await new_integration(api, kind="meta", pixel_id="1", access_token="t")
    await new_integration(api, kind="tiktok", pixel_code="C1", access_token="t")
    await shop.order("ALL-1")
    await drain(app.state.outbound_sender, lambda: _all_settled(app, 4))
    assert sorted(r.path for r in receiver.requests) == ["/hooks", "/mp/collect", "/open_api/v1.3/event/track/",
                                                         "/v21.0/1/events"]


async def test_the_background_sender_delivers_as_soon_as_the_order_commits(api, shop, receiver, settings) -> None:
    """The app's own sender, never polling here (interval 1 h): the order's commit wakes it."""
    running = create_app(settings)
    async with running.router.lifespan_context(running):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=running), base_url="http://ct.test",
                                     headers=api.headers) as running_api:
            hook = await new_webhook(running_api, f"{receiver.url}/hooks")
            shop.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=running), base_url="http://ct.test")
            async with shop.client:
                await shop.order("BG-1")
            async with asyncio.timeout(5):
                while not receiver.requests:
                    await asyncio.sleep(0.01)
    assert receiver.requests[0].json()["data"]["external_id"] == "BG-1"
    Webhook(hook["secret"]).verify(receiver.requests[0].body, receiver.requests[0].headers)


async def _all_settled(app, n: int) -> bool:
    async with app.state.sessionmaker() as session:
        statuses = (await session.scalars(select(Delivery.status))).all()
    return len(statuses) >= n and "pending" not in statuses


# --- what may be called ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "https://localhost/hooks",  # resolves to 127.0.0.1
    "https://127.0.0.1:8443/hooks", "https://10.0.0.8/hooks", "https://[::1]/hooks",
    "https://169.254.169.254/latest/meta-data/", "http://crm.example/hooks", "https://user:pw@crm.example/hooks",
    "ftp://crm.example/hooks", "https:///nohost", "https://" + "a" * 70 + ".example/hooks", "https://[::ffff:127.0.0.1]/",
])
async def test_webhook_urls_must_be_https_and_public(app, api, settings, url) -> None:
    strict = create_app(settings.model_copy(update={"outbound_allow_private": False}))
    async with strict.router.lifespan_context(strict):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=strict), base_url="http://ct.test",
                                     headers=api.headers) as strict_api:
            response = await strict_api.post("/api/webhooks", json={"url": url})
            assert response.status_code == 422, response.text
            assert "url" in json.dumps(response.json()["detail"])
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Destination)) == 0


async def test_link_local_stays_refused_even_when_private_addresses_are_allowed(api) -> None:
    response = await api.post("/api/webhooks", json={"url": "http://169.254.169.254/latest/meta-data/"})
    assert response.status_code == 422


async def test_a_redirect_to_the_metadata_address_is_refused(app, api, shop, receiver) -> None:
    hook = await new_webhook(api, f"{receiver.url}/hooks")
    receiver.default = 307
    receiver.answers = [(307, {"Location": "http://169.254.169.254/latest/meta-data/iam/"})]
    await shop.order()
    await app.state.outbound_sender.run_once()
    assert len(receiver.requests) == 1  # only the first hop was made
    [log] = await deliveries(api, f"/api/webhooks/{hook['id']}")
    assert log["status"] == "pending" and "refused" in log["last_error"] and "169.254.169.254" in log["last_error"]


async def test_an_address_checked_again_at_send_time(app, api, shop, receiver, settings) -> None:
    """A hook made while private addresses were allowed is not called once they are not."""
    hook = await new_webhook(api, f"https://127.0.0.1:{receiver.port}/hooks")
    await shop.order()
    strict = create_app(settings.model_copy(update={"outbound_allow_private": False}))
    async with strict.router.lifespan_context(strict):
        await (await quiet(strict)).state.outbound_sender.run_once()
    assert receiver.requests == []
    [log] = await deliveries(api, f"/api/webhooks/{hook['id']}")
    assert "not a public address" in log["last_error"]


# --- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    {}, {"kind": "ga4"}, {"kind": "ga4", "measurement_id": "G-1"}, {"kind": "meta", "pixel_id": "12"},
    {"kind": "meta", "pixel_id": "not digits", "access_token": "t"}, {"kind": "x", "api_secret": "s"},
    {"kind": "tiktok", "pixel_code": "C1", "access_token": "t", "extra": 1},
])
async def test_bad_integrations_are_422_and_store_nothing(app, api, body) -> None:
    response = await api.post("/api/integrations", json=body)
    assert response.status_code == 422 and "detail" in response.json()
    assert (await api.get("/api/integrations")).json()["items"] == []


async def test_bad_webhooks_unknown_ids_and_keys(app, api, client, receiver) -> None:
    assert (await api.post("/api/webhooks", json={"url": f"{receiver.url}/h", "events": ["order.shipped"]})).status_code == 422
    assert (await api.post("/api/webhooks", json={"url": f"{receiver.url}/h", "events": []})).status_code == 422
    assert (await api.get("/api/webhooks/424242")).status_code == 404
    assert (await api.get(f"/api/webhooks/{2**40}/deliveries")).status_code == 404  # out of range: as unknown
    assert (await api.delete("/api/integrations/424242")).status_code == 404
    assert (await client.get("/api/webhooks")).status_code == 401
    assert (await client.post("/api/integrations", json={"kind": "ga4"})).status_code == 401
    hook = await new_webhook(api, f"{receiver.url}/h")
    assert (await api.get(f"/api/integrations/{hook['id']}")).status_code == 404  # a webhook is no integration
    taken = {"kind": "ga4", "measurement_id": "G-1", "api_secret": "s"}
    assert (await api.post("/api/integrations", json=taken)).status_code == 201
    assert (await api.post("/api/integrations", json=taken)).status_code == 409
    assert (await api.delete(f"/api/webhooks/{hook['id']}")).status_code == 204
    assert (await api.get("/api/webhooks")).json()["items"] == []


async def test_secrets_are_stored_encrypted(app, api, receiver) -> None:
    hook = await new_webhook(api, f"{receiver.url}/h")
    await new_integration(api, kind="meta", pixel_id="77", access_token="EAAsecret-token")
    async with app.state.sessionmaker() as session:
        sealed = (await session.scalars(select(Destination.secret_sealed))).all()
    assert len(sealed) == 2
    assert all(hook["secret"] not in s and "EAAsecret-token" not in s for s in sealed)


async def test_no_destination_no_outbox(app, shop) -> None:
    await shop.order()
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


# --- "send a test event" -----------------------------------------------------------------------------------


async def test_a_test_event_goes_to_each_platforms_test_channel(app, api, receiver) -> None:
    hook = await new_webhook(api, f"{receiver.url}/hooks")
    ga = await new_integration(api, kind="ga4", measurement_id="G-TEST12345", api_secret="mp-secret-1")
    fb = await new_integration(api, kind="meta", pixel_id="1234567890", access_token="EAAtoken")
    tt = await new_integration(api, kind="tiktok", pixel_code="CTEST123ABC", access_token="tt-token")

    answer = (await api.post(f"/api/webhooks/{hook['id']}/test")).json()
    assert answer == {"delivered": True, "status_code": 200, "error": None}
    assert (await api.post(f"/api/integrations/{ga['id']}/test")).json()["delivered"] is True
    for integration in (fb, tt):
        response = await api.post(f"/api/integrations/{integration['id']}/test", json={"test_event_code": "TEST4242"})
        assert response.json()["delivered"] is True
    webhook, ga4, meta, tiktok = receiver.requests
    assert Webhook(hook["secret"]).verify(webhook.body, webhook.headers)["data"]["test"] is True
    assert ga4.path == "/debug/mp/collect" and ga4.json()["events"][0]["name"] == "purchase"
    assert meta.path == "/v21.0/1234567890/events" and meta.json()["test_event_code"] == "TEST4242"
    assert tiktok.json()["test_event_code"] == "TEST4242" and tiktok.json()["data"][0]["event"] == "CompletePayment"
    async with app.state.sessionmaker() as session:  # outside the outbox: nothing to log or retry
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 0

    receiver.default = 500
    failed = (await api.post(f"/api/webhooks/{hook['id']}/test")).json()
    assert failed["delivered"] is False and failed["status_code"] == 500
    assert (await api.post(f"/api/integrations/{ga['id']}/test", json={"test_event_code": "a b"})).status_code == 422
    assert (await api.post(f"/api/integrations/{hook['id']}/test")).status_code == 404


async def test_the_settings_page_sends_a_test_event(app, api, client, receiver) -> None:
    integration = await new_integration(api, kind="meta", pixel_id="1234567890", access_token="EAAtoken")
    await make_user(app)
    assert (await sign_in(client)).status_code == 303
    page = (await client.get("/settings")).text
    assert f'action="/settings/destinations/{integration["id"]}/test"' in page and "Meta Conversions API" in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    sent = await client.post(f"/settings/destinations/{integration['id']}/test",
                             data={"csrf_token": csrf, "test_event_code": "TEST777"})
    assert sent.status_code == 303
    after = (await client.get("/settings")).text
    assert "Test event sent to Meta Conversions API: answered 200." in after
    [seen] = receiver.requests
    assert seen.json()["test_event_code"] == "TEST777"

    # A member who is not an admin sees the state but cannot send.
    await make_user(app, "bo@shop.example", is_admin=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(app)), base_url=BASE_URL) as member:
        assert (await sign_in(member, "bo@shop.example")).status_code == 303
        page = (await member.get("/settings")).text
        assert "Meta Conversions API" in page and "Send a test event" not in page
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        refused = await member.post(f"/settings/destinations/{integration['id']}/test", data={"csrf_token": csrf})
        assert refused.status_code == 403
    assert len(receiver.requests) == 1


# --- what the shops' own payloads carry ------------------------------------------------------------------


async def test_shopify_and_woocommerce_orders_carry_the_cookies_user_agent_and_customer(app, api, receiver) -> None:
    from test_conversions import SHOPIFY_ORDER_AT, WOO_ORDER_AT, shopify_order, woo_order

    await new_webhook(api, f"{receiver.url}/hooks")
    await new_integration(api, kind="ga4", measurement_id="G-TEST12345", api_secret="mp-secret-1")
    campaign = await new_campaign(api, channels=("whatsapp",))
    link = campaign["links"][0]
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(app)), base_url=BASE_URL)
    async with client:
        shopify = await new_source(api, "shopify")
        click_id, _ = await add_click(app, link, SHOPIFY_ORDER_AT - timedelta(hours=1))
        order = shopify_order(click_id, "note_attributes")
        order["note_attributes"] += [{"name": "_ga", "value": GA_COOKIE}, {"name": "_fbp", "value": FBP}]
        order["client_details"]["user_agent"] = UA
        assert (await deliver(client, shopify, dumps(order), topic="orders/create")).status_code == 200
        woo = await new_source(api, "woocommerce")
        click_id, _ = await add_click(app, link, WOO_ORDER_AT - timedelta(hours=1))
        order = woo_order(click_id)
        order["meta_data"].append({"id": 13108, "key": "_ga", "value": "GA1.2.222333444.1490000000"})
        assert (await deliver(client, woo, dumps(order))).status_code == 200
    await drain(app.state.outbound_sender, lambda: _all_settled(app, 4))

    hooks = {r.json()["data"]["external_id"]: r.json()["data"] for r in receiver.requests if r.path == "/hooks"}
    assert hooks["450789469"]["customer_id"] == "207119551"  # Shopify's customer.id
    assert hooks["727"]["customer_id"] is None  # WooCommerce's 0 is a guest
    ga4 = {r.json()["events"][0]["params"]["transaction_id"]: r.json() for r in receiver.requests if r.path == "/mp/collect"}
    assert ga4["450789469"]["client_id"] == "1180349341.1733270400"
    assert ga4["727"]["client_id"] == "222333444.1490000000"
    assert "timestamp_micros" not in ga4["727"]  # ordered in 2017: older than GA4's 72 hours, sent as of now
    async with app.state.sessionmaker() as session:
        signals = json.loads((await session.scalars(select(OutboxEvent.signals).order_by(OutboxEvent.id))).first())
    assert signals["fbp"] == FBP and signals["user_agent"] == UA and signals["ga"] == GA_COOKIE


async def test_the_deliveries_log_is_trimmed_but_purchases_are_remembered(app, api, shop, receiver) -> None:
    hook = await new_webhook(api, f"{receiver.url}/hooks")
    await shop.order("OLD-1")  # a webhook delivery only
    await drain(app.state.outbound_sender, settled(api, f"/api/webhooks/{hook['id']}"))
    integration = await new_integration(api, kind="ga4", measurement_id="G-TEST12345", api_secret="s")
    receiver.default = 500
    answer = await shop.order("OLD-2")  # a webhook and a purchase, both failing for now
    await app.state.outbound_sender.run_once()

    async def age(days: int) -> None:
        async with app.state.sessionmaker() as session:
            for event in (await session.scalars(select(OutboxEvent))).all():
                event.created_at -= timedelta(days=days)
            await session.commit()

    await age(31)
    assert await app.state.outbound_sender.prune() == 1  # OLD-1's: ended, past the 30 days
    assert [d["status"] for d in await deliveries(api, f"/api/webhooks/{hook['id']}")] == ["pending"]
    receiver.default = 200
    await drain(app.state.outbound_sender, lambda: _all_settled(app, 2))
    await age(31)
    assert await app.state.outbound_sender.prune() == 0  # the purchase's row stays: it is the "once"
    cancelled = {"order_id": "OLD-2", "amount": "49.90", "currency": "EUR", "status": "cancelled",
                 "click_id": answer["attribution"]["click_id"]}
    await deliver(shop.client, shop.source, dumps(cancelled))
    await drain(app.state.outbound_sender, settled(api, f"/api/webhooks/{hook['id']}", 2))
    assert [r.path for r in receiver.requests].count("/mp/collect") == 2  # one failed try, one purchase
    assert len(await deliveries(api, f"/api/integrations/{integration['id']}")) == 1


async def test_an_endless_answer_is_read_only_as_far_as_the_log_shows(app, api, shop) -> None:
    """A receiver that answers 500 with a body that never ends: the try ends, the log keeps its start."""
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 500 Oops\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            while True:
                writer.write(b"1000\r\n" + b"x" * 4096 + b"\r\n")
                await writer.drain()

    server = await asyncio.start_server(endless, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        hook = await new_webhook(api, f"http://127.0.0.1:{port}/hooks")
        await shop.order()
        async with asyncio.timeout(5):
            await app.state.outbound_sender.run_once()
    finally:
        server.close()
    [log] = await deliveries(api, f"/api/webhooks/{hook['id']}")
    assert log["last_status_code"] == 500 and log["last_error"] == "answered 500: " + "x" * 200


async def test_the_taps_own_ad_click_ids_go_to_meta_and_tiktok(app, api, shop, receiver) -> None:
    """A click that carried fbclid and ttclid on the short URL: the order needs no landing URL."""
    await new_integration(api, kind="meta", pixel_id="1234567890", access_token="EAAtoken")
    await new_integration(api, kind="tiktok", pixel_code="CTEST123ABC", access_token="tt-token")
    click_id, clicked_at = await add_click(app, shop.link)
    async with app.state.sessionmaker() as session:
        click = await session.get(Click, click_id)
        click.ad_click_ids = {"fbclid": "IwAR-from-the-tap", "ttclid": "E.C.P.tap"}
        await session.commit()
    body = {"order_id": "AD-1", "amount": "5.00", "currency": "EUR", "click_id": click_id,
            "created_at": datetime.now(timezone.utc).isoformat()}
    assert (await deliver(shop.client, shop.source, dumps(body))).status_code == 200
    await drain(app.state.outbound_sender, lambda: _all_settled(app, 2))
    sent = {r.path: r.json()["data"][0] for r in receiver.requests}
    assert sent["/v21.0/1234567890/events"]["user_data"]["fbc"] == f"fb.1.{int(clicked_at.timestamp() * 1000)}.IwAR-from-the-tap"
    assert sent["/open_api/v1.3/event/track/"]["user"]["ttclid"] == "E.C.P.tap"
