"""Erasing a customer (API.md, Data lifecycle): `clicktrail customer erase --ref` and
`POST /api/customers/erase` remove what links the customer to clicks and detach their orders,
which stay sales with their credit; the log does not name them."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from clicktrail.clicks.models import CustomerClick
from clicktrail.conversions.models import Order
from clicktrail.outbound.models import OrderSignals

from test_conversions import add_click, deliver, generic_body, new_campaign, new_source, orders

NOW = datetime.now(timezone.utc)
BUYER, OTHER = "buyer@example.org", "other@example.org"


async def _identified_customer(app, api, client) -> tuple[dict, dict, str]:
    """A buyer identified with two clicks whose order is credited to them, and another customer."""
    campaign = await new_campaign(api)
    first = await add_click(app, campaign["links"][0], NOW - timedelta(hours=3))
    second = await add_click(app, campaign["links"][1], NOW - timedelta(hours=2))
    theirs = await add_click(app, campaign["links"][0], NOW - timedelta(hours=1))
    for click_id, ref in ((first, BUYER), (second, BUYER), (theirs, OTHER)):
        assert (await api.post("/api/identify", json={"click_id": click_id, "customer_ref": ref})).status_code == 204
    source = await new_source(api, "generic")
    credited = await deliver(client, source, generic_body(None, order_id="A-1", customer_ref=BUYER))
    assert credited.json()["attribution"]["method"] == "customer"
    return source, credited.json(), second


async def _hashes(app) -> tuple[int, int]:
    async with app.state.sessionmaker() as session:
        links = await session.scalar(select(func.count()).select_from(CustomerClick))
        with_customer = await session.scalar(select(func.count()).select_from(Order).where(Order.customer_hash.is_not(None)))
    return links, with_customer


async def test_erasing_a_customer_unlinks_their_clicks_and_keeps_their_orders(app, api, client, caplog) -> None:
    source, credited, _second = await _identified_customer(app, api, client)
    assert await _hashes(app) == (3, 1)
    async with app.state.sessionmaker() as session:  # what a shop passed for the ad platforms
        session.add(OrderSignals(workspace_id=1, order_id=credited["order_id"], values='{"customer_id": "207119551"}'))
        await session.commit()

    with caplog.at_level(logging.INFO, logger="clicktrail"):
        # the same email as given before, written otherwise: emails are compared without case
        response = await api.post("/api/customers/erase", json={"customer_ref": "  Buyer@Example.ORG "})
    assert response.status_code == 200, response.text
    assert response.json() == {"identify_links_removed": 2, "orders_detached": 1}
    assert await _hashes(app) == (1, 0)  # the other customer's identify link stays
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(OrderSignals)) == 0
    assert "erased a customer" in caplog.text
    assert "buyer" not in caplog.text.lower()

    [order] = await orders(api)
    assert order["attribution"] == credited["attribution"]  # still a sale of that link
    # a later order of theirs is no longer credited through them
    later = await deliver(client, source, generic_body(None, order_id="A-2", customer_ref=BUYER))
    assert later.json()["attribution"]["method"] is None
    again = await api.post("/api/customers/erase", json={"customer_ref": BUYER})
    assert again.json() == {"identify_links_removed": 0, "orders_detached": 1}  # A-2's hash, made just now


async def test_erase_needs_a_key_and_a_reference(app, api, client) -> None:
    await _identified_customer(app, api, client)
    assert (await client.post("/api/customers/erase", json={"customer_ref": BUYER})).status_code == 401
    for body in ({}, {"customer_ref": ""}, {"customer_ref": BUYER, "extra": 1}, {"customer_ref": "x" * 321}):
        response = await api.post("/api/customers/erase", json=body)
        assert response.status_code == 422 and "detail" in response.json()
    assert await _hashes(app) == (3, 1)


async def test_the_cli_erases_a_customer(app, api, client, settings) -> None:
    await _identified_customer(app, api, client)
    env = {"CLICKTRAIL_DATABASE_URL": settings.resolved_database_url, "CLICKTRAIL_SECRET_KEY": settings.secret_key,
           "CLICKTRAIL_DATA_DIR": str(settings.data_dir), "PATH": os.environ.get("PATH", ""), "HOME": str(settings.data_dir)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clicktrail.cli", "customer", "erase", "--ref", "-",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(BUYER.encode() + b"\n"), 120)
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip().splitlines()[-1] == "erased: 2 identify links removed, 1 orders detached"
    assert BUYER not in out.decode() + err.decode()
    assert await _hashes(app) == (1, 0)
