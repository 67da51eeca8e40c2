"""The web app in a real browser: Playwright drives Debian's Chromium against a real uvicorn
server (SQLite) — sign in, make a campaign, open a short link, see the click, post a signed
order and see the revenue, download the CSV. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
EMAIL, PASSWORD = "marketer@shop.example", "a long enough password"
MESSENGER_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 [FBAN/MessengerForiOS;FBAV/452.0.0.41.109;FBBV/587015203;FBDV/iPhone15,2;FBMD/iPhone;"
    "FBSN/iOS;FBSV/17.4;FBSS/3;FBCR/;FBID/phone;FBLC/en_US;FBOP/5]"
)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: apt-get install chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Shop(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = b"<!doctype html><title>Summer shop</title><h1>Summer shop</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    """The destination: a tiny shop page on another local server."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Shop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`clicktrail migrate`, a user, then uvicorn serving the real app (app_factory) on a free port."""
    data = tmp_path_factory.mktemp("browser")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CLICKTRAIL_DATA_DIR": str(data), "CLICKTRAIL_BASE_URL": base,
           "CLICKTRAIL_DATABASE_URL": f"sqlite:///{data / 'clicktrail.db'}", "CLICKTRAIL_LINK_CACHE_TTL": "0.5",
           "CLICKTRAIL_RATES_URL": ""}
    cli = [sys.executable, "-m", "clicktrail.cli"]
    subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([*cli, "user", "create", "--email", EMAIL, "--password", PASSWORD], env=env, check=True,
                   capture_output=True)
    log = open(data / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "clicktrail.app:app_factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise RuntimeError("the server did not start: " + (data / "server.log").read_text())
        yield base
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()


def sign(secret: str, body: bytes) -> str:
    t = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def test_from_campaign_to_revenue_in_the_browser(server: str, shop: str, browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    expect = playwright_sync.expect

    # Signed out: any page leads to sign-in. A wrong password is told beside the field.
    page.goto(f"{server}/")
    assert urlsplit(page.url).path == "/login"
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#password-error")).to_contain_text("Wrong email or password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="No campaigns yet")).to_be_visible()

    # A campaign with three channels: three links, each with a QR code that loads.
    page.get_by_role("link", name="+ New campaign").click()
    page.get_by_label("Campaign name").fill("Summer Sale")
    page.get_by_label("Destination URL").fill(f"{shop}/summer?ref=web")
    for channel in ("WhatsApp", "Messenger", "Telegram"):
        page.get_by_label(channel, exact=True).check()
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name="Summer Sale", level=1)).to_be_visible()
    rows = page.locator(".links-table tbody tr")
    expect(rows).to_have_count(3)
    assert page.locator(".links-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.channel)") == [
        "whatsapp", "messenger", "telegram"]
    qr_images = page.locator(".links-table img[alt^='QR code']")
    expect(qr_images).to_have_count(3)
    page.wait_for_function("() => [...document.querySelectorAll('.links-table img')].every(i => i.complete && i.naturalWidth > 0)")
    page.locator(".qr-thumb").first.click()  # the QR view
    expect(page.locator("#qr-dialog")).to_be_visible()
    expect(page.locator("#qr-dialog-title")).to_have_text("Summer Sale · WhatsApp")
    page.get_by_role("button", name="Close").click()
    expect(page.locator("#qr-dialog")).to_be_hidden()
    campaign_url = page.url

    # The WhatsApp link, opened in Messenger's in-app browser, lands on the shop with the click id.
    whatsapp = page.locator("tr[data-channel=whatsapp] .short-url").inner_text()
    phone = browser.new_context(user_agent=MESSENGER_UA, viewport={"width": 390, "height": 800}, is_mobile=True)
    visitor = phone.new_page()
    visitor.goto(whatsapp)
    expect(visitor.get_by_role("heading", name="Summer shop")).to_be_visible()
    landed = urlsplit(visitor.url)
    assert f"{landed.scheme}://{landed.netloc}{landed.path}" == f"{shop}/summer"
    query = parse_qs(landed.query)
    assert query["ref"] == ["web"] and query["utm_source"] == ["whatsapp"] and query["utm_campaign"] == ["summer-sale"]
    click_id = query["ct_id"][0]
    phone.close()

    # The click shows on the campaign page (the recorder writes within a second).
    for _ in range(40):
        page.goto(campaign_url)
        if page.locator("#kpi-clicks").inner_text() == "1":
            break
        time.sleep(0.25)
    expect(page.locator("#kpi-clicks")).to_have_text("1")
    expect(page.locator("tr[data-channel=whatsapp] [data-metric=clicks]")).to_have_text("1")
    forwarded = page.locator("#forwarding td.forwarded")
    expect(forwarded).to_have_count(1)  # made for WhatsApp, opened in Messenger
    expect(page.locator("#forwarding thead")).to_contain_text("Messenger")

    # The shop: an order source made on the settings page, then a signed order for that click.
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_label("Shop name").fill("Main shop")
    page.get_by_label("Platform").select_option("generic")
    page.get_by_role("button", name="Add order source").click()
    secret = page.locator("#revealed-secret").inner_text()
    webhook_url = page.locator("#revealed-webhook-url").inner_text()
    assert webhook_url.startswith(f"{server}/webhooks/")
    page.screenshot(path=ARTIFACTS / "settings.png", full_page=True)
    body = json.dumps({"order_id": "SO-1001", "amount": "1234.50", "currency": "EUR", "click_id": click_id}).encode()
    answer = httpx.post(webhook_url, content=body, headers={"Content-Type": "application/json",
                                                             "Clicktrail-Signature": sign(secret, body)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["attribution"]["method"] == "click_id"

    page.goto(campaign_url)
    expect(page.locator("#kpi-orders")).to_have_text("1")
    expect(page.locator("#kpi-revenue")).to_have_text("€1,234.50")
    expect(page.locator("tr[data-channel=whatsapp] [data-metric=revenue]")).to_have_text("€1,234.50")
    expect(page.locator("[aria-label^='Revenue per channel']")).to_be_visible()
    expect(page.locator("svg[aria-label^='Clicks and orders per day']")).to_be_visible()

    # A copy button puts the short link on the clipboard.
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page.locator("tr[data-channel=telegram] button.copy").click()
    expect(page.locator("tr[data-channel=telegram] button.copy")).to_have_text("Copied ✓")
    assert page.evaluate("navigator.clipboard.readText()") == page.locator("tr[data-channel=telegram] .short-url").inner_text()
    page.wait_for_timeout(1800)

    page.screenshot(path=ARTIFACTS / "campaign.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=ARTIFACTS / "campaign-phone.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # The CSV by channel, downloaded like a person would.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="⤓ By channel").click()
    download = download_info.value
    assert re.fullmatch(r"clicktrail-campaign-\d+-channel-.*\.csv", download.suggested_filename)
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    by_channel = {row["key"]: row for row in rows}
    assert set(by_channel) == {"whatsapp", "messenger", "telegram"}
    assert by_channel["whatsapp"]["clicks"] == "1" and by_channel["whatsapp"]["orders"] == "1"
    assert by_channel["whatsapp"]["revenue_EUR"] == "1234.50"
    assert by_channel["messenger"]["clicks"] == "0"

    # Home shows the last 30 days of the campaign.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    row = page.locator("#campaigns tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("€1,234.50")
    page.screenshot(path=ARTIFACTS / "home.png", full_page=True)

    # Signing out ends it.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(campaign_url)
    assert urlsplit(page.url).path == "/login"
    context.close()
