"""Branded short domains (API.md "Branded short domains"): a workspace's own hosts, the same slug
on several domains, root and not-found redirects, nothing but short links on a branded host."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from contextlib import asynccontextmanager

import httpx
import pytest
import zxingcpp
from PIL import Image

from clicktrail.app import asgi_app, create_app
from clicktrail.auth import service as auth
from clicktrail.workspaces.service import create_workspace
from conftest import BASE_URL

BRAND, OTHER = "go.brand.test", "links.other.test"
WHATSAPP_PREVIEW = "WhatsApp/2.23.20.0 A"
CSV = {"content-type": "text/csv"}


def _on(app, host: str, **headers: str) -> httpx.AsyncClient:
    """A client whose requests carry `Host: <host>` (as a browser on that domain sends them)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(app)), base_url=f"http://{host}",
                             headers=headers)


async def _domain(api: httpx.AsyncClient, host: str, **fields) -> dict:
    response = await api.post("/api/domains", json={"host": host, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def _link(api: httpx.AsyncClient, destination: str, **fields) -> dict:
    response = await api.post("/api/links", json={"destination_url": destination, "channel": "sms", **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def _second_workspace(app) -> str:
    async with app.state.sessionmaker() as session:
        workspace = await create_workspace(session, "Other agency")
        _key, plain = await auth.create_api_key(session, "other", workspace_id=workspace.id)
        await session.commit()
    return plain


async def test_the_same_slug_lives_on_each_domain_and_each_host_answers_with_its_own(app, api, client) -> None:
    brand = await _domain(api, "Go.Brand.Test.", root_redirect="https://brand.test/",
                          not_found_redirect="https://brand.test/oops")
    assert (brand["host"], brand["root_redirect"], brand["not_found_redirect"]) == (
        BRAND, "https://brand.test/", "https://brand.test/oops")
    async with _on(app, "Links.Other.Test:8080") as later:
        assert (await later.get("/docs")).status_code == 200  # not a branded host (yet): the default domain
        other = await _domain(api, OTHER)
        assert (await later.get("/docs")).status_code == 404  # now it is, whatever the case and port

    default = await _link(api, "https://shop.example/default")
    on_brand = await _link(api, "https://shop.example/brand", slug="spring", domain=BRAND)
    on_other = await _link(api, "https://shop.example/other", slug="spring", domain=OTHER.upper())
    on_default = await _link(api, "https://shop.example/default-spring", slug="spring", domain="ct.test")
    assert on_brand["short_url"] == f"http://{BRAND}/spring" and on_brand["domain"] == BRAND
    assert on_other["short_url"] == f"http://{OTHER}/spring" and on_other["domain"] == OTHER
    assert on_default["short_url"] == f"{BASE_URL}/spring" and on_default["domain"] == "ct.test"
    assert default["domain"] == "ct.test"
    again = await api.post("/api/links", json={"destination_url": "https://x.example/", "channel": "sms",
                                               "slug": "spring", "domain": BRAND})
    assert again.status_code == 409
    stranger = await api.post("/api/links", json={"destination_url": "https://x.example/", "channel": "sms",
                                                  "domain": "nobody.test"})
    assert stranger.status_code == 422 and stranger.json()["detail"][0]["loc"] == ["body", "domain"]

    hashid = await _link(api, "https://shop.example/hashid", domain=BRAND)
    async with _on(app, BRAND) as b, _on(app, OTHER) as o, _on(app, "GO.BRAND.TEST:8443") as b_port:
        assert (await b.get("/spring")).headers["location"].startswith("https://shop.example/brand?")
        assert (await b_port.get("/spring")).headers["location"].startswith("https://shop.example/brand?")
        assert (await o.get("/spring")).headers["location"].startswith("https://shop.example/other?")
        assert (await client.get("/spring")).headers["location"].startswith("https://shop.example/default-spring?")
        # A hashids code leads somewhere on its own link's domain only.
        assert (await b.get(f"/{hashid['code']}")).headers["location"].startswith("https://shop.example/hashid?")
        assert (await client.get(f"/{hashid['code']}")).status_code == 404
        assert (await o.get(f"/{hashid['code']}")).status_code == 404
        assert (await b.get(f"/{default['code']}")).headers["location"] == "https://brand.test/oops"
        # The root and unknown codes: the domain's redirects, else the 404 page.
        root = await b.get("/")
        assert root.status_code == 302 and root.headers["location"] == "https://brand.test/"
        missing = await b.get("/nosuchcode")
        assert missing.status_code == 302 and missing.headers["location"] == "https://brand.test/oops"
        assert (await o.get("/")).status_code == 404
        bare = await o.get("/nosuchcode")
        assert bare.status_code == 404 and "Link not found" in bare.text

        # No API, web app or docs on a branded host; all of them on the default one.
        key = {"authorization": api.headers["authorization"]}
        for path in ("/api/links", f"/api/links/{on_brand['id']}", "/docs", "/redoc", "/openapi.json",
                     "/login", "/setup", "/campaigns", "/settings", "/static/app.css", "/ct.js", "/links/import"):
            assert (await b.get(path, headers=key)).status_code == 404, path
        assert (await b.post("/api/links", json={"destination_url": "https://x.example/", "channel": "sms"},
                             headers=key)).status_code == 404
        assert (await b.get("/healthz")).json() == {"status": "ok"}
        for path in ("/api/links", "/docs", "/openapi.json", "/static/app.css"):
            assert (await api.get(path)).status_code == 200, path
        assert (await client.get("/login")).status_code in (200, 303)

        # Changes of a domain are seen by the redirect at once.
        changed = await api.patch(f"/api/domains/{other['id']}", json={"not_found_redirect": "https://other.test/"})
        assert changed.status_code == 200 and changed.json()["not_found_redirect"] == "https://other.test/"
        assert (await o.get("/nosuchcode")).headers["location"] == "https://other.test/"
        assert (await api.patch(f"/api/domains/{other['id']}", json={"host": "x.test"})).status_code == 422
        cleared = await api.patch(f"/api/domains/{brand['id']}", json={"root_redirect": None})
        assert cleared.json()["root_redirect"] is None and (await b.get("/")).status_code == 404


async def test_campaigns_qr_codes_cards_imports_and_exports_use_the_links_domain(app, api) -> None:
    await _domain(api, BRAND)
    campaign = (await api.post("/api/campaigns", json={
        "name": "Spring", "destination_url": "https://shop.example/", "channels": ["qr", "sms"], "domain": BRAND})).json()
    assert campaign["domain"] == BRAND
    assert {l["short_url"].rsplit("/", 1)[0] for l in campaign["links"]} == {f"http://{BRAND}"}
    later = await _link(api, "https://shop.example/later", campaign_id=campaign["id"])
    assert later["domain"] == BRAND  # the campaign's, as it names none of its own
    own = await _link(api, "https://shop.example/own", campaign_id=campaign["id"], domain="ct.test")
    assert own["short_url"].startswith(f"{BASE_URL}/")
    referral = (await api.post(f"/api/campaigns/{campaign['id']}/referrals", json={"referrer": "ann"})).json()
    assert referral["items"][0]["domain"] == BRAND
    assert (await api.post("/api/campaigns", json={"name": "X", "destination_url": "https://shop.example/",
                                                   "domain": "elsewhere.test"})).status_code == 422

    qr = campaign["links"][0]
    png = await api.get(f"/api/links/{qr['id']}/qr", params={"format": "png"})
    assert [d.text for d in zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))] == [f"{qr['short_url']}?qr=1"]

    card = await _link(api, "https://shop.example/card", domain=BRAND, preview={"title": "Spring sale"})
    image = io.BytesIO()
    Image.new("RGB", (1200, 630), "green").save(image, "PNG")
    uploaded = await api.put(f"/api/links/{card['id']}/preview-image", content=image.getvalue(),
                             headers={"content-type": "image/png"})
    assert uploaded.json()["preview"]["image_url"].startswith(f"http://{BRAND}/{card['code']}/preview.jpg?v=")
    async with _on(app, BRAND) as b:
        page = await b.get(f"/{card['code']}", headers={"user-agent": WHATSAPP_PREVIEW})
        assert page.status_code == 200 and f'content="http://{BRAND}/{card["code"]}"' in page.text
        assert (await b.get(f"/{card['code']}/preview.jpg")).headers["content-type"] == "image/jpeg"
    assert (await api.get(f"/{card['code']}/preview.jpg")).status_code == 404  # not on the default domain

    # An import onto a domain: its codes are checked there, and lead somewhere there only.
    body = "code,destination_url\nspring-sale,https://shop.example/a\nsummer,https://shop.example/b\n"
    made = await api.post("/api/links/import", params={"format": "clicktrail", "domain": BRAND}, content=body, headers=CSV)
    assert made.status_code == 201, made.text
    assert {l["short_url"] for l in made.json()["items"]} == {f"http://{BRAND}/spring-sale", f"http://{BRAND}/summer"}
    twice = await api.post("/api/links/import", params={"format": "clicktrail", "domain": BRAND}, content=body, headers=CSV)
    assert twice.status_code == 422 and "taken" in twice.json()["detail"][0]["msg"]
    assert (await api.post("/api/links/import", params={"format": "clicktrail"}, content=body, headers=CSV)).status_code == 201
    refused = await api.post("/api/links/import", params={"format": "clicktrail", "domain": "nobody.test"},
                             content="code,destination_url\nx1,https://shop.example/\n", headers=CSV)
    assert refused.status_code == 422
    async with _on(app, BRAND) as b:
        assert (await b.get("/summer")).headers["location"].startswith("https://shop.example/b?")

    rows = list(csv.DictReader(io.StringIO((await api.get("/api/links/export")).text)))
    by_url = {r["short_url"]: r["domain"] for r in rows}
    assert by_url[f"http://{BRAND}/summer"] == BRAND and by_url[f"{BASE_URL}/summer"] == "ct.test"


async def test_a_host_is_one_workspaces_and_a_used_domain_stays(app, api, client) -> None:
    for bad in ("https://go.brand.test", "go.brand.test:8080", "go.brand.test/x", "localhost", "203.0.113.9",
                "ct.test", "CT.TEST", "no spaces.test", "bad_.-host.test", ""):
        assert (await api.post("/api/domains", json={"host": bad})).status_code == 422, bad
    for field, url in (("root_redirect", "ftp://brand.test/"), ("not_found_redirect", "brand.test/oops"),
                       ("not_found_redirect", f"https://{BRAND}/again")):
        assert (await api.post("/api/domains", json={"host": BRAND, field: url})).status_code == 422, url
    brand = await _domain(api, BRAND)
    assert (await api.post("/api/domains", json={"host": BRAND})).status_code == 409
    spare = await _domain(api, "spare.brand.test")
    listed = (await api.get("/api/domains", params={"limit": 1})).json()
    rest = (await api.get("/api/domains", params={"limit": 1, "cursor": listed["next_cursor"]})).json()
    assert [d["host"] for d in listed["items"] + rest["items"]] == [BRAND, "spare.brand.test"]

    theirs = {"authorization": f"Bearer {await _second_workspace(app)}"}
    claimed = await api.post("/api/domains", json={"host": BRAND.upper()}, headers=theirs)
    assert claimed.status_code == 409 and "detail" in claimed.json()
    assert (await api.get(f"/api/domains/{brand['id']}", headers=theirs)).status_code == 404
    assert (await api.patch(f"/api/domains/{brand['id']}", json={"root_redirect": "https://evil.test/"},
                            headers=theirs)).status_code == 404
    assert (await api.delete(f"/api/domains/{brand['id']}", headers=theirs)).status_code == 404
    assert (await api.get("/api/domains", headers=theirs)).json()["items"] == []
    assert (await api.get(f"/api/domains/{brand['id']}")).json()["root_redirect"] is None
    # Nor may its links go on our domain; the default domain is shared, so its slugs are too.
    assert (await api.post("/api/links", headers=theirs, json={
        "destination_url": "https://x.example/", "channel": "sms", "domain": BRAND})).status_code == 422
    await _link(api, "https://shop.example/ours", slug="shared")
    assert (await api.post("/api/links", headers=theirs, json={
        "destination_url": "https://x.example/", "channel": "sms", "slug": "shared"})).status_code == 409
    their_domain = (await api.post("/api/domains", json={"host": "their.test"}, headers=theirs)).json()
    assert (await api.post("/api/links", headers=theirs, json={
        "destination_url": "https://x.example/theirs", "channel": "sms", "slug": "shared",
        "domain": "their.test"})).status_code == 201
    async with _on(app, "their.test") as t:
        assert (await t.get("/shared")).headers["location"].startswith("https://x.example/theirs?")
    assert (await client.get("/shared")).headers["location"].startswith("https://shop.example/ours?")

    # A read key reads, never writes.
    async with app.state.sessionmaker() as session:
        _key, reader = await auth.create_api_key(session, "reader", scope="read", workspace_id=1)
        await session.commit()
    read = {"authorization": f"Bearer {reader}"}
    assert (await api.get("/api/domains", headers=read)).status_code == 200
    assert (await api.post("/api/domains", json={"host": "read.test"}, headers=read)).status_code == 403

    link = await _link(api, "https://shop.example/brand", domain=BRAND)
    assert (await api.delete(f"/api/domains/{brand['id']}")).status_code == 409
    async with _on(app, BRAND) as b:
        await b.get(f"/{link['code']}")  # clicked: deleting the link only disables it, so it still uses the domain
    await app.state.recorder.flush()
    assert (await api.delete(f"/api/links/{link['id']}")).json()["disabled"] is True
    assert (await api.delete(f"/api/domains/{brand['id']}")).status_code == 409
    campaign = (await api.post("/api/campaigns", json={"name": "S", "destination_url": "https://shop.example/",
                                                       "domain": "spare.brand.test"})).json()
    assert (await api.delete(f"/api/domains/{spare['id']}")).status_code == 409
    assert (await api.delete(f"/api/campaigns/{campaign['id']}")).status_code == 204
    assert (await api.delete(f"/api/domains/{spare['id']}")).status_code == 204
    assert (await api.get(f"/api/domains/{spare['id']}")).status_code == 404
    # A removed domain's host is the default domain again; another workspace may claim it now.
    async with _on(app, "spare.brand.test") as s:
        assert (await s.get("/docs")).status_code == 200
    assert (await api.post("/api/domains", json={"host": "spare.brand.test"}, headers=theirs)).status_code == 201


@asynccontextmanager
async def _worker(settings):
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.mark.postgres_only
async def test_domain_and_link_writes_in_one_worker_reach_the_redirect_of_another(settings) -> None:
    slow = settings.model_copy(update={"link_cache_ttl": 600})
    async with _worker(slow) as writer, _worker(slow) as reader:
        async with writer.state.sessionmaker() as session:
            _key, plain = await auth.create_api_key(session, "t")
            await session.commit()
        api = httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(writer)), base_url=BASE_URL,
                                headers={"authorization": f"Bearer {plain}"})
        async with api, _on(reader, BRAND) as r, _on(reader, "ct.test") as r_default:
            await asyncio.sleep(0.5)  # the reader's LISTEN connection is up

            async def seen(path: str, client: httpx.AsyncClient, starts: str) -> None:
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline:
                    if (await client.get(path)).headers.get("location", "").startswith(starts):
                        return
                    await asyncio.sleep(0.05)
                pytest.fail(f"the other worker never sent {path} to {starts}")

            assert (await r.get("/promo")).status_code == 404  # cached as unknown, on the default domain
            brand = await _domain(api, BRAND, root_redirect="https://brand.test/", not_found_redirect="https://brand.test/404")
            await seen("/", r, "https://brand.test/")
            await seen("/promo", r, "https://brand.test/404")  # unknown there, and cached so for 10 minutes
            await _link(api, "https://shop.example/default-promo", slug="promo")
            link = await _link(api, "https://shop.example/a", slug="promo", domain=BRAND)
            await seen("/promo", r, "https://shop.example/a?")
            await seen("/promo", r_default, "https://shop.example/default-promo?")
            await api.patch(f"/api/links/{link['id']}", json={"destination_url": "https://shop.example/b"})
            await seen("/promo", r, "https://shop.example/b?")
            assert (await r.get("/fresh")).headers["location"] == "https://brand.test/404"
            await api.post("/api/links/import", params={"format": "clicktrail", "domain": BRAND},
                           content="code,destination_url\nfresh,https://shop.example/fresh\n", headers=CSV)
            await seen("/fresh", r, "https://shop.example/fresh?")
            await api.patch(f"/api/domains/{brand['id']}", json={"root_redirect": "https://brand.test/new"})
            await seen("/", r, "https://brand.test/new")
            assert (await r_default.get("/promo")).headers["location"].startswith("https://shop.example/default-promo?")
