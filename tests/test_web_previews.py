"""The web app's preview cards, "copy card from destination" (against a real loopback server),
the import upload with its preview, and a campaign's links from channel,label lines."""

from __future__ import annotations

import html as html_lib
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from PIL import Image

from clicktrail.links.card_source import CardSourceError, fetch_card
from clicktrail.links.models import Campaign, Link
from test_previews import BROWSERS, FETCHERS, meta_tags

BROWSER = BROWSERS[0]
from test_web import count, csrf_of, form_page, web  # noqa: F401  (web: the signed-in client fixture)

DATA = Path(__file__).parent / "data" / "imports"
PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>  Red shoes | Shop  </title>
<meta property="og:title" content="Red shoes &amp; more">
<meta property="og:description" content="Handmade in Porto.">
<meta property="og:image" content="/img/red.jpg">
</head><body><meta property="og:title" content="not this one"></body></html>"""


class _Site(BaseHTTPRequestHandler):
    """A shop's pages, on 127.0.0.1, as the destination of a link."""

    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        _Site.requests.append(f"{self.path} Host={self.headers['Host']} UA={self.headers['User-Agent']}")
        if self.path == "/shoes":
            self._send(200, "text/html; charset=utf-8", PAGE)
        elif self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/shoes")
            self.end_headers()
        elif self.path == "/huge":  # tags after the first 512 KB are never read
            self._send(200, "text/html", b"<html><head>" + b"<!-- padding -->" * 65536 + PAGE)
        elif self.path == "/slow":
            time.sleep(2)
            self._send(200, "text/html", PAGE)
        elif self.path == "/pdf":
            self._send(200, "application/pdf", b"%PDF-1.4")
        else:
            self._send(404, "text/html", b"no")

    def _send(self, status: int, media: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def test_card_is_read_from_the_page_head_with_redirects_followed(site) -> None:
    card = await fetch_card(f"{site}/moved", allow_private=True)
    assert card.title == "Red shoes & more" and card.description == "Handmade in Porto."
    assert card.image_url == f"{site}/img/red.jpg"  # relative to the page it came from
    assert any(r.startswith("/shoes Host=127.0.0.1:") and "Clicktrail-CardCopy" in r for r in _Site.requests)


async def test_private_addresses_are_refused_unless_allowed(site) -> None:
    for url in (f"{site}/shoes", "http://10.0.0.7/", "http://[::1]/", "http://localhost/"):
        with pytest.raises(CardSourceError, match="not a public address"):
            await fetch_card(url)
    for allow_private in (False, True):  # the cloud's metadata service: never
        with pytest.raises(CardSourceError, match="link-local"):
            await fetch_card("http://169.254.169.254/latest/meta-data/", allow_private=allow_private)


async def test_size_time_and_type_are_capped(site) -> None:
    huge = await fetch_card(f"{site}/huge", allow_private=True)
    assert huge.title is None and huge.image_url is None
    started = time.monotonic()
    with pytest.raises(CardSourceError, match="within"):
        await fetch_card(f"{site}/slow", allow_private=True, timeout=0.3)
    assert time.monotonic() - started < 1.5
    with pytest.raises(CardSourceError, match="not an HTML page"):
        await fetch_card(f"{site}/pdf", allow_private=True)
    with pytest.raises(CardSourceError, match="404"):
        await fetch_card(f"{site}/gone", allow_private=True)
    with pytest.raises(CardSourceError, match="http"):
        await fetch_card("file:///etc/passwd", allow_private=True)


async def _link(app, destination: str = "https://shop.example/red") -> Link:
    async with app.state.sessionmaker() as session:
        link = Link(nonce=1, destination_url=destination, channel="whatsapp", click_count=0, disabled=False,
                    workspace_id=1)  # the web user's
        session.add(link)
        await session.commit()
        return link


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), "green").save(out, "PNG")
    return out.getvalue()


async def test_card_fields_save_with_an_image_and_show_in_the_mock_ups(app, web: httpx.AsyncClient, client) -> None:
    link = await _link(app)
    csrf = await form_page(web, f"/links/{link.id}")
    saved = await web.post(f"/links/{link.id}/card", data={"csrf_token": csrf, "action": "save",
                           "preview_title": "Red shoes", "preview_description": "30% off"},
                           files={"preview_image": ("red.png", _png(), "image/png")})
    assert saved.status_code == 303, saved.text
    page = (await web.get(f"/links/{link.id}")).text
    assert 'data-card-show="title">Red shoes<' in page and "WhatsApp" in page and "iMessage" in page
    assert "/preview.jpg?v=" in page
    short_url = page.split('data-copy="')[1].split('"')[0]  # the card is live for fetchers at once
    tags = meta_tags((await client.get(short_url.removeprefix("http://ct.test"), headers={"user-agent": FETCHERS["whatsapp"]})).text)
    assert tags["og:title"] == "Red shoes" and "/preview.jpg?v=" in tags["og:image"]


async def test_a_bad_card_or_image_is_shown_beside_its_field_and_nothing_stored(app, web: httpx.AsyncClient) -> None:
    link = await _link(app)
    csrf = await form_page(web, f"/links/{link.id}")
    no_title = await web.post(f"/links/{link.id}/card", data={"csrf_token": csrf, "preview_title": ""})
    assert no_title.status_code == 422 and 'id="preview_title-error"' in no_title.text
    nul = await web.post(f"/links/{link.id}/card", data={"csrf_token": csrf, "preview_title": "Sho\x00es"},
                         files={"preview_image": ("", b"", "application/octet-stream")})  # multipart, as browsers send it
    assert nul.status_code == 422 and 'id="preview_title-error"' in nul.text
    not_image = await web.post(f"/links/{link.id}/card", data={"csrf_token": csrf, "preview_title": "Shoes"},
                               files={"preview_image": ("x.png", b"not a png", "image/png")})
    assert not_image.status_code == 422 and 'id="preview_image-error"' in not_image.text
    async with app.state.sessionmaker() as session:
        assert (await session.get(Link, link.id)).preview_title is None


async def test_copy_card_from_destination_fills_the_form_and_stores_nothing(app, web: httpx.AsyncClient, site) -> None:
    link = await _link(app, f"{site}/shoes")
    csrf = await form_page(web, f"/links/{link.id}")
    refused = await web.post(f"/links/{link.id}/card", data={"csrf_token": csrf, "action": "copy"})
    assert refused.status_code == 422 and "not a public address" in html_lib.unescape(refused.text)
    app.state.settings.outbound_allow_private = True  # the operator's setting, for this loopback "shop"
    copied = await web.post(f"/links/{link.id}/card", data={"csrf_token": csrf, "action": "copy"})
    assert copied.status_code == 200
    text = html_lib.unescape(copied.text)
    assert 'value="Red shoes & more"' in text and "Handmade in Porto." in text and f"{site}/img/red.jpg" in text
    async with app.state.sessionmaker() as session:
        assert (await session.get(Link, link.id)).preview_title is None


async def test_import_upload_previews_the_rows_then_commits_them(app, web: httpx.AsyncClient) -> None:
    csrf = await form_page(web, "/links/import")
    body = (DATA / "shlink_short_urls.csv").read_bytes()
    preview = await web.post("/links/import", data={"csrf_token": csrf, "format": "shlink", "channel": "telegram", "action": "preview"},
                             files={"file": ("short_urls.csv", body, "text/csv")})
    assert preview.status_code == 200, preview.text
    assert "2 links ready to import" in preview.text and "http://ct.test/newsletter-june" in preview.text
    assert await count(app, Link) == 0
    content = html_lib.unescape(preview.text.split('<textarea name="content" hidden>')[1].split("</textarea>")[0])
    committed = await web.post("/links/import", data={"csrf_token": csrf_of(preview.text), "format": "shlink",
                                                      "channel": "telegram", "action": "commit", "content": content})
    assert committed.status_code == 303 and await count(app, Link) == 2
    bad = await web.post("/links/import", data={"csrf_token": csrf, "format": "shlink", "action": "preview",
                                                "content": content})  # the same codes again: taken
    assert bad.status_code == 422 and "Line 2" in bad.text and "Line 3" in bad.text and "taken" in bad.text
    assert await count(app, Link) == 2
    exported = await web.get("/links/export.csv")
    assert exported.status_code == 200 and "newsletter-june" in exported.text


async def test_a_big_file_previews_and_commits_from_the_web_page_too(app, web: httpx.AsyncClient) -> None:
    # 10,000 rows, 1.4 MB: more than a form field or a url-encoded body may usually carry.
    body = "source,target,hits\r\n" + "".join(f"/w{i}/,https://shop.example/products/{i}?ref=web-import&utm_term=summer-collection-red-shoes-and-matching-bags-{i:06d}-with-free-shipping,0\r\n" for i in range(10_000))
    csrf = await form_page(web, "/links/import")
    preview = await web.post("/links/import", data={"csrf_token": csrf, "format": "yourls", "action": "preview"},
                             files={"file": ("yourls_export.csv", body.encode(), "text/csv")})
    assert preview.status_code == 200 and "10,000 links ready to import" in preview.text
    content = html_lib.unescape(preview.text.split('<textarea name="content" hidden>')[1].split("</textarea>")[0])
    assert len(content) > 1024 * 1024
    fields = {"csrf_token": csrf_of(preview.text), "format": "yourls", "channel": "other", "action": "commit", "content": content}
    committed = await web.post("/links/import", files={k: (None, v) for k, v in fields.items()})  # multipart, as the page posts
    assert committed.status_code == 303, committed.text[:500]
    assert await count(app, Link) == 10_000


async def test_campaign_links_from_channel_and_label_lines(app, web: httpx.AsyncClient) -> None:
    async with app.state.sessionmaker() as session:
        campaign = Campaign(name="Groups", slug="groups", destination_url="https://shop.example/g", workspace_id=1)
        session.add(campaign)
        await session.commit()
    campaign_path = f"/campaigns/{campaign.id}"
    csrf = await form_page(web, campaign_path)
    bad = await web.post(f"{campaign_path}/links/csv", data={"csrf_token": csrf, "lines": "whatsapp,A\nmyspace,B"})
    assert bad.status_code == 422 and "line 2" in html_lib.unescape(bad.text).lower() and await count(app, Link) == 0
    good = await web.post(f"{campaign_path}/links/csv", data={"csrf_token": csrf, "lines": "whatsapp,Moms of Leeds\nwhatsapp,Runners"})
    assert good.status_code == 303 and await count(app, Link) == 2
    page = (await web.get(campaign_path)).text
    assert page.count('data-channel="whatsapp"') == 2 and "Moms of Leeds" in page and "Runners" in page
    assert 'id="taps-per-share"' not in page  # nothing shared yet
    code = page.split('data-copy="http://ct.test/')[1].split('"')[0]
    for ua in (FETCHERS["whatsapp"], FETCHERS["whatsapp"], BROWSER, BROWSER, BROWSER):
        await web.get(f"/{code}", headers={"user-agent": ua})
    await app.state.recorder.flush()
    page = (await web.get(campaign_path)).text
    taps = page.split('id="taps-per-share"')[1]
    assert '<tr data-channel="whatsapp">' in taps and 'data-metric="taps_per_share">1.5<' in taps
    assert 'id="kpi-taps-per-share">1.5<' in page
