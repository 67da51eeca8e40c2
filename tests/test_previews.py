"""Preview cards (API.md: Preview cards and links in bulk): fetchers get the card, people the 302."""

from __future__ import annotations

import io
import os
import runpy
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from clicktrail.clicks.models import Click
from clicktrail.links.models import LinkPreviewImage
from conftest import BASE_URL

USER_AGENTS = runpy.run_path(str(Path(__file__).parent / "data" / "user_agents.py"))["USER_AGENTS"]
# Real strings from the detection corpus (tests/data/user_agents.py cites each one's source).
FETCHERS = {app: ua for ua, kind, app, _ in reversed(USER_AGENTS) if kind == "preview"}
BROWSERS = [ua for ua, kind, app, _ in USER_AGENTS if kind == "click" and app is None][:5]
CARD = {"title": "Red shoes, 30% off this week", "description": "Only in the WhatsApp group <3",
        "image_url": "https://cdn.shop.example/red.png"}


class _Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and (a.get("property") or a.get("name")):
            self.tags[a.get("property") or a["name"]] = a.get("content") or ""


def meta_tags(html: str) -> dict[str, str]:
    parser = _Meta()
    parser.feed(html)
    return parser.tags


async def _link(api: httpx.AsyncClient, **fields) -> dict:
    body = {"destination_url": "https://shop.example/red-shoes", "channel": "whatsapp", **fields}
    response = await api.post("/api/links", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def _kinds(app) -> list[tuple[str, str | None]]:
    await app.state.recorder.flush()
    async with app.state.sessionmaker() as session:
        return [(c.kind, c.app) for c in (await session.scalars(select(Click).order_by(Click.click_id))).all()]


def _png(size=(800, 800), mode="RGB", noise=False) -> bytes:
    image = Image.frombytes(mode, size, os.urandom(size[0] * size[1] * len(mode))) if noise else Image.new(mode, size, 1 if mode == "1" else "red")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("app_name", ["whatsapp", "imessage", "telegram", "facebook", "slack", "discord", "twitter", "linkedin"])
async def test_preview_fetchers_get_the_card_with_the_short_url(app, api, client, app_name: str) -> None:
    link = await _link(api, preview=CARD)
    assert link["preview"] == CARD
    response = await client.get(f"/{link['code']}", headers={"user-agent": FETCHERS[app_name]})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers
    tags = meta_tags(response.text)
    assert tags["og:title"] == CARD["title"] and tags["og:description"] == CARD["description"]
    assert tags["og:image"] == CARD["image_url"] and tags["og:url"] == f"{BASE_URL}/{link['code']}"
    assert tags["twitter:card"] == "summary_large_image"
    assert await _kinds(app) == [("preview", "imessage" if app_name == "imessage" else app_name)]


async def test_people_get_the_redirect_and_bots_the_card(app, api, client) -> None:
    link = await _link(api, preview=CARD)
    for ua in BROWSERS:
        response = await client.get(f"/{link['code']}", headers={"user-agent": ua})
        assert response.status_code == 302 and response.headers["location"].startswith("https://shop.example/red-shoes?")
    crawler = next(ua for ua, kind, _a, _s in USER_AGENTS if kind == "bot" and "Googlebot" in ua)
    assert (await client.get(f"/{link['code']}", headers={"user-agent": crawler})).status_code == 200
    head = await client.head(f"/{link['code']}", headers={"user-agent": BROWSERS[0]})
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0
    assert sorted(k for k, _ in await _kinds(app)) == ["bot", "bot"] + ["click"] * len(BROWSERS)


async def test_a_link_without_a_card_redirects_fetchers_as_before(api, client) -> None:
    link = await _link(api)
    assert link["preview"] is None
    response = await client.get(f"/{link['code']}", headers={"user-agent": FETCHERS["whatsapp"]})
    assert response.status_code == 302


async def test_card_text_is_escaped_and_a_card_can_be_changed_and_removed(api, client) -> None:
    link = await _link(api)
    hostile = {"title": '"><script>alert(1)</script>', "description": None}
    changed = await api.patch(f"/api/links/{link['id']}", json={"preview": hostile})
    assert changed.status_code == 200 and changed.json()["preview"] == {**hostile, "image_url": None}
    page = await client.get(f"/{link['code']}", headers={"user-agent": FETCHERS["whatsapp"]})
    assert "<script>" not in page.text and meta_tags(page.text)["og:title"] == hostile["title"]
    assert meta_tags(page.text)["twitter:card"] == "summary" and "og:image" not in meta_tags(page.text)
    removed = await api.patch(f"/api/links/{link['id']}", json={"preview": None})
    assert removed.json()["preview"] is None
    assert (await client.get(f"/{link['code']}", headers={"user-agent": FETCHERS["whatsapp"]})).status_code == 302


@pytest.mark.parametrize("bad", [{"title": ""}, {"title": "x" * 201}, {"title": "ok", "image_url": "javascript:alert(1)"},
                                 {"title": "ok", "image_url": "/relative.png"}, {"title": "ok", "colour": "red"}])
async def test_a_bad_card_is_refused_and_nothing_is_stored(app, api, bad: dict) -> None:
    response = await api.post("/api/links", json={"destination_url": "https://shop.example/", "channel": "sms", "preview": bad})
    assert response.status_code == 422 and "detail" in response.json()
    assert (await api.get("/api/links")).json()["items"] == []


async def test_uploaded_image_becomes_a_1200x630_jpeg_served_with_long_cache(app, api, client) -> None:
    link = await _link(api, preview={"title": "Red shoes"})
    # Noise compresses worst of all: if it fits in 600 KB, every photo does.
    response = await api.put(f"/api/links/{link['id']}/preview-image", content=_png((1300, 1200), noise=True),
                             headers={"content-type": "image/png"})
    assert response.status_code == 200, response.text
    image_url = response.json()["preview"]["image_url"]
    assert image_url.startswith(f"{BASE_URL}/{link['code']}/preview.jpg?v=")
    served = await client.get(image_url.removeprefix(BASE_URL))
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert len(served.content) <= 600 * 1024
    assert "max-age=31536000" in served.headers["cache-control"] and "immutable" in served.headers["cache-control"]
    with Image.open(io.BytesIO(served.content)) as jpeg:
        assert (jpeg.format, jpeg.size, jpeg.mode) == ("JPEG", (1200, 630), "RGB")
    again = await client.get(image_url.removeprefix(BASE_URL), headers={"if-none-match": served.headers["etag"]})
    assert again.status_code == 304
    probe = await client.head(image_url.removeprefix(BASE_URL))  # fetchers check the image before drawing it
    assert probe.status_code == 200 and probe.headers["content-type"] == "image/jpeg"
    tags = meta_tags((await client.get(f"/{link['code']}", headers={"user-agent": FETCHERS["whatsapp"]})).text)
    assert tags["og:image"] == image_url and tags["og:image:width"] == "1200"


async def test_transparent_png_and_webp_are_accepted(api, client) -> None:
    link = await _link(api, preview={"title": "Logo"})
    out = io.BytesIO()
    Image.new("RGB", (1200, 630), "blue").save(out, "WEBP")
    for body, media in ((_png((400, 400), "RGBA"), "image/png"), (out.getvalue(), "image/webp")):
        response = await api.put(f"/api/links/{link['id']}/preview-image", content=body, headers={"content-type": media})
        assert response.status_code == 200, response.text
    served = await client.get(f"/{link['code']}/preview.jpg")
    with Image.open(io.BytesIO(served.content)) as jpeg:
        r, g, b = jpeg.getpixel((600, 315))
        assert b > 200 and r < 50  # the WebP, the last one sent
    assert "immutable" not in served.headers["cache-control"]  # no version named: a day only


async def test_big_or_non_image_uploads_are_refused_and_nothing_is_stored(app, api) -> None:
    link = await _link(api, preview={"title": "Red shoes"})
    url = f"/api/links/{link['id']}/preview-image"
    six_mb = _png() + b"\0" * (6 * 1024 * 1024)
    assert (await api.put(url, content=six_mb, headers={"content-type": "image/png"})).status_code == 413
    text_file = await api.put(url, content=b"GIF89a not really", headers={"content-type": "image/png"})
    assert text_file.status_code == 422 and "PNG, JPEG or WebP" in text_file.json()["detail"]
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    assert (await api.put(url, content=gif.getvalue(), headers={"content-type": "image/png"})).status_code == 422
    assert (await api.put(url, content=_png(), headers={"content-type": "image/gif"})).status_code == 415
    bomb = _png((10_000, 10_000), "1")  # 12 KB of file, 100 megapixels once decoded
    refused = await api.put(url, content=bomb, headers={"content-type": "image/png"})
    assert refused.status_code == 422 and "megapixels" in refused.json()["detail"]
    truncated = _png((500, 500), noise=True)[:5000]
    assert (await api.put(url, content=truncated, headers={"content-type": "image/png"})).status_code == 422
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(LinkPreviewImage)) == 0
    assert (await api.get(f"/api/links/{link['id']}")).json()["preview"]["image_url"] is None


async def test_an_image_needs_a_card_and_naming_another_image_drops_the_upload(app, api, client) -> None:
    bare = await _link(api)
    put = await api.put(f"/api/links/{bare['id']}/preview-image", content=_png(), headers={"content-type": "image/png"})
    assert put.status_code == 409
    link = await _link(api, preview={"title": "Red shoes"})
    await api.put(f"/api/links/{link['id']}/preview-image", content=_png(), headers={"content-type": "image/png"})
    kept = await api.patch(f"/api/links/{link['id']}", json={"preview": {"title": "New title"}})
    assert "/preview.jpg?v=" in kept.json()["preview"]["image_url"]  # a new title keeps the image
    other = await api.patch(f"/api/links/{link['id']}", json={"preview": {"title": "New", "image_url": CARD["image_url"]}})
    assert other.json()["preview"]["image_url"] == CARD["image_url"]
    assert (await client.get(f"/{link['code']}/preview.jpg")).status_code == 404


async def test_a_sideways_phone_photo_is_turned_upright(api, client) -> None:
    link = await _link(api, preview={"title": "Portrait"})
    photo = Image.new("RGB", (630, 1200), "white")
    photo.paste((0, 0, 255), (0, 0, 630, 600))  # blue top half once upright ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... stored turned, with "rotate 90° clockwise to view" as phones do
    out = io.BytesIO()
    photo.transpose(Image.Transpose.ROTATE_90).save(out, "JPEG", exif=exif)
    assert (await api.put(f"/api/links/{link['id']}/preview-image", content=out.getvalue(),
                          headers={"content-type": "image/jpeg"})).status_code == 200
    with Image.open(io.BytesIO((await client.get(f"/{link['code']}/preview.jpg")).content)) as card:
        assert card.size == (1200, 630) and not card.getexif()  # metadata is not passed on
        top, bottom = card.getpixel((600, 5)), card.getpixel((600, 625))
        assert top[2] > 200 and top[0] < 60 and bottom[0] > 200
