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
from datetime import datetime, timedelta, timezone
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


def wait_until_up(base: str, log: Path) -> None:
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start: " + log.read_text())


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
        wait_until_up(base, data / "server.log")
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


# --- first run, one currency, orders, managing campaigns, phones (issue: numbers) ------------------

AXE_VERSION = "4"  # axe-core from the npm registry, installed once into tests/.axe (not committed)
AXE_DIR = Path(__file__).parent / ".axe"
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def axe_source() -> str:
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        AXE_DIR.mkdir(exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund", "--silent",
                        f"axe-core@{AXE_VERSION}"], check=True, capture_output=True, timeout=300)
    return script.read_text()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`clicktrail serve --port <not 8000>` on an empty data directory, without CLICKTRAIL_BASE_URL:
    what a new user does first. Not on a terminal, it prints a one-time setup link: on that port."""
    data = tmp_path_factory.mktemp("first-run")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKTRAIL_")}
    env.update({"CLICKTRAIL_DATA_DIR": str(data), "CLICKTRAIL_RATES_URL": "", "CLICKTRAIL_LINK_CACHE_TTL": "0.5"})
    out = open(data / "serve.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "clicktrail.cli", "serve", "--port", str(port)],
                               env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, data / "serve.log")
        setup = re.search(r"(http://\S+/setup\?token=\S+)", (data / "serve.log").read_text()).group(1)
        yield {"base": base, "setup": setup, "env": env, "log": data / "serve.log"}
    finally:
        process.terminate()
        process.wait(10)
        out.close()


def _no_serious_axe_violations(page, axe_source: str, name: str) -> None:
    page.add_script_tag(content=axe_source)
    violations = page.evaluate("async () => (await axe.run(document)).violations.map(v => ({id: v.id, impact: v.impact, "
                               "nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))")
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{name}: {serious}"


def _check_every_width(page, axe_source: str, name: str) -> None:
    """axe-core at desktop and phone widths, and a screenshot of each in tests/artifacts/."""
    for width, size in WIDTHS.items():
        page.set_viewport_size(size)
        _no_serious_axe_violations(page, axe_source, f"{name} ({width})")
        page.screenshot(path=ARTIFACTS / f"{name}-{width}.png", full_page=True)
    page.set_viewport_size(WIDTHS["desktop"])


def _signed_post(url: str, secret: str, payload: dict) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(url, content=body, headers={"Content-Type": "application/json",
                                                   "Clicktrail-Signature": sign(secret, body)})


def test_first_run_on_another_port_one_currency_orders_and_managing_campaigns(first_run: dict, shop: str, browser,
                                                                               axe_source: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = first_run["base"]
    assert f"use {base}" in first_run["log"].read_text()
    context = browser.new_context(viewport=WIDTHS["desktop"], bypass_csp=True)  # for axe-core's script
    page = context.new_page()
    page.set_default_timeout(10_000)
    expect = playwright_sync.expect
    navigations: list[str] = []
    page.on("request", lambda r: navigations.append(r.method) if r.is_navigation_request() else None)

    assert first_run["setup"].startswith(f"{base}/setup?token=")  # the printed link works as printed
    page.goto(first_run["setup"])
    _check_every_width(page, axe_source, "setup")
    page.get_by_label("Your email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create admin account").click()
    expect(page.get_by_role("heading", name="No campaigns yet")).to_be_visible()
    _check_every_width(page, axe_source, "home-empty")

    # First run on port != 8000: the short link, its QR code and the webhook URL are on that port.
    page.get_by_role("link", name="+ New campaign").click()
    _check_every_width(page, axe_source, "campaign-new")
    page.get_by_label("Campaign name").fill("World tour")
    page.get_by_label("Destination URL").fill(f"{shop}/world")
    page.get_by_label("WhatsApp", exact=True).check()
    page.get_by_role("button", name="Create campaign").click()
    short = page.locator("tr[data-channel=whatsapp] .short-url").inner_text()
    assert short.startswith(f"{base}/")
    assert httpx.get(short).status_code == 302
    campaign_url = page.url
    code = short.rsplit("/", 1)[1]

    page.get_by_role("link", name="Settings", exact=True).click()
    expect(page.locator("#base-url")).to_contain_text(base)
    expect(page.locator("#base-url-warning")).to_have_count(0)
    page.get_by_label("Shop name").fill("Main shop")
    page.get_by_label("Platform").select_option("generic")
    page.get_by_role("button", name="Add order source").click()
    secret = page.locator("#revealed-secret").inner_text()
    webhook_url = page.locator("#revealed-webhook-url").inner_text()
    assert webhook_url.startswith(f"{base}/webhooks/")
    _check_every_width(page, axe_source, "settings")

    # Members: an invitation link to copy; whoever opens it sets a password and is in, as a viewer.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    page.get_by_label("Email").fill("viewer@shop.example")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Invite").click()
    invite_url = page.locator("#invite-url").inner_text()
    assert invite_url.startswith(f"{base}/invite?token=")
    _check_every_width(page, axe_source, "members")
    guest = browser.new_context(viewport=WIDTHS["desktop"], bypass_csp=True)
    invited = guest.new_page()
    invited.goto(invite_url)
    _check_every_width(invited, axe_source, "invite")
    invited.get_by_label("Password", exact=True).fill(PASSWORD)
    invited.get_by_label("Password again").fill(PASSWORD)
    invited.get_by_role("button", name="Create account and join").click()
    expect(invited.locator("#workspace-role")).to_have_text("viewer")
    expect(invited.get_by_role("link", name="+ New campaign")).to_have_count(0)
    guest.close()

    # Three currencies sold through the campaign (by its UTM tags), one order lost, one waiting for its click.
    day = (datetime.now(timezone.utc) - timedelta(days=2)).date().isoformat()
    rates = Path(first_run["log"]).parent / "rates.csv"
    rates.write_text(f"Date,USD,JPY,\n{day},1.5000,150.00,\n")
    subprocess.run([sys.executable, "-m", "clicktrail.cli", "rates", "import", str(rates)], env=first_run["env"],
                   check=True, capture_output=True)
    landing = f"{shop}/world?utm_content={code}"
    for order_id, amount, currency in (("W-1", "169.90", "EUR"), ("W-2", "15.00", "USD"), ("W-3", "1500", "JPY")):
        answer = _signed_post(webhook_url, secret, {"order_id": order_id, "amount": amount, "currency": currency,
                                                    "landing_url": landing})
        assert answer.status_code == 200 and answer.json()["attribution"]["method"] == "utm", answer.text
    assert _signed_post(webhook_url, secret, {"order_id": "W-4", "amount": "9.90", "currency": "EUR"}).status_code == 200
    waiting = _signed_post(webhook_url, secret, {"order_id": "W-5", "amount": "45.00", "currency": "EUR",
                                                 "click_id": "0000000000000000000000"})
    assert waiting.json()["attribution"]["method"] is None

    page.goto(campaign_url)
    kpi = page.locator("#kpi-revenue")
    expect(kpi.locator(".converted")).to_have_text("€189.90")  # 169.90 + 15 / 1.5 + 1500 / 150
    expect(kpi.locator("details.originals .money")).to_have_count(3)
    kpi.locator("details.originals summary").click()
    expect(kpi.locator("details.originals")).to_contain_text("¥1,500")
    expect(page.locator("[aria-label^='Revenue per channel, in EUR']")).to_contain_text("€189.90")
    expect(page.locator(".bars")).not_to_contain_text("¥")
    _check_every_width(page, axe_source, "campaign")

    # The orders page shows the lost and the waiting order too.
    page.get_by_role("link", name="Orders", exact=True).click()
    expect(page.locator("tr[data-order='W-4']")).to_contain_text("not credited")
    expect(page.locator("tr[data-order='W-5']")).to_contain_text("waiting for its click")
    expect(page.locator("#orders tbody tr")).to_have_count(5)
    _check_every_width(page, axe_source, "orders")
    page.get_by_label("Attribution").select_option("pending")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#orders tbody tr")).to_have_count(1)
    page.get_by_role("link", name="W-5").click()
    expect(page.locator("main")).to_contain_text("Waiting for its click")
    _check_every_width(page, axe_source, "order")

    # A reload after a form post shows the page again, never posts twice (every POST answers 303).
    page.goto(campaign_url)
    page.locator("#add-link summary").click()
    page.get_by_label("Channel", exact=True).select_option("telegram")
    page.get_by_label("Label", exact=False).first.fill("Anna's story")
    page.get_by_role("button", name="Add link").click()
    expect(page.locator("tr[data-channel=telegram]")).to_contain_text("Anna's story")
    navigations.clear()
    page.reload()
    assert navigations == ["GET"]
    expect(page.locator(".links-table tbody tr[data-channel]")).to_have_count(2)
    page.locator("tr[data-channel=telegram] a", has_text="Edit").click()
    _check_every_width(page, axe_source, "link")

    # On a phone each link is a card whose Copy button is inside the screen, 44 px or taller.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.add_cookies(context.cookies())
    mobile = phone.new_page()
    mobile.goto(campaign_url)
    copy = mobile.locator("tr[data-channel=whatsapp] button.copy")
    copy.scroll_into_view_if_needed()
    box = copy.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert box["height"] >= 44, box
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    mobile.screenshot(path=ARTIFACTS / "campaign-cards-phone.png", full_page=True)
    phone.close()

    # Rename, archive (it leaves the list, its link still works), and delete (refused: it was clicked).
    page.goto(campaign_url)
    page.locator("#edit-campaign summary").click()
    page.get_by_label("Name", exact=True).fill("World tour 2026")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="World tour 2026", level=1)).to_be_visible()
    page.get_by_role("button", name="Archive").click()
    expect(page.locator("#archived-note")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    expect(page.locator("#campaigns")).to_have_count(0)
    expect(page.locator("#no-match")).to_be_visible()
    _check_every_width(page, axe_source, "home-archived")
    assert httpx.get(short).status_code == 302
    page.goto(campaign_url)
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.locator(".flash-error")).to_contain_text("Archive it instead")
    page.get_by_role("button", name="Unarchive").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    expect(page.locator("#campaigns tbody tr")).to_have_count(1)
    _check_every_width(page, axe_source, "home")

    # A campaign nobody clicked can be deleted.
    page.get_by_role("link", name="+ New campaign").click()
    page.get_by_label("Campaign name").fill("Draft")
    page.get_by_label("Destination URL").fill(f"{shop}/draft")
    page.get_by_label("SMS", exact=True).check()
    page.get_by_role("button", name="Create campaign").click()
    page.get_by_role("button", name="Delete").click()
    expect(page.locator(".flash")).to_contain_text("“Draft” and its 1 link were deleted")
    expect(page.locator("#campaigns tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    _check_every_width(page, axe_source, "login")
    context.close()
