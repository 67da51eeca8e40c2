"""The link page's preview card in a real browser: the WhatsApp and iMessage mock-ups follow what
is typed and the chosen image before anything is saved; saved, the card is what fetchers get."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

from test_previews import FETCHERS, meta_tags
from test_web_browser import ARTIFACTS, CHROMIUM, EMAIL, PASSWORD, browser, server, shop  # noqa: F401  (fixtures)

playwright_sync = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: apt-get install chromium")


def _png(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "red-shoes.png"
    Image.new("RGB", (1600, 900), (200, 30, 40)).save(path, "PNG")
    return path


def test_card_mock_ups_follow_the_form_and_the_saved_card_is_served(server: str, shop: str, browser, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    expect = playwright_sync.expect
    page.goto(f"{server}/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{server}/campaigns/new")
    page.get_by_label("Campaign name").fill("Card test")
    page.get_by_label("Destination URL").fill(f"{shop}/summer")
    page.get_by_label("WhatsApp", exact=True).check()
    page.get_by_role("button", name="Create campaign").click()
    short_url = page.locator("tr[data-channel=whatsapp] .short-url").inner_text()
    page.locator("tr[data-channel=whatsapp]").get_by_role("link", name="Edit the WhatsApp link").click()

    whatsapp, imessage = page.locator(".chat-whatsapp"), page.locator(".chat-imessage")
    page.get_by_label("Title").fill("Red shoes, 30% off")
    page.get_by_label("Description").fill("Only this week, only in the group")
    expect(whatsapp.locator('[data-card-show="title"]')).to_have_text("Red shoes, 30% off")
    expect(whatsapp.locator('[data-card-show="description"]')).to_have_text("Only this week, only in the group")
    expect(imessage.locator('[data-card-show="title"]')).to_have_text("Red shoes, 30% off")
    expect(whatsapp.locator("img.og-image")).to_be_hidden()
    page.get_by_label("Upload an image").set_input_files(str(_png(tmp_path)))
    expect(whatsapp.locator("img.og-image")).to_be_visible()
    assert whatsapp.locator("img.og-image").get_attribute("src").startswith("blob:")
    page.wait_for_function("() => [...document.querySelectorAll('.chat img.og-image')].every(i => i.complete && i.naturalWidth > 0)")
    page.locator("#card").screenshot(path=ARTIFACTS / "card.png")

    page.get_by_role("button", name="Save card").click()
    expect(page.get_by_text("Card saved")).to_be_visible()
    saved_image = whatsapp.locator("img.og-image").get_attribute("src")
    assert "/preview.jpg?v=" in saved_image
    page.wait_for_function("() => [...document.querySelectorAll('.chat img.og-image')].every(i => i.complete && i.naturalWidth === 1200)")
    tags = meta_tags(httpx.get(short_url, headers={"user-agent": FETCHERS["whatsapp"]}).text)
    assert tags["og:title"] == "Red shoes, 30% off" and tags["og:image"] == saved_image
    image = httpx.get(saved_image)
    from PIL import Image

    with Image.open(io.BytesIO(image.content)) as jpeg:
        assert jpeg.size == (1200, 630)
    person = httpx.get(short_url, headers={"user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) "
                                           "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"})
    assert person.status_code == 302
    context.close()
