"""Links in bulk (API.md: Preview cards and links in bulk): imports from each service's real
export format (tests/data/imports/SOURCES.md), all rows or none, exports, channel,label CSVs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from clicktrail.links.models import Link
from conftest import BASE_URL

DATA = Path(__file__).parent / "data" / "imports"
CSV = {"content-type": "text/csv"}


async def _count(app) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Link)))


async def _import(api: httpx.AsyncClient, fmt: str, body: bytes | str, **params) -> httpx.Response:
    return await api.post("/api/links/import", params={"format": fmt, **params}, content=body, headers=CSV)


@pytest.mark.parametrize(("fixture", "fmt", "expected"), [
    ("yourls_import_export_plugin.csv", "yourls", {"1": "https://shop.example/products/red-shoes?size=42",
                                                   "a2": "https://shop.example/blog/summer",
                                                   "spring-sale": "https://shop.example/search?q=shoes,boots"}),
    ("yourls_url_table.csv", "yourls", {"ozh": "https://shop.example/about", "b": "https://shop.example/cart",
                                        "gifts": "https://shop.example/gifts?utm_source=newsletter"}),
    ("bitly_links.csv", "bitly", {"RedShoes24": "https://shop.example/products/red-shoes",
                                  "sale-may": "https://shop.example/sale"}),
    ("bitly_dashboard.csv", "bitly", {"3xYz12A": "https://shop.example/products/blue-bag",
                                      "black-friday": "https://shop.example/black-friday"}),
    ("shlink_short_urls.csv", "shlink", {"abc12": "https://shop.example/products/green-hat",
                                         "newsletter-june": "https://shop.example/june?ref=nl"}),
])
async def test_each_services_export_imports_keeping_the_old_codes(api, client, fixture, fmt, expected) -> None:
    body = (DATA / fixture).read_bytes()
    if fixture == "bitly_links.csv":  # the row without a custom back-half has no code at all: named, not guessed
        response = await _import(api, fmt, body)
        assert response.status_code == 422 and [d["line"] for d in response.json()["detail"]] == [3]
        body = b"".join(l for i, l in enumerate(body.splitlines(keepends=True)) if i != 2)
    response = await _import(api, fmt, body, channel="email")
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["created"] == len(expected)
    assert {l["code"]: l["destination_url"] for l in result["items"]} == expected
    for link in result["items"]:
        assert link["short_url"] == f"{BASE_URL}/{link['code']}" and link["channel"] == "email"
        redirect = await client.get(f"/{link['code']}")
        assert redirect.status_code == 302 and redirect.headers["location"].startswith(link["destination_url"].split("?")[0])


async def test_a_bad_line_names_every_bad_line_and_stores_nothing(app, api) -> None:
    lines = (DATA / "shlink_short_urls.csv").read_text().splitlines()
    bad = "\n".join([
        lines[0], lines[1],
        "2024-06-03T00:00:00+00:00,s.shop.example,ftp1,https://s.shop.example/ftp1,ftp://files.example/x,,,0",
        "2024-06-03T00:00:00+00:00,s.shop.example,,https://s.shop.example/,https://shop.example/,,,0",
        lines[2],
        "2024-06-03T00:00:00+00:00,s.shop.example,api,https://s.shop.example/api,https://shop.example/,,,0",
        "2024-06-03T00:00:00+00:00,s.shop.example,abc12,https://s.shop.example/abc12,https://shop.example/again,,,0",
    ]) + "\n"
    response = await _import(api, "shlink", bad)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["line"] for d in detail] == [3, 4, 6, 7]
    assert "http" in detail[0]["msg"] and "code" in detail[1]["msg"] and "reserved" in detail[2]["msg"]
    assert "line 2" in detail[3]["msg"]
    assert await _count(app) == 0


async def test_a_code_taken_by_an_existing_link_is_a_clash_and_nothing_is_stored(app, api) -> None:
    made = await api.post("/api/links", json={"destination_url": "https://shop.example/x", "channel": "sms", "slug": "abc12"})
    assert made.status_code == 201
    response = await _import(api, "shlink", (DATA / "shlink_short_urls.csv").read_bytes())
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["line"] == 2 and "taken" in problem["msg"]
    assert await _count(app) == 1


async def test_the_wrong_format_domain_or_encoding_is_refused(app, api) -> None:
    shlink = (DATA / "shlink_short_urls.csv").read_bytes()
    wrong = await _import(api, "yourls", shlink)
    assert wrong.status_code == 422 and "source,target,hits" in wrong.json()["detail"][0]["msg"]
    other_domain = await _import(api, "shlink", shlink, domain="evil.example")
    assert other_domain.status_code == 422 and "ct.test" in other_domain.json()["detail"][0]["msg"]
    assert (await _import(api, "shlink", shlink, domain="CT.test")).status_code == 201
    nul = await _import(api, "yourls", b"keyword,url\nzz\x00,https://shop.example/\n")
    assert nul.status_code == 422 and "NUL" in nul.json()["detail"][0]["msg"]
    latin1 = "keyword,url\ncafé,https://shop.example/caf\u00e9\n".encode("latin-1")
    assert (await _import(api, "yourls", latin1)).status_code == 422
    assert (await _import(api, "bitly", b"")).status_code == 422
    assert (await api.post("/api/links/import", params={"format": "dub"}, content=shlink, headers=CSV)).status_code == 422
    image = await api.post("/api/links/import", params={"format": "shlink"}, content=shlink, headers={"content-type": "image/png"})
    assert image.status_code == 415
    assert await _count(app) == 2


async def test_more_than_ten_thousand_rows_are_refused(app, api) -> None:
    rows = "".join(f"/c{i}/,https://shop.example/p{i},0\r\n" for i in range(10_001))
    response = await _import(api, "yourls", "source,target,hits\r\n" + rows)
    assert response.status_code == 422 and "10,000" in response.json()["detail"][0]["msg"]
    assert await _count(app) == 0


async def test_import_into_a_campaign_tags_links_with_it(api) -> None:
    campaign = (await api.post("/api/campaigns", json={"name": "Moved", "destination_url": "https://shop.example/"})).json()
    response = await _import(api, "yourls", (DATA / "yourls_url_table.csv").read_bytes(),
                             campaign_id=campaign["id"], channel="whatsapp")
    assert response.status_code == 201
    for link in response.json()["items"]:
        assert link["campaign_id"] == campaign["id"]
        assert link["utm"] == {"source": "whatsapp", "medium": "social", "campaign": "moved", "content": link["code"]}
    assert (await _import(api, "yourls", b"keyword,url\nzz,https://shop.example/\n", campaign_id=999)).status_code == 404


async def test_our_export_imports_back_into_another_installation(app, api) -> None:
    await api.post("/api/campaigns", json={"name": "Summer", "destination_url": "https://shop.example/s",
                                           "channels": ["whatsapp", "telegram"]})
    await api.post("/api/links", json={"destination_url": "https://shop.example/=x", "channel": "sms", "slug": "-dash",
                                       "label": "=SUM(A1)", "coupon_code": "anna10", "max_clicks": 5,
                                       "expires_at": "2031-01-01T00:00:00Z",
                                       "preview": {"title": "Summer, finally", "description": "Line one\nline two"}})
    exported = await api.get("/api/links/export")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(table) == 3 and table[2]["label"] == "'=SUM(A1)"  # a spreadsheet shows it, never runs it
    before = {l["code"]: l for l in (await api.get("/api/links")).json()["items"]}
    # The same file into a fresh database: every link back, under its old code.
    async with app.state.sessionmaker() as session:
        await session.execute(Link.__table__.delete())
        await session.commit()
    response = await _import(api, "clicktrail", exported.content)
    assert response.status_code == 201, response.text
    after = {l["code"]: l for l in response.json()["items"]}
    assert set(after) == set(before)
    for code, link in after.items():
        old = before[code]
        for key in ("destination_url", "channel", "utm", "coupon_code", "label", "max_clicks", "expires_at", "preview"):
            assert link[key] == old[key], key


async def test_a_campaigns_links_from_a_csv_of_channels_and_labels(app, api) -> None:
    campaign = (await api.post("/api/campaigns", json={"name": "Groups", "destination_url": "https://shop.example/g"})).json()
    body = "channel,label\nwhatsapp,Moms of Leeds\nwhatsapp,Running club\ntelegram,\n"
    response = await api.post(f"/api/campaigns/{campaign['id']}/links", content=body, headers=CSV)
    assert response.status_code == 201, response.text
    items = response.json()["items"]
    assert [(l["channel"], l["label"]) for l in items] == [("whatsapp", "Moms of Leeds"), ("whatsapp", "Running club"), ("telegram", None)]
    assert all(l["utm"]["campaign"] == "groups" for l in items)
    bad = await api.post(f"/api/campaigns/{campaign['id']}/links", content="whatsapp,a\nmyspace,b\nsms,c,d\n", headers=CSV)
    assert bad.status_code == 422 and [d["line"] for d in bad.json()["detail"]] == [2, 3]
    nul = await api.post(f"/api/campaigns/{campaign['id']}/links", content="whatsapp,Moms\x00\n", headers=CSV)
    assert nul.status_code == 422 and nul.json()["detail"][0]["line"] == 1
    assert await _count(app) == 3


async def test_an_imported_code_that_was_unknown_a_moment_ago_redirects_at_once(api, client) -> None:
    assert (await client.get("/abc12")).status_code == 404  # now cached as "no such link"
    assert (await _import(api, "shlink", (DATA / "shlink_short_urls.csv").read_bytes())).status_code == 201
    assert (await client.get("/abc12")).status_code == 302


async def test_a_read_key_cannot_import_or_upload_but_can_export(app, api, client) -> None:
    from clicktrail.auth import service as auth

    async with app.state.sessionmaker() as session:
        _key, plain = await auth.create_api_key(session, "reader", scope="read")
        await session.commit()
    link = (await api.post("/api/links", json={"destination_url": "https://shop.example/", "channel": "sms",
                                               "preview": {"title": "Hi"}})).json()
    reader = {"Authorization": f"Bearer {plain}"}
    body = (DATA / "shlink_short_urls.csv").read_bytes()
    assert (await client.post("/api/links/import?format=shlink", content=body, headers={**reader, **CSV})).status_code == 403
    assert (await client.put(f"/api/links/{link['id']}/preview-image", content=b"x",
                             headers={**reader, "content-type": "image/png"})).status_code == 403
    assert (await client.get("/api/links/export", headers=reader)).status_code == 200
    assert await _count(app) == 1


def test_the_wheel_lists_every_package() -> None:
    """pyproject.toml names the packages one by one (migrations/ lives outside src/): a new
    package missing from the list would be left out of the wheel."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root / "src").parts) for p in (root / "src").rglob("__init__.py")}
    found |= {"clicktrail.migrations", "clicktrail.migrations.versions"}
    assert listed == found
