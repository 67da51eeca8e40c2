"""The web app without a browser: sign-in, setup, CSRF, and every form refusing bad input with
the message beside the field while storing nothing (both engines)."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from clicktrail.auth import service as auth
from clicktrail.auth.models import ApiKey, SignInThrottle, User
from clicktrail.conversions.models import Order, OrderSource
from clicktrail.db import utcnow
from clicktrail.links.models import Campaign, Link
from clicktrail.workspaces import tenancy
from clicktrail.workspaces.service import add_member, default_workspace

from conftest import click_row

PASSWORD = "correct horse battery"
SHOP = "https://shop.example/summer"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def error_beside(html: str, field_id: str) -> str:
    """The message shown under the input with this id (aria-describedby points at it)."""
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">([^<]+)</p>', html)
    assert match, f"no error beside {field_id}"
    assert f'id="{field_id}"' in html
    return html_lib.unescape(match.group(1))


async def count(app, model) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)))


async def make_user(app, email: str = "ana@shop.example", is_admin: bool = True, role: str | None = None,
                    workspace_id: int | None = None) -> int:
    """An account that is a member of a workspace (default: the first): its owner, else an
    editor, unless `role` says otherwise. Returns the user's id."""
    async with app.state.sessionmaker() as session:
        workspace_id = workspace_id or (await default_workspace(session)).id
        user = await session.scalar(select(User).where(User.email == email))
        if user is None:
            user = await auth.create_user(session, email, PASSWORD, is_admin=is_admin)
        await add_member(session, workspace_id, user.id, role or ("owner" if is_admin else "editor"))
        await session.commit()
        return user.id


async def sign_in(client: httpx.AsyncClient, email: str = "ana@shop.example", password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/login")
    return await client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_of(page.text)})


@pytest.fixture
async def web(app, client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client signed in as an admin."""
    await make_user(app)
    response = await sign_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/"
    return client


async def form_page(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


# --- signed out --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/campaigns/new", "/campaigns/1", "/links/1", "/links/1/qr.svg",
                                  "/settings", "/campaigns/1/export?report=day"])
async def test_pages_redirect_to_sign_in_when_signed_out(app, client: httpx.AsyncClient, path: str) -> None:
    await make_user(app)
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert (await client.get(response.headers["location"])).status_code == 200


async def test_sign_in_page_and_posts_when_signed_out(app, client: httpx.AsyncClient) -> None:
    await make_user(app)
    login = await client.get("/login")
    assert login.status_code == 200 and "Sign in" in login.text
    for path in ("/campaigns/new", "/settings/keys", "/members/invite", "/workspace", "/links/1"):
        response = await client.post(path, data={"csrf_token": csrf_of(login.text)})
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert (await client.get("/setup")).headers["location"] == "/login"  # setup only while no user exists


async def test_sign_in_keeps_where_you_were_going(app, client: httpx.AsyncClient) -> None:
    await make_user(app)
    first = await client.get("/settings")
    assert first.headers["location"] == "/login?next=/settings"
    page = await client.get(first.headers["location"])
    response = await client.post("/login", data={
        "email": "ANA@shop.example ", "password": PASSWORD, "csrf_token": csrf_of(page.text), "next": "/settings"})
    assert response.headers["location"] == "/settings"
    assert (await client.get("/settings")).status_code == 200
    # A "next" that leaves the site is ignored.
    assert (await client.get("/login?next=//evil.example")).headers["location"] == "/"


async def test_session_cookie_is_signed_httponly_lax(app, client: httpx.AsyncClient) -> None:
    await make_user(app)
    response = await sign_in(client)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("ct_session=") and "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()  # http base URL; https turns Secure on
    # A tampered cookie is no session.
    value = client.cookies["ct_session"]
    client.cookies.set("ct_session", value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"), domain="ct.test")
    assert (await client.get("/")).status_code == 303


@asynccontextmanager
async def signed_in_with(settings, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An app of its own (these settings) and a client signed in to it as an admin."""
    from clicktrail.app import asgi_app, create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(application)), base_url=base_url) as c:
            await make_user(application)
            c.signed_in = await sign_in(c)  # type: ignore[attr-defined]
            yield c


async def test_secure_cookie_behind_https(settings, tmp_path) -> None:
    secure = settings.model_copy(update={"base_url": "https://go.shop.example"})
    async with signed_in_with(secure, "https://go.shop.example") as c:
        assert "secure" in c.signed_in.headers["set-cookie"].lower()


async def test_wrong_password_is_told_and_slowed_down(app, client: httpx.AsyncClient) -> None:
    await make_user(app)
    wrong = await sign_in(client, password="nope-nope")
    assert wrong.status_code == 401
    assert error_beside(wrong.text, "password").startswith("Wrong email or password")
    assert 'value="ana@shop.example"' in wrong.text  # the email is kept
    unknown = await sign_in(client, email="who@shop.example", password="nope-nope")
    assert unknown.status_code == 401 and "Wrong email or password" in unknown.text
    for _ in range(3):
        await sign_in(client, password="nope-nope")
    # Failures in a row: even the right password waits now.
    slowed = await sign_in(client)
    assert slowed.status_code == 429 and "Too many wrong passwords" in slowed.text
    async with app.state.sessionmaker() as session:
        rows = (await session.scalars(select(SignInThrottle))).all()
        account = [r for r in rows if r.key.startswith("account:")]
        assert len(account) == 2 and max(r.failures for r in account) == 5  # ana's key: every try counted
        assert not any("ana" in r.key or "shop" in r.key for r in rows)  # no email or address stored
        for row in rows:  # the wait is over
            row.blocked_until = utcnow() - timedelta(seconds=1)
        await session.commit()
    assert (await sign_in(client)).status_code == 303
    async with app.state.sessionmaker() as session:
        keys = [r.key for r in (await session.scalars(select(SignInThrottle))).all()]
        # Ana's own count starts again; the unknown email's and the client's stay.
        assert sorted(k.split(":")[0] for k in keys) == ["account", "client"]


async def test_sign_out_ends_the_session(web: httpx.AsyncClient) -> None:
    token = await form_page(web, "/")
    kept = dict(web.cookies)  # what someone who copied the cookie holds
    response = await web.post("/logout", data={"csrf_token": token})
    assert response.headers["location"] == "/login"
    assert (await web.get("/")).status_code == 303
    # The old cookie is still validly signed, but its session is gone server-side.
    web.cookies.clear()
    web.cookies.update(kept)
    assert (await web.get("/")).status_code == 303


async def setup_link(app) -> str:
    """What `clicktrail serve` logs on a new installation without a terminal."""
    async with app.state.sessionmaker() as session:
        token = await auth.new_setup_token(session)
        await session.commit()
    return token


async def test_setup_needs_the_one_time_link(app, client: httpx.AsyncClient) -> None:
    refused = await client.get("/setup")
    assert refused.status_code == 403 and "Setup link needed" in refused.text
    assert (await client.get("/setup?token=made-up")).status_code == 403
    link = await setup_link(app)
    page = await client.get(f"/setup?token={link}")
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    stranger = await client.post("/setup", data={"email": "x@evil.example", "password": PASSWORD,
                                                  "password_again": PASSWORD, "csrf_token": csrf, "token": "guess"})
    assert stranger.status_code == 403 and await count(app, User) == 0


async def test_setup_page_only_while_no_user_exists(app, client: httpx.AsyncClient) -> None:
    assert (await client.get("/")).headers["location"] == "/login"
    assert (await client.get("/login")).headers["location"] == "/setup"
    link = await setup_link(app)
    token = await form_page(client, f"/setup?token={link}")
    bad = await client.post("/setup", data={"email": "not-an-email", "password": "short", "password_again": "short",
                                             "csrf_token": token, "token": link})
    assert bad.status_code == 422
    assert error_beside(bad.text, "email") == "Enter a valid email address."
    assert error_beside(bad.text, "password") == "Use at least 8 characters."
    assert 'value="not-an-email"' in bad.text
    mismatch = await client.post("/setup", data={"email": "boss@shop.example", "password": PASSWORD,
                                                  "password_again": PASSWORD + "x", "csrf_token": token, "token": link})
    assert error_beside(mismatch.text, "password_again") == "The two passwords differ."
    assert await count(app, User) == 0
    ok = await client.post("/setup", data={"email": "boss@shop.example", "password": PASSWORD,
                                            "password_again": PASSWORD, "csrf_token": token, "token": link})
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert (await client.get("/")).status_code == 200  # signed in as the new admin
    async with app.state.sessionmaker() as session:
        user = await session.scalar(select(User))
        assert user.email == "boss@shop.example" and user.is_admin
    # Gone once used, and a second post makes nothing (signing in made a new CSRF token).
    assert (await client.get("/setup")).headers["location"] == "/login"
    token = csrf_of((await client.get("/")).text)
    again = await client.post("/setup", data={"email": "x@shop.example", "password": PASSWORD,
                                               "password_again": PASSWORD, "csrf_token": token, "token": link})
    assert again.status_code == 303 and await count(app, User) == 1


# --- CSRF --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/campaigns/new", "/settings/keys", "/members/invite", "/settings/sources", "/logout"])
async def test_post_without_csrf_token_is_refused(app, web: httpx.AsyncClient, path: str) -> None:
    body = {"name": "Sale", "destination_url": SHOP, "channels": "whatsapp", "email": "x@shop.example",
            "password": PASSWORD, "platform": "generic"}
    for token in (None, "forged-token-" + "x" * 40):
        data = body if token is None else {**body, "csrf_token": token}
        response = await web.post(path, data=data)
        assert response.status_code == 403
        assert "This form has expired" in response.text
    assert await count(app, Campaign) == 0 and await count(app, ApiKey) == 0
    assert await count(app, User) == 1 and await count(app, OrderSource) == 0
    assert (await web.get("/")).status_code == 200  # still signed in


async def test_login_without_csrf_token_is_refused(app, client: httpx.AsyncClient) -> None:
    await make_user(app)
    await client.get("/login")
    response = await client.post("/login", data={"email": "ana@shop.example", "password": PASSWORD})
    assert response.status_code == 403
    assert (await client.get("/")).status_code == 303


# --- campaigns ---------------------------------------------------------------------------------

async def test_home_shows_an_empty_state_then_campaigns(web: httpx.AsyncClient) -> None:
    home = await web.get("/")
    assert "No campaigns yet" in home.text and 'href="/campaigns/new"' in home.text
    token = csrf_of(home.text)
    made = await web.post("/campaigns/new", data={
        "name": "Summer Sale", "destination_url": SHOP, "channels": ["whatsapp", "messenger", "email"],
        "utm_medium": "", "csrf_token": token})
    assert made.status_code == 303
    page = await web.get(made.headers["location"])
    assert page.status_code == 200
    assert "“Summer Sale” is ready: 3 short links to share." in page.text
    assert page.text.count('class="qr-thumb"') == 3
    for channel in ("WhatsApp", "Messenger", "Email"):
        assert f'aria-label="Copy the {channel} link"' in page.text
    home = await web.get("/")
    assert "Summer Sale" in home.text and "No campaigns yet" not in home.text


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": "", "destination_url": SHOP, "channels": ["whatsapp"]}, "name", "This is required."),
        ({"name": "Sale", "destination_url": "ftp://shop.example/x", "channels": ["whatsapp"]}, "destination_url", None),
        ({"name": "Sale", "destination_url": "https://user:pw@shop.example/", "channels": ["sms"]}, "destination_url", None),
        ({"name": "Sale", "destination_url": SHOP, "channels": []}, "channels", "Pick at least one channel: each gets its own short link."),
        ({"name": "Sale", "destination_url": SHOP, "channels": ["carrier-pigeon"]}, "channels", "Pick channels from the list."),
        ({"name": "Sale", "destination_url": SHOP, "channels": ["sms"], "utm_medium": "x" * 300}, "utm_medium", None),
    ],
)
async def test_campaign_form_refuses_bad_input_beside_the_field(app, web: httpx.AsyncClient, form, field, message) -> None:
    token = await form_page(web, "/campaigns/new")
    response = await web.post("/campaigns/new", data={**form, "csrf_token": token})
    assert response.status_code == 422
    shown = error_beside(response.text, field)
    if message:
        assert shown == message
    if form["name"]:
        assert f'value="{form["name"]}"' in response.text  # what was typed is kept
    for channel in form["channels"]:
        if channel == "sms":
            assert 'value="sms" checked' in response.text
    assert await count(app, Campaign) == 0 and await count(app, Link) == 0


async def _campaign(web: httpx.AsyncClient, channels=("whatsapp", "telegram")) -> int:
    token = await form_page(web, "/campaigns/new")
    made = await web.post("/campaigns/new", data={"name": "Summer Sale", "destination_url": SHOP,
                                                  "channels": list(channels), "csrf_token": token})
    assert made.status_code == 303, made.text
    return int(made.headers["location"].rsplit("/", 1)[1])


async def test_add_link_form(app, web: httpx.AsyncClient) -> None:
    cid = await _campaign(web)
    token = await form_page(web, f"/campaigns/{cid}")
    for data, field, message in [
        ({"channel": "fax"}, "link-channel", "Pick one from the list."),
        ({"channel": "sms", "slug": "login"}, "link-slug", "'login' is reserved"),
        ({"channel": "sms", "destination_url": "javascript:alert(1)"}, "link-destination_url", None),
    ]:
        response = await web.post(f"/campaigns/{cid}/links", data={**data, "csrf_token": token})
        assert response.status_code == 422
        shown = error_beside(response.text, field)
        assert message is None or message.lower() in shown.lower()
        assert 'id="add-link" open' in response.text
    assert await count(app, Link) == 2
    ok = await web.post(f"/campaigns/{cid}/links", data={"channel": "sms", "slug": "summer-sms", "csrf_token": token})
    assert ok.status_code == 303
    taken = await web.post(f"/campaigns/{cid}/links", data={"channel": "sms", "slug": "summer-sms", "csrf_token": token})
    assert taken.status_code == 422 and "taken" in error_beside(taken.text, "link-slug")
    assert await count(app, Link) == 3
    assert "http://ct.test/summer-sms" in (await web.get(f"/campaigns/{cid}")).text


async def test_referral_forms_one_and_csv(app, web: httpx.AsyncClient) -> None:
    cid = await _campaign(web)
    token = await form_page(web, f"/campaigns/{cid}")
    url = f"/campaigns/{cid}/referrals"
    empty = await web.post(url, data={"csrf_token": token})
    assert empty.status_code == 422 and "Enter who shares the link" in error_beside(empty.text, "ref-referrer")
    one = await web.post(url, data={"referrer": "Ana", "coupon_code": "ana10", "csrf_token": token})
    assert one.status_code == 303
    clash = await web.post(url, data={"referrer": "Bo", "coupon_code": "ANA10", "csrf_token": token})
    assert clash.status_code == 422 and "ANA10" in error_beside(clash.text, "ref-coupon_code")
    bad_csv = await web.post(url, data={"rows": "Bo,BO10\nCy,CY10,extra", "csrf_token": token})
    assert bad_csv.status_code == 422
    assert error_beside(bad_csv.text, "ref-rows").startswith("Line 2: expected referrer,coupon_code")
    assert "Bo,BO10" in bad_csv.text  # the pasted rows are kept
    dup_csv = await web.post(url, data={"rows": "Bo,BO10\nCy,ANA10", "csrf_token": token})
    assert dup_csv.status_code == 422 and "ANA10" in error_beside(dup_csv.text, "ref-rows")
    assert await count(app, Link) == 3  # all or nothing: no Bo
    pasted = await web.post(url, data={"rows": "referrer,coupon_code\nBo,BO10\nCy,\n", "csrf_token": token})
    assert pasted.status_code == 303
    uploaded = await web.post(url, data={"csrf_token": token, "channel": "instagram"},
                              files={"file": ("refs.csv", b"Di,DI10\r\nEd,ED10\r\n", "text/csv")})
    assert uploaded.status_code == 303
    page = (await web.get(f"/campaigns/{cid}")).text
    assert "Made 2 referral links." in page
    for code in ("ANA10", "BO10", "DI10", "ED10"):
        assert f"<code>{code}</code>" in page
    async with app.state.sessionmaker() as session:
        channels = (await session.scalars(select(Link.channel).where(Link.referrer.in_(["Di", "Ed"])))).all()
    assert set(channels) == {"instagram"}


async def test_link_page_edit_and_disable(app, web: httpx.AsyncClient) -> None:
    await _campaign(web)
    async with app.state.sessionmaker() as session:
        link = await session.scalar(select(Link).order_by(Link.id))
    page = await web.get(f"/links/{link.id}")
    assert page.status_code == 200 and "No clicks yet" in page.text
    token = csrf_of(page.text)
    base = {"destination_url": SHOP, "utm_source": "whatsapp", "utm_medium": "social", "utm_campaign": "summer-sale",
            "utm_content": "", "utm_term": "", "expires_at": "", "max_clicks": "", "csrf_token": token}
    for change, field, message in [
        ({"destination_url": ""}, "destination_url", "A link needs a destination URL."),
        ({"destination_url": "http://"}, "destination_url", None),
        ({"max_clicks": "0"}, "max_clicks", "Enter a whole number of at least 1, or leave it empty for no limit."),
        ({"max_clicks": "ten"}, "max_clicks", None),
        ({"expires_at": "next tuesday"}, "expires_at", None),
        ({"utm_term": "x" * 300}, "utm_term", None),
    ]:
        response = await web.post(f"/links/{link.id}", data={**base, **change})
        assert response.status_code == 422, change
        shown = error_beside(response.text, field)
        assert message is None or shown == message
    async with app.state.sessionmaker() as session:
        unchanged = await session.get(Link, link.id)
        assert (unchanged.destination_url, unchanged.max_clicks, unchanged.utm_content) == (SHOP, None, link.utm_content)
    ok = await web.post(f"/links/{link.id}", data={**base, "destination_url": SHOP + "?x=1", "max_clicks": "1,000".replace(",", ""),
                                                   "expires_at": "2030-01-02T03:04"})
    assert ok.status_code == 303
    async with app.state.sessionmaker() as session:
        saved = await session.get(Link, link.id)
        assert saved.destination_url == SHOP + "?x=1" and saved.max_clicks == 1000 and saved.utm_content is None
        assert saved.expires_at.isoformat() == "2030-01-02T03:04:00+00:00"
    off = await web.post(f"/links/{link.id}/toggle", data={"csrf_token": token})
    assert off.status_code == 303
    assert (await web.get(f"/{link.utm_content}")).status_code == 410
    page = await web.get(f"/links/{link.id}")
    assert "Enable link" in page.text and "Disabled" in page.text
    await web.post(f"/links/{link.id}/toggle", data={"csrf_token": token})
    assert (await web.get(f"/{link.utm_content}")).status_code == 302
    assert (await web.get("/links/99999")).status_code == 404


async def test_qr_codes_and_csv(app, web: httpx.AsyncClient) -> None:
    cid = await _campaign(web)
    async with app.state.sessionmaker() as session:
        link = await session.scalar(select(Link).order_by(Link.id))
    svg = await web.get(f"/links/{link.id}/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    png = await web.get(f"/links/{link.id}/qr.png?download=1")
    assert png.content.startswith(b"\x89PNG") and "attachment" in png.headers["content-disposition"]
    for report in ("channel", "link", "app", "day", "forwarding"):
        response = await web.get(f"/campaigns/{cid}/export?report={report}")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
    by_channel = (await web.get(f"/campaigns/{cid}/export?report=channel")).text.splitlines()
    assert by_channel[0].startswith("key,clicks,unique_visitors")
    assert {line.split(",")[0] for line in by_channel[1:]} == {"whatsapp", "telegram"}


async def test_campaign_page_date_range(web: httpx.AsyncClient) -> None:
    cid = await _campaign(web)
    ok = await web.get(f"/campaigns/{cid}?from=2026-01-01&to=2026-01-07")
    assert ok.status_code == 200 and 'value="2026-01-07"' in ok.text
    bad = await web.get(f"/campaigns/{cid}?from=2026-02-01&to=2026-01-07")
    assert bad.status_code == 200 and "Showing the last 30 days." in bad.text
    assert (await web.get("/campaigns/424242")).status_code == 404


async def test_campaign_page_marks_estimated_unique_visitors(app, web: httpx.AsyncClient) -> None:
    cid = await _campaign(web)
    async with app.state.sessionmaker() as session:
        link_id = (await session.scalars(select(Link.id).where(Link.campaign_id == cid))).first()
    now = utcnow()

    async def visitors(first: int, n: int) -> None:
        await app.state.recorder.write([
            click_row(click_id=f"web{i:05d}", link_id=link_id, campaign_id=cid, kind="click", channel="whatsapp",
                      visitor_hash=f"{i:032x}", occurred_at=now - timedelta(hours=1))
            for i in range(first, first + n)
        ])

    def unique_visitors(page: str) -> str:
        return re.search(r'Unique visitors</span><span class="kpi-value">(.*?)</span></div>', page).group(1)

    await visitors(0, 300)  # few: counted exactly
    assert unique_visitors((await web.get(f"/campaigns/{cid}")).text) == "300"
    await visitors(300, 700)  # 1,000: estimated, and marked so
    shown = unique_visitors((await web.get(f"/campaigns/{cid}")).text)
    assert shown.startswith('<abbr title="Estimated') and "≈" in shown
    assert abs(int(shown.rsplit(">", 1)[1].replace(",", "")) - 1000) <= 30


async def test_campaign_and_link_pages_show_people_by_country_with_flags_and_bars(app, web: httpx.AsyncClient) -> None:
    cid = await _campaign(web)
    async with app.state.sessionmaker() as session:
        link_id = (await session.scalars(select(Link.id).where(Link.campaign_id == cid))).first()
    now = utcnow()
    taps = [("DE", "click")] * 3 + [("JP", "click")] + [(None, "click")] + [("US", "preview")] * 5
    await app.state.recorder.write([
        click_row(click_id=f"geo{i:05d}", link_id=link_id, campaign_id=cid, kind=kind, channel="whatsapp",
                  country=country, visitor_hash=f"{i:032x}", occurred_at=now - timedelta(hours=1))
        for i, (country, kind) in enumerate(taps)
    ])
    for page in (f"/campaigns/{cid}", f"/links/{link_id}"):
        html = (await web.get(page)).text
        table = html[html.index('id="countries"'):]
        table = table[:table.index("</section>")]
        rows = re.findall(r'<tr><th scope="row">(.*?)</th>.*?<rect width="([\d.]+)".*?<td class="num">(\d+)</td>\s*<td class="num">(\d+)%', table, re.S)
        assert [(re.sub(r"<[^>]+>", "", label).strip(), float(width), int(n), int(share)) for label, width, n, share in rows] == [
            ("\U0001F1E9\U0001F1EA DE", 100.0, 3, 60), ("\U0001F1EF\U0001F1F5 JP", 33.3, 1, 20), ("Unknown", 33.3, 1, 20),
        ], page  # people only: the five previews from the US are not taps


# --- settings ----------------------------------------------------------------------------------

async def test_api_keys_create_show_once_revoke(app, web: httpx.AsyncClient) -> None:
    token = await form_page(web, "/settings")
    bad = await web.post("/settings/keys", data={"name": "", "csrf_token": token})
    assert bad.status_code == 422 and error_beside(bad.text, "key-name").startswith("Name the key")
    assert await count(app, ApiKey) == 0
    made = await web.post("/settings/keys", data={"name": "shop backend", "csrf_token": token})
    plain = re.search(r'<code id="new-key">([^<]+)</code>', made.text).group(1)
    assert plain.startswith("ct_")
    api = await web.get("/api/campaigns", headers={"Authorization": f"Bearer {plain}"})
    assert api.status_code == 200
    listed = await web.get("/settings")
    assert plain not in listed.text and "shop backend" in listed.text
    async with app.state.sessionmaker() as session:
        key_id = await session.scalar(select(ApiKey.id))
    await web.post(f"/settings/keys/{key_id}/revoke", data={"csrf_token": token})
    assert (await web.get("/api/campaigns", headers={"Authorization": f"Bearer {plain}"})).status_code == 401


async def test_order_sources_create_show_once_rotate(app, web: httpx.AsyncClient) -> None:
    token = await form_page(web, "/settings")
    for data, field in [({"name": "", "platform": "generic"}, "source-name"),
                        ({"name": "Shop", "platform": "magento"}, "source-platform"),
                        ({"name": "Shop", "platform": "shopify", "secret": "short"}, "source-secret")]:
        response = await web.post("/settings/sources", data={**data, "csrf_token": token})
        assert response.status_code == 422
        error_beside(response.text, field)
        if data["name"]:
            assert 'value="Shop"' in response.text
    assert await count(app, OrderSource) == 0
    made = await web.post("/settings/sources", data={"name": "Main shop", "platform": "generic", "csrf_token": token})
    assert made.status_code == 200
    secret = re.search(r'<code id="revealed-secret">([^<]+)</code>', made.text).group(1)
    url = re.search(r'<code id="revealed-webhook-url">([^<]+)</code>', made.text).group(1)
    async with app.state.sessionmaker() as session:
        source = await session.scalar(select(OrderSource))
    assert source.secret == secret and url == f"http://ct.test/webhooks/{source.id}"
    assert secret not in (await web.get("/settings")).text
    rotated = await web.post(f"/settings/sources/{source.id}/rotate", data={"csrf_token": token})
    new_secret = re.search(r'<code id="revealed-secret">([^<]+)</code>', rotated.text).group(1)
    assert new_secret != secret
    async with app.state.sessionmaker() as session:
        assert (await session.get(OrderSource, source.id)).secret == new_secret


async def test_settings_page_warns_when_links_name_another_port(settings) -> None:
    served_elsewhere = settings.model_copy(update={"served_url": "http://127.0.0.1:8141"})
    async with signed_in_with(served_elsewhere, "http://ct.test") as c:
        page = (await c.get("/settings")).text
    warning = re.search(r'id="base-url-warning">(.*?)</div>', page, re.S)
    assert warning and "listens on port 8141" in html_lib.unescape(warning.group(1))
    assert "port 80" in html_lib.unescape(warning.group(1))


async def test_settings_page_has_no_port_warning_when_links_are_served_here(web: httpx.AsyncClient) -> None:
    page = (await web.get("/settings")).text
    assert 'id="base-url-warning"' not in page
    assert "<code>http://ct.test</code>" in page


# --- numbers a marketer can bet on ----------------------------------------------------------------

async def _orders_of_three_kinds(app, campaign_id: int, link_id: int) -> None:
    from clicktrail.conversions.models import Order

    async with app.state.sessionmaker() as session:
        tenancy.enter(session, 1)  # the rows go in the first workspace, the web user's
        source = OrderSource(name="Main shop", platform="shopify", secret="s")
        session.add(source)
        await session.flush()
        now = utcnow()
        for ext, state, method, currency, amount, click in [
            ("#1001", "attributed", "utm", "EUR", 16990, None), ("#1002", "attributed", "coupon", "JPY", 1500, None),
            ("#1003", "attributed", "utm", "USD", 1500, None), ("#1004", "unattributed", None, "EUR", 990, None),
            ("#1005", "pending", None, "EUR", 4500, "0123456789abcdefghijkl"),
        ]:
            credited = state == "attributed"
            session.add(Order(source_id=source.id, external_id=ext, amount_minor=amount, currency=currency,
                              status="paid", ordered_at=now - timedelta(hours=1), attribution_state=state,
                              attribution_method=method, click_id=click, link_id=link_id if credited else None,
                              campaign_id=campaign_id if credited else None,
                              channel="whatsapp" if credited else None, raw_payload="{}"))
        await session.commit()


async def _rates(app, day: str) -> None:
    from clicktrail.reports import rates

    async with app.state.sessionmaker() as session:
        await rates.store_rates(session, rates.parse_ecb_csv(f"Date,USD,JPY\n{day},1.5000,150.00\n".encode()))
        await session.commit()


async def _world_campaign(app, web: httpx.AsyncClient) -> tuple[Campaign, Link]:
    """A campaign made in the web app, rates of 3 days ago, and orders of every kind (three currencies)."""
    token = await form_page(web, "/campaigns/new")
    await web.post("/campaigns/new", data={"name": "World", "destination_url": SHOP, "channels": "whatsapp",
                                           "csrf_token": token})
    async with app.state.sessionmaker() as session:
        campaign, link = await session.scalar(select(Campaign)), await session.scalar(select(Link))
    await _rates(app, (utcnow() - timedelta(days=3)).date().isoformat())
    await _orders_of_three_kinds(app, campaign.id, link.id)
    return campaign, link


async def test_campaign_page_shows_one_converted_total_and_the_currencies_as_sold(app, web: httpx.AsyncClient) -> None:
    campaign, _link = await _world_campaign(app, web)
    page = (await web.get(f"/campaigns/{campaign.id}")).text
    kpi = re.search(r'id="kpi-revenue">(.*?)</span></div>', page, re.S).group(1)
    # €169.90 + ¥1,500 / 150 + $15.00 / 1.5 = €189.90, shown once; the sold amounts behind "as sold".
    assert re.search(r'class="money converted" data-currency="EUR">€189.90<', kpi)
    assert "as sold" in kpi and "¥1,500" in kpi and "$15.00" in kpi
    chart = re.search(r'aria-label="Revenue per channel, in EUR: ([^"]+)"', page)
    assert chart and html_lib.unescape(chart.group(1)) == "WhatsApp: €189.90"  # one currency on the axis
    assert "¥" not in page.split('class="bars"')[1].split("</div></div>")[0]


async def test_orders_page_shows_attributed_unattributed_and_pending_orders(app, web: httpx.AsyncClient) -> None:
    campaign, _link = await _world_campaign(app, web)
    page = await web.get("/orders")
    assert page.status_code == 200
    states = dict(re.findall(r'data-order="([^"]+)" data-state="([^"]+)"', page.text))
    assert states == {"#1001": "attributed", "#1002": "attributed", "#1003": "attributed",
                      "#1004": "unattributed", "#1005": "pending"}
    assert "waiting for its click" in page.text and "not credited" in page.text
    only_pending = await web.get("/orders?state=pending")
    assert re.findall(r'data-order="([^"]+)"', only_pending.text) == ["#1005"]
    bad_date = await web.get("/orders?from=2026-02-30")
    assert bad_date.status_code == 422 and 'id="f-from-error"' in bad_date.text
    async with app.state.sessionmaker() as session:
        pending = await session.scalar(select(Order).where(Order.external_id == "#1005"))
        coupon = await session.scalar(select(Order).where(Order.external_id == "#1002"))
    detail = (await web.get(f"/orders/{pending.id}")).text
    assert "Waiting for its click" in detail and "0123456789abcdefghijkl" in detail
    credited = (await web.get(f"/orders/{coupon.id}")).text
    assert "Credited by a referral coupon" in credited and f'href="/campaigns/{campaign.id}"' in credited
    assert (await web.get("/orders/999999")).status_code == 404


async def test_rename_archive_and_delete_a_campaign_in_the_web_app(app, web: httpx.AsyncClient, client) -> None:
    token = await form_page(web, "/campaigns/new")
    made = await web.post("/campaigns/new", data={"name": "Summer", "destination_url": SHOP, "channels": "whatsapp",
                                                  "csrf_token": token})
    path = made.headers["location"]
    bad = await web.post(f"{path}/edit", data={"name": "", "destination_url": "shop.example", "csrf_token": token})
    assert bad.status_code == 422
    assert error_beside(bad.text, "campaign-name") == "Give the campaign a name."
    assert "https://" in error_beside(bad.text, "campaign-destination_url")  # both fields' problems at once
    renamed = await web.post(f"{path}/edit", data={"name": "Summer 2026", "destination_url": "https://shop.example/new",
                                                   "csrf_token": token})
    assert renamed.status_code == 303 and renamed.headers["location"] == path
    page = (await web.get(path)).text
    assert "<h1>Summer 2026</h1>" in page and "1 link now send people there" in html_lib.unescape(page)

    assert (await web.post(f"{path}/archive", data={"archived": "true", "csrf_token": token})).status_code == 303
    assert 'id="archived-note"' in (await web.get(path)).text  # (and the flash message, read)
    home = (await web.get("/")).text
    assert "Summer 2026" not in home and 'id="no-match"' in home
    assert "Summer 2026" in (await web.get("/?archived=1")).text
    await web.post(f"{path}/archive", data={"archived": "false", "csrf_token": token})
    assert 'id="archived-note"' not in (await web.get(path)).text
    assert "Summer 2026" in (await web.get("/")).text
    assert "Summer 2026" in (await web.get("/?q=summer")).text and 'id="no-match"' in (await web.get("/?q=winter")).text

    async with app.state.sessionmaker() as session:
        link = await session.scalar(select(Link))
    assert (await client.get(f"/{links_code(app, link)}")).status_code == 302
    await app.state.recorder.flush()
    kept = await web.post(f"{path}/delete", data={"csrf_token": token})
    assert kept.status_code == 303 and kept.headers["location"] == path
    assert "Archive it instead" in html_lib.unescape((await web.get(path)).text)
    assert await count(app, Campaign) == 1

    other = await web.post("/campaigns/new", data={"name": "Draft", "destination_url": SHOP, "channels": "sms",
                                                   "csrf_token": token})
    gone = await web.post(f"{other.headers['location']}/delete", data={"csrf_token": token})
    assert gone.status_code == 303 and gone.headers["location"] == "/"
    assert await count(app, Campaign) == 1

    assert 'id="duplicate-button"' in (await web.get(path)).text
    copied = await web.post(f"{path}/duplicate", data={"csrf_token": token})
    assert copied.status_code == 303 and copied.headers["location"] != path
    page = html_lib.unescape((await web.get(copied.headers["location"])).text)
    assert "<h1>Summer 2026 (copy)</h1>" in page and "made, with 1 link like the original" in page
    assert await count(app, Campaign) == 2


def links_code(app, link) -> str:
    return app.state.link_context.code_of(link)


def test_forwarding_headline_names_the_most_forwarded_channel() -> None:
    from clicktrail.web.reporting import forwarding_headline

    cell = lambda channel, app, clicks: {"channel": channel, "app": app, "clicks": clicks,  # noqa: E731
                                         "forwarded": app is not None and app != channel}
    rows = [cell("whatsapp", "whatsapp", 3), cell("whatsapp", "messenger", 1), cell("telegram", "telegram", 5),
            cell("telegram", None, 2), cell("sms", "facebook", 1), cell("sms", None, 2)]
    assert forwarding_headline(rows) == "1 in 3 SMS taps were opened in another app"
    assert forwarding_headline(rows[:2]) == "1 in 4 WhatsApp taps were opened in another app"
    assert forwarding_headline([cell("email", "gmail", 2), cell("email", None, 3)]) == "2 of 5 Email taps were opened in another app"
    assert forwarding_headline(rows[2:4]) is None  # nothing forwarded: no headline


async def test_link_page_shows_its_orders_and_converted_revenue(app, web: httpx.AsyncClient) -> None:
    campaign, link = await _world_campaign(app, web)
    page = (await web.get(f"/links/{link.id}")).text
    assert re.search(r'id="link-orders">3<', page)
    assert re.search(r'id="link-revenue">.*?€189\.90', page, re.S)
    assert re.findall(r'<a href="/orders/\d+">(#\d+)</a>', page) == ["#1003", "#1002", "#1001"]
