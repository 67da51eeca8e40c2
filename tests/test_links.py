"""Campaigns, per-channel links, codes, referral links and QR codes (API.md: Campaigns and links)."""

from __future__ import annotations

import io
import random
import string
import xml.etree.ElementTree as ET

import httpx
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from clicktrail.links.models import Campaign, Link
from clicktrail.workspaces import tenancy
from conftest import BASE_URL

SHOP = "https://shop.example/products/red-shoes"


async def _counts(app) -> tuple[int, int]:
    async with app.state.sessionmaker() as session:
        campaigns = await session.scalar(select(func.count()).select_from(Campaign))
        links = await session.scalar(select(func.count()).select_from(Link))
    return campaigns, links


async def _campaign(api: httpx.AsyncClient, **extra) -> dict:
    body = {"name": "Summer Sale", "destination_url": SHOP, "channels": ["whatsapp"], **extra}
    response = await api.post("/api/campaigns", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_campaign_makes_one_tagged_link_per_channel(api: httpx.AsyncClient) -> None:
    channels = ["whatsapp", "messenger", "telegram", "sms", "email"]
    campaign = await _campaign(api, channels=channels)
    assert campaign["slug"] == "summer-sale"
    links = campaign["links"]
    assert [l["channel"] for l in links] == channels
    assert len({l["code"] for l in links}) == 5
    medium = {"whatsapp": "social", "messenger": "social", "telegram": "social", "sms": "sms", "email": "email"}
    for link in links:
        assert link["short_url"] == f"{BASE_URL}/{link['code']}"
        assert len(link["code"]) >= 6
        assert link["destination_url"] == SHOP
        assert link["campaign_id"] == campaign["id"]
        assert link["utm"] == {
            "source": link["channel"],
            "medium": medium[link["channel"]],
            "campaign": "summer-sale",
            "content": link["code"],
        }
    fetched = (await api.get(f"/api/campaigns/{campaign['id']}")).json()
    assert fetched["links"] == links
    listed = (await api.get("/api/campaigns")).json()
    assert [c["id"] for c in listed["items"]] == [campaign["id"]]


async def test_utm_medium_and_slug_of_a_campaign_are_used(api: httpx.AsyncClient) -> None:
    campaign = await _campaign(api, channels=["instagram", "email"], utm_medium="dm", slug="black-friday")
    assert {l["utm"]["medium"] for l in campaign["links"]} == {"dm"}
    assert {l["utm"]["campaign"] for l in campaign["links"]} == {"black-friday"}
    second = await _campaign(api, name="Summer Sale")
    third = await _campaign(api, name="Summer Sale")
    assert (second["slug"], third["slug"]) == ("summer-sale", "summer-sale-2")


async def test_a_link_can_override_every_tag(api: httpx.AsyncClient) -> None:
    campaign = await _campaign(api)
    response = await api.post("/api/links", json={
        "channel": "telegram", "campaign_id": campaign["id"], "utm_source": "tg-channel",
        "utm_medium": "chat", "utm_campaign": "c", "utm_content": "hero", "utm_term": "shoes",
        "max_clicks": 10, "expires_at": "2030-01-01T00:00:00Z", "slug": "red-shoes",
    })
    assert response.status_code == 201, response.text
    link = response.json()
    assert link["destination_url"] == SHOP  # the campaign's, when the link names none
    assert link["code"] == "red-shoes" and link["short_url"] == f"{BASE_URL}/red-shoes"
    assert link["utm"] == {"source": "tg-channel", "medium": "chat", "campaign": "c", "content": "hero", "term": "shoes"}
    assert link["max_clicks"] == 10 and link["expires_at"].startswith("2030-01-01T00:00:00")


async def test_codes_are_distinct_and_cannot_be_forged(app, api: httpx.AsyncClient) -> None:
    rows = [{"referrer": f"customer {i}"} for i in range(1000)]
    campaign = await _campaign(api, channels=[])
    response = await api.post(f"/api/campaigns/{campaign['id']}/referrals", json=rows)
    assert response.status_code == 201, response.text
    links = response.json()["items"]
    codes = [l["code"] for l in links]
    assert len(set(codes)) == 1000

    from clicktrail.links.service import get_link  # noqa: F401  (the lookup under test lives in redirect)
    from clicktrail.redirect.lookup import find_link_by_code

    codec = app.state.link_context.codec
    rng = random.Random(7)
    async with app.state.sessionmaker() as session:
        for link in rng.sample(links, 50):
            code = link["code"]
            assert (await find_link_by_code(session, codec, code)).id == link["id"]
            for pos in range(len(code)):
                for replacement in rng.sample(string.ascii_letters + string.digits, 3):
                    if replacement == code[pos]:
                        continue
                    forged = code[:pos] + replacement + code[pos + 1:]
                    found = await find_link_by_code(session, codec, forged)
                    assert found is None or found.id != link["id"], forged
            stored = await session.get(Link, link["id"])
            wrong_nonce = codec.encode(stored.id, (stored.nonce + 1) % (1 << 24))
            assert await find_link_by_code(session, codec, wrong_nonce) is None
    # and over HTTP once the redirect is mounted: a forged code is a 404
    forged = codes[0][:-1] + ("a" if codes[0][-1] != "a" else "b")
    assert (await api.get(f"/{forged}")).status_code == 404


BAD_DESTINATIONS = [
    "javascript:alert(1)",
    "ftp://x",
    "http://user:pw@host/",
    "/relative/path",
    "https://shop.example/" + "a" * 3000,
    "https://shop.example/a\nb",
    "https://",
    "http://shop.example:99999/",
]


@pytest.mark.parametrize("url", BAD_DESTINATIONS)
async def test_bad_destinations_are_refused_and_nothing_is_stored(app, api, url: str) -> None:
    before = await _counts(app)
    campaign = await api.post("/api/campaigns", json={"name": "x", "destination_url": url, "channels": ["sms"]})
    link = await api.post("/api/links", json={"destination_url": url, "channel": "sms"})
    assert (campaign.status_code, link.status_code) == (422, 422)
    assert "detail" in campaign.json() and "detail" in link.json()
    assert await _counts(app) == before


async def test_destination_host_allow_list(settings, app, api) -> None:
    # CLICKTRAIL_ALLOWED_DESTINATION_HOSTS: what a workspace without its own list uses.
    app.state.settings.allowed_destination_hosts = ["shop.example"]
    ok = await api.post("/api/links", json={"destination_url": "https://www.shop.example/x", "channel": "sms"})
    assert ok.status_code == 201
    refused = await api.post("/api/links", json={"destination_url": "https://evil.example/login", "channel": "sms"})
    assert refused.status_code == 422
    assert "evil.example is not in the allowed" in refused.json()["detail"][0]["msg"]
    looping = await api.post("/api/links", json={"destination_url": f"{BASE_URL}/abc", "channel": "sms"})
    assert looping.status_code == 422


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"destination_url": SHOP, "channel": "myspace"}, 422),
        ({"destination_url": SHOP, "channel": "sms", "slug": "api"}, 422),
        ({"destination_url": SHOP, "channel": "sms", "slug": "Webhooks"}, 422),
        ({"destination_url": SHOP, "channel": "sms", "slug": "no spaces"}, 422),
        ({"destination_url": SHOP, "channel": "sms", "slug": "ab"}, 422),
        ({"destination_url": SHOP, "channel": "sms", "max_clicks": 0}, 422),
        ({"destination_url": SHOP, "channel": "sms", "color": "red"}, 422),
        ({"channel": "sms"}, 422),
        ({"destination_url": SHOP, "channel": "sms", "campaign_id": 999}, 404),
    ],
)
async def test_bad_link_input_is_refused(app, api, body, status) -> None:
    before = await _counts(app)
    response = await api.post("/api/links", json=body)
    assert response.status_code == status, response.text
    assert "detail" in response.json()
    assert await _counts(app) == before


async def test_duplicate_slug_and_coupon_are_conflicts(app, api) -> None:
    campaign = await _campaign(api)
    assert (await api.post("/api/links", json={"destination_url": SHOP, "channel": "sms", "slug": "promo"})).status_code == 201
    ref = await api.post(f"/api/campaigns/{campaign['id']}/referrals", json={"referrer": "Ana", "coupon_code": "ana10"})
    assert ref.status_code == 201
    assert ref.json()["items"][0]["coupon_code"] == "ANA10"
    before = await _counts(app)
    dup_slug = await api.post("/api/links", json={"destination_url": SHOP, "channel": "sms", "slug": "promo"})
    dup_coupon = await api.post(f"/api/campaigns/{campaign['id']}/referrals", json={"referrer": "Bo", "coupon_code": "ANA10"})
    dup_in_link = await api.post("/api/links", json={"channel": "sms", "campaign_id": campaign["id"], "coupon_code": "Ana10"})
    dup_campaign_slug = await api.post("/api/campaigns", json={"name": "y", "destination_url": SHOP, "slug": campaign["slug"]})
    assert [r.status_code for r in (dup_slug, dup_coupon, dup_in_link, dup_campaign_slug)] == [409, 409, 409, 409]
    assert await _counts(app) == before
    # the same coupon in another campaign is fine
    other = await _campaign(api, name="Other")
    again = await api.post(f"/api/campaigns/{other['id']}/referrals", json={"referrer": "Cy", "coupon_code": "ANA10"})
    assert again.status_code == 201


async def test_referral_batches_are_all_or_nothing(app, api) -> None:
    campaign = await _campaign(api, channels=[])
    good = [{"referrer": f"friend {i}", "coupon_code": f"F{i}"} for i in range(5)]
    before = await _counts(app)
    bad_row = await api.post(f"/api/campaigns/{campaign['id']}/referrals", json=[*good, {"referrer": ""}])
    bad_channel = await api.post(f"/api/campaigns/{campaign['id']}/referrals", json=[*good, {"referrer": "x", "channel": "fax"}])
    dup_in_batch = await api.post(f"/api/campaigns/{campaign['id']}/referrals", json=[*good, {"referrer": "x", "coupon_code": "f1"}])
    too_many = await api.post(f"/api/campaigns/{campaign['id']}/referrals", json=[{"referrer": "x"}] * 1001)
    assert [r.status_code for r in (bad_row, bad_channel, dup_in_batch, too_many)] == [422, 422, 409, 422]
    assert await _counts(app) == before
    made = await api.post(f"/api/campaigns/{campaign['id']}/referrals", json=good)
    items = made.json()["items"]
    assert [(l["referrer"], l["coupon_code"], l["channel"]) for l in items] == [
        (f"friend {i}", f"F{i}", "other") for i in range(5)
    ]
    assert all(l["utm"]["source"] == "other" and l["utm"]["content"] == l["code"] for l in items)


async def test_list_filters_and_pages(api) -> None:
    campaign = await _campaign(api, channels=["whatsapp", "sms", "email"])
    await _campaign(api, name="Other", channels=["whatsapp"])
    only = (await api.get("/api/links", params={"campaign_id": campaign["id"], "channel": "sms"})).json()
    assert [l["channel"] for l in only["items"]] == ["sms"]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/links", params=params)).json()
        seen += [l["id"] for l in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 4
    assert (await api.get("/api/links", params={"limit": 501})).status_code == 422
    assert (await api.get("/api/links", params={"cursor": "!!!"})).status_code == 422


async def test_update_and_delete(app, api) -> None:
    campaign = await _campaign(api, channels=["sms", "email"])
    sms, email = campaign["links"]
    patched = await api.patch(f"/api/links/{sms['id']}", json={
        "destination_url": "https://shop.example/new", "utm_term": "x", "max_clicks": 3, "disabled": True,
    })
    assert patched.status_code == 200
    body = patched.json()
    assert (body["destination_url"], body["utm"]["term"], body["max_clicks"], body["disabled"]) == (
        "https://shop.example/new", "x", 3, True)
    assert (await api.patch(f"/api/links/{sms['id']}", json={"destination_url": "javascript:x"})).status_code == 422
    assert (await api.get(f"/api/links/{sms['id']}")).json()["destination_url"] == "https://shop.example/new"
    cleared = await api.patch(f"/api/links/{sms['id']}", json={"utm_term": None, "max_clicks": None})
    assert "term" not in cleared.json()["utm"] and cleared.json()["max_clicks"] is None

    # a link nobody clicked is erased
    assert (await api.delete(f"/api/links/{email['id']}")).status_code == 204
    assert (await api.get(f"/api/links/{email['id']}")).status_code == 404
    # a link with clicks is only disabled
    async with app.state.sessionmaker() as session:
        link = await session.get(Link, sms["id"])
        link.click_count = 1
        link.disabled = False
        await session.commit()
    kept = await api.delete(f"/api/links/{sms['id']}")
    assert kept.status_code == 200 and kept.json()["disabled"] is True
    assert (await api.get(f"/api/links/{sms['id']}")).json()["disabled"] is True
    assert (await api.delete("/api/links/99999")).status_code == 404


async def test_qr_codes_decode_to_the_short_url(api) -> None:
    campaign = await _campaign(api, channels=["qr"])
    link = campaign["links"][0]
    expected = f"{link['short_url']}?qr=1"

    png = await api.get(f"/api/links/{link['id']}/qr", params={"format": "png"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert [d.text for d in decoded] == [expected]

    svg = await api.get(f"/api/links/{link['id']}/qr", params={"format": "svg", "download": "true"})
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "attachment" in svg.headers["content-disposition"]
    root = ET.fromstring(svg.content)
    assert root.tag.endswith("svg")
    # The SVG draws the same module matrix as the PNG that decoded to the short URL.
    import segno
    expected_qr = segno.make(expected, error="m", micro=False)
    assert svg.content == _svg_of(expected_qr)
    assert (await api.get(f"/api/links/{link['id']}/qr", params={"format": "gif"})).status_code == 422
    assert (await api.get("/api/links/424242/qr")).status_code == 404


def _svg_of(qr) -> bytes:
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=8, border=4)
    return buffer.getvalue()


# --- managing campaigns (API.md: Numbers) -------------------------------------------------------

async def test_rename_move_and_archive_a_campaign(app, api: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    campaign = await _campaign(api, channels=["whatsapp", "sms"])
    wa, sms = campaign["links"]
    own = (await api.post("/api/links", json={"campaign_id": campaign["id"], "channel": "email",
                                              "destination_url": "https://shop.example/elsewhere"})).json()
    assert (await client.get(f"/{wa['code']}")).headers["location"].startswith(SHOP)  # cached now

    moved = await api.patch(f"/api/campaigns/{campaign['id']}", json={
        "name": "  Winter Sale ", "destination_url": "https://shop.example/winter"})
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["name"], body["slug"], body["destination_url"]) == ("Winter Sale", "summer-sale", "https://shop.example/winter")
    destinations = {l["id"]: l["destination_url"] for l in body["links"]}
    # Links that used the campaign's destination follow it; one sent elsewhere on purpose stays.
    assert destinations == {wa["id"]: "https://shop.example/winter", sms["id"]: "https://shop.example/winter",
                            own["id"]: "https://shop.example/elsewhere"}
    assert (await client.get(f"/{wa['code']}")).headers["location"].startswith("https://shop.example/winter?")

    archived = (await api.patch(f"/api/campaigns/{campaign['id']}", json={"archived": True})).json()
    assert archived["archived"] is True and archived["archived_at"]
    assert (await client.get(f"/{sms['code']}")).status_code == 302  # its links keep working
    other = await _campaign(api, name="Spring")
    listed = lambda query="": api.get(f"/api/campaigns{query}")  # noqa: E731
    assert [c["id"] for c in (await listed("?archived=false")).json()["items"]] == [other["id"]]
    assert [c["id"] for c in (await listed("?archived=true")).json()["items"]] == [campaign["id"]]
    assert len((await listed()).json()["items"]) == 2
    unarchived = (await api.patch(f"/api/campaigns/{campaign['id']}", json={"archived": False})).json()
    assert unarchived["archived"] is False and unarchived["archived_at"] is None

    for bad in ({"name": ""}, {"name": None}, {"destination_url": "javascript:alert(1)"}, {"archived": "maybe"},
                {"slug": "new-slug"}):
        refused = await api.patch(f"/api/campaigns/{campaign['id']}", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    assert (await api.get(f"/api/campaigns/{campaign['id']}")).json()["name"] == "Winter Sale"
    assert (await api.patch("/api/campaigns/999999", json={"name": "x"})).status_code == 404


async def test_delete_a_campaign_only_when_nothing_was_clicked(app, api: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    unused = await _campaign(api, name="Draft", channels=["whatsapp", "sms"])
    assert (await api.delete(f"/api/campaigns/{unused['id']}")).status_code == 204
    assert (await api.get(f"/api/campaigns/{unused['id']}")).status_code == 404
    assert (await client.get(f"/{unused['links'][0]['code']}")).status_code == 404
    assert await _counts(app) == (0, 0)

    used = await _campaign(api, name="Live")
    assert (await client.get(f"/{used['links'][0]['code']}")).status_code == 302
    await app.state.recorder.flush()
    refused = await api.delete(f"/api/campaigns/{used['id']}")
    assert refused.status_code == 409 and "archive" in refused.json()["detail"]
    assert await _counts(app) == (1, 1)
    assert (await api.delete("/api/campaigns/999999")).status_code == 404


async def test_search_sort_and_page_campaigns(app, api: httpx.AsyncClient) -> None:
    from clicktrail.conversions.models import Order, OrderSource
    from clicktrail.db import utcnow

    made = {name: await _campaign(api, name=name) for name in ("banana 50%_off", "Apple", "cherry", "Banana bread")}
    assert [c["name"] for c in (await api.get("/api/campaigns?q=BANANA")).json()["items"]] == ["Banana bread", "banana 50%_off"]
    assert [c["name"] for c in (await api.get("/api/campaigns?q=50%25_")).json()["items"]] == ["banana 50%_off"]
    assert (await api.get("/api/campaigns?q=%25")).json()["items"][0]["name"] == "banana 50%_off"  # a literal %
    by_name = (await api.get("/api/campaigns?sort=name&limit=3")).json()
    assert [c["name"] for c in by_name["items"]] == ["Apple", "banana 50%_off", "Banana bread"]
    rest = (await api.get(f"/api/campaigns?sort=name&limit=3&cursor={by_name['next_cursor']}")).json()
    assert [c["name"] for c in rest["items"]] == ["cherry"] and rest["next_cursor"] is None

    async with app.state.sessionmaker() as session:
        tenancy.enter(session, 1)  # the first workspace: the `api` fixture's key works in it
        source = OrderSource(name="Shop", platform="generic", secret="s")
        session.add(source)
        await session.flush()
        for n, (name, amount) in enumerate([("cherry", 9000), ("Apple", 500), ("cherry", 1000)]):
            campaign = made[name]
            session.add(Order(source_id=source.id, external_id=f"o{n}", amount_minor=amount, currency="EUR",
                              status="paid", ordered_at=utcnow(), attribution_state="attributed",
                              attribution_method="utm", link_id=campaign["links"][0]["id"],
                              campaign_id=campaign["id"], channel="whatsapp", raw_payload="{}"))
        await session.commit()
    by_revenue = (await api.get("/api/campaigns?sort=revenue")).json()["items"]
    assert [c["name"] for c in by_revenue][:2] == ["cherry", "Apple"]
    assert (await api.get("/api/campaigns?sort=clicks")).status_code == 422


async def test_links_take_a_label(api: httpx.AsyncClient) -> None:
    campaign = await _campaign(api)
    link = (await api.post("/api/links", json={"campaign_id": campaign["id"], "channel": "instagram",
                                               "label": " Anna's story "})).json()
    assert link["label"] == "Anna's story"
    assert campaign["links"][0]["label"] is None
    changed = (await api.patch(f"/api/links/{link['id']}", json={"label": "Flyer"})).json()
    assert changed["label"] == "Flyer"
    assert (await api.patch(f"/api/links/{link['id']}", json={"label": None})).json()["label"] is None
    assert (await api.patch(f"/api/links/{link['id']}", json={"label": "x" * 101})).status_code == 422
    [referral] = (await api.post(f"/api/campaigns/{campaign['id']}/referrals",
                                 json={"referrer": "Bo", "label": "newsletter"})).json()["items"]
    assert referral["label"] == "newsletter"


async def test_duplicate_a_campaign_with_its_channel_links_but_no_referrals_or_numbers(api, client) -> None:
    made = await api.post("/api/campaigns", json={"name": "Spring sale", "destination_url": "https://shop.example/spring",
                                                   "channels": ["whatsapp", "telegram"], "utm_medium": "chat"})
    assert made.status_code == 201, made.text
    original = made.json()
    whatsapp = next(l for l in original["links"] if l["channel"] == "whatsapp")
    assert (await api.patch(f"/api/links/{whatsapp['id']}", json={"label": "VIP group"})).status_code == 200
    referral = await api.post(f"/api/campaigns/{original['id']}/referrals", json={"referrer": "ana", "coupon_code": "ANA10"})
    assert referral.status_code == 201, referral.text
    assert (await client.get(f"/{whatsapp['code']}", headers={"User-Agent": "Mozilla/5.0 (iPhone) Mobile"})).status_code == 302

    copy = await api.post(f"/api/campaigns/{original['id']}/duplicate")
    assert copy.status_code == 201, copy.text
    dup = copy.json()
    assert dup["name"] == "Spring sale (copy)" and dup["slug"] != original["slug"] and dup["id"] != original["id"]
    assert dup["destination_url"] == original["destination_url"] and dup["utm_medium"] == "chat"
    assert sorted((l["channel"], l["label"]) for l in dup["links"]) == [("telegram", None), ("whatsapp", "VIP group")]
    for link in dup["links"]:
        assert link["clicks"] == 0 and link["coupon_code"] is None and link["referrer"] is None
        assert link["utm"]["campaign"] == dup["slug"] and link["utm"]["medium"] == "chat"
        assert link["code"] not in {l["code"] for l in original["links"]}
        tapped = await client.get(f"/{link['code']}")
        assert tapped.status_code == 302 and f"utm_campaign={dup['slug']}" in tapped.headers["location"]
    named = await api.post(f"/api/campaigns/{original['id']}/duplicate", json={"name": "Autumn sale"})
    assert named.status_code == 201 and named.json()["name"] == "Autumn sale"
    assert (await api.post("/api/campaigns/999999/duplicate")).status_code == 404
