"""The web app in workspaces, both engines: another workspace's ids are not found and its data
is never listed; the switcher; a viewer sees no forms and is refused every write; members,
invitations and the last owner; the workspace's settings form."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select, update

from clicktrail.app import asgi_app
from clicktrail.auth.models import ApiKey, User
from clicktrail.conversions.models import Order, OrderSource
from clicktrail.db import utcnow
from clicktrail.links.models import Campaign, Link
from clicktrail.outbound.models import Destination
from clicktrail.workspaces import tenancy
from clicktrail.workspaces.models import Invitation, Member, Workspace
from clicktrail.workspaces.service import create_workspace

from conftest import BASE_URL
from test_web import PASSWORD, SHOP, csrf_of, error_beside, make_user, sign_in

# Forms every member has whatever the role: signing out, the switcher.
EVERYONE = {"/logout", "/workspace"}
# Posts any member may make: their own session, account and read keys, and joining.
ANY_MEMBER_POSTS = {"/login", "/logout", "/setup", "/invite", "/workspace", "/settings/keys",
                    "/settings/keys/{key_id}/revoke", "/settings/password"}


def browser(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(app)), base_url=BASE_URL)


def post_forms(page: str) -> set[str]:
    """The actions of the page's POST forms."""
    return {html_lib.unescape(a).split("#")[0] for a in re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', page)}


def web_routes(app, method: str) -> list[str]:
    """Every path of the web app (not the API) answering `method`, read from the app's routes, so a
    new page or form is covered by itself."""
    return sorted({r.path for r in app.routes if isinstance(r, APIRoute) and method in r.methods
                   and not r.include_in_schema and not r.path.startswith(("/api", "/webhooks", "/docs", "/redoc"))})


def header(page: str) -> tuple[str, str]:
    """(workspace, role) as the page's header names them."""
    role = re.search(r'id="workspace-role"[^>]*>([^<]+)<', page).group(1)
    name = re.search(r'id="workspace-name"[^>]*>([^<]+)<', page)
    if name is None:  # several workspaces: the switcher's selected option
        name = re.search(r'<option value="\d+" selected>([^<]+) \(', page)
    return html_lib.unescape(name.group(1)), role


async def _workspace_a(app, api: httpx.AsyncClient) -> dict[str, int]:
    """Workspace A (the first) with a campaign, its link, a key, an order source, a webhook and an order."""
    made = await api.post("/api/campaigns", json={"name": "Secret summer", "destination_url": SHOP,
                                                   "channels": ["whatsapp"]})
    assert made.status_code == 201, made.text
    campaign_id = made.json()["id"]
    link_id = made.json()["links"][0]["id"]
    async with app.state.sessionmaker() as session:
        tenancy.enter(session, 1)
        source = OrderSource(name="Secret shop", platform="generic", secret="s" * 16)
        session.add(source)
        await session.flush()
        order = Order(source_id=source.id, external_id="#A-1001", amount_minor=1500, currency="EUR", status="paid",
                      ordered_at=utcnow() - timedelta(hours=1), attribution_state="attributed", attribution_method="utm",
                      link_id=link_id, campaign_id=campaign_id, channel="whatsapp", raw_payload="{}")
        hook = Destination(kind="webhook", url="https://crm.example/hook", events="order.attributed", secret_sealed="x")
        session.add_all([order, hook])
        await session.flush()
        key_id = await session.scalar(select(ApiKey.id).order_by(ApiKey.id))
        await session.commit()
    return {"campaign_id": campaign_id, "link_id": link_id, "source_id": source.id, "order_id": order.id,
            "destination_id": hook.id, "key_id": key_id}


async def _snapshot(app) -> tuple:
    """Everything of A a change would touch."""
    async with app.state.sessionmaker() as session:
        return (
            (await session.execute(select(Campaign.name, Campaign.destination_url, Campaign.archived_at))).all(),
            (await session.execute(select(Link.id, Link.destination_url, Link.disabled, Link.preview_title))).all(),
            (await session.execute(select(ApiKey.id, ApiKey.revoked_at).where(ApiKey.workspace_id == 1))).all(),
            (await session.execute(select(OrderSource.id, OrderSource.secret))).all(),
            (await session.execute(select(Member.user_id, Member.role).where(Member.workspace_id == 1))).all(),
            (await session.execute(select(Workspace.name, Workspace.timezone).where(Workspace.id == 1))).all(),
        )


def _fill(path: str, ids: dict[str, int]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]) if m.group(1) in ids else "svg", path)


async def test_a_second_workspace_sees_nothing_of_the_first_and_the_switcher_switches(app, api) -> None:
    ids = await _workspace_a(app, api)
    ana = await make_user(app)  # owner of A
    async with app.state.sessionmaker() as session:
        b = await create_workspace(session, "Brand B")
        lonely = await create_workspace(session, "Nobody's")
        await session.commit()
    bo = await make_user(app, "bo@shop.example", role="owner", workspace_id=b.id)
    ids["user_id"] = ana
    before = await _snapshot(app)
    async with browser(app) as c:
        assert (await sign_in(c, "bo@shop.example")).status_code == 303
        home = await c.get("/")
        assert header(home.text) == ("Brand B", "owner")
        token = csrf_of(home.text)
        # Every page with an id of A's: not found, as if it did not exist.
        for path in web_routes(app, "GET"):
            if "{" in path:
                got = await c.get(_fill(path, ids))
                assert got.status_code == 404, (path, got.status_code)
                assert "Secret" not in got.text
        # Every form with an id of A's: not found, and nothing of A changes.
        body = {"csrf_token": token, "name": "Mine now", "destination_url": "https://evil.example/",
                "channel": "telegram", "referrer": "Eve", "lines": "telegram,x", "role": "viewer",
                "preview_title": "Eve's", "archived": "true", "action": "save"}
        for path in web_routes(app, "POST"):
            if "{" in path:
                got = await c.post(_fill(path, ids), data=body)
                assert got.status_code == 404, (path, got.status_code, got.text[:300])
        # Lists show none of A's data.
        for path in ("/", "/?archived=1", "/orders", "/settings", "/members", "/links/import"):
            page = (await c.get(path)).text
            for secret in ("Secret summer", "Secret shop", "#A-1001", "ana@shop.example", "tests"):
                assert secret not in page, (path, secret)
    assert await _snapshot(app) == before

    # Ana is in both: the switcher lists both, switches, and refuses a workspace she is not in.
    async with app.state.sessionmaker() as session:
        session.add(Member(workspace_id=b.id, user_id=ana, role="viewer"))
        await session.commit()
    async with browser(app) as c:
        await sign_in(c)
        home = await c.get("/")
        assert header(home.text) == ("Default", "owner") and "Secret summer" in home.text
        options = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', home.text.split('id="workspace-switch"')[1])
        assert [(int(i), n) for i, n in options][:2] == [(1, "Default (owner)"), (b.id, "Brand B (viewer)")]
        token = csrf_of(home.text)
        switched = await c.post("/workspace", data={"csrf_token": token, "workspace_id": str(b.id)})
        assert switched.status_code == 303 and switched.headers["location"] == "/"
        home = await c.get("/")
        assert header(home.text) == ("Brand B", "viewer") and "Secret summer" not in home.text
        assert (await c.get(f"/campaigns/{ids['campaign_id']}")).status_code == 404
        for wrong in (str(lonely.id), "999999", "x"):
            refused = await c.post("/workspace", data={"csrf_token": token, "workspace_id": wrong})
            assert refused.status_code == 404
        assert header((await c.get("/")).text) == ("Brand B", "viewer")
        # The links export is the workspace's too (the links service scopes it by the session's
        # workspace: request.state.subject).
        export = await c.get("/links/export.csv")
        assert export.status_code == 200 and "secret-summer" not in export.text
        back = await c.post("/workspace", data={"csrf_token": token, "workspace_id": "1"})
        assert back.status_code == 303 and "Secret summer" in (await c.get("/")).text
        assert "secret-summer" in (await c.get("/links/export.csv")).text
    assert bo != ana


async def test_a_viewer_sees_no_forms_and_every_write_is_refused(app, api) -> None:
    ids = await _workspace_a(app, api)
    ids["user_id"] = await make_user(app)
    await make_user(app, "vi@shop.example", role="viewer")
    before = await _snapshot(app)
    async with browser(app) as c:
        await sign_in(c, "vi@shop.example")
        pages = ["/", f"/campaigns/{ids['campaign_id']}", f"/links/{ids['link_id']}", "/orders",
                 f"/orders/{ids['order_id']}", "/members"]
        for path in pages:
            page = await c.get(path)
            assert page.status_code == 200, path
            assert post_forms(page.text) <= EVERYONE, (path, post_forms(page.text))
            assert header(page.text)[1] == "viewer"
        home = (await c.get("/")).text
        assert "/campaigns/new" not in home and "/links/import" not in home
        # Settings: only their own account's forms, and keys that only read.
        settings = (await c.get("/settings")).text
        assert post_forms(settings) <= EVERYONE | {"/settings/keys", "/settings/password"}
        assert re.findall(r'<option value="(\w+)"', settings.split('id="key-scope"')[1].split("</select>")[0]) == ["read"]
        assert 'id="sources"' not in settings and 'id="workspace-facts"' in settings
        # Every write the web app has (read from its routes), posted anyway: 403, nothing stored.
        token = csrf_of(home)
        writes = [p for p in web_routes(app, "POST") if p not in ANY_MEMBER_POSTS]
        assert {"/campaigns/new", "/members/invite", "/settings/workspace", "/links/import"} <= set(writes)
        for path in writes:
            got = await c.post(_fill(path, ids), data={"csrf_token": token, "name": "Viewer's", "email": "x@y.example",
                                                      "role": "owner", "destination_url": SHOP, "channels": "whatsapp"})
            assert got.status_code == 403, (path, got.status_code)
            assert "Not with your role" in got.text and "needs the" in got.text
        for path in ("/campaigns/new", "/links/import"):  # the pages that are only a form
            assert (await c.get(path)).status_code == 403
        # A write key is refused beside the field; a read key is made and reads.
        refused = await c.post("/settings/keys", data={"csrf_token": token, "name": "dash", "scope": "write"})
        assert refused.status_code == 422 and "read keys only" in error_beside(refused.text, "key-scope")
        made = await c.post("/settings/keys", data={"csrf_token": token, "name": "dash", "scope": "read"})
        plain = re.search(r'<code id="new-key">([^<]+)</code>', made.text).group(1)
        async with browser(app) as k:
            k.headers["Authorization"] = f"Bearer {plain}"
            assert (await k.get("/api/campaigns")).status_code == 200
            assert (await k.post("/api/campaigns", json={"name": "x", "destination_url": SHOP, "channels": ["sms"]})).status_code == 403
        # A viewer lists only their own keys, and cannot revoke the owner's.
        listed = (await c.get("/settings")).text
        assert "dash" in listed and "tests" not in listed
        refused = await c.post(f"/settings/keys/{ids['key_id']}/revoke", data={"csrf_token": token})
        assert refused.status_code == 403
    after = await _snapshot(app)
    assert after[:2] == before[:2] and after[3:] == before[3:]  # only the viewer's own read key is new
    assert [k for k in after[2] if k not in before[2]] and all(k in after[2] for k in before[2])


async def test_invite_accept_roles_and_the_last_owner(app) -> None:
    ana = await make_user(app)
    async with browser(app) as owner, browser(app) as guest:
        await sign_in(owner)
        members_page = await owner.get("/members")
        token = csrf_of(members_page.text)
        bad = await owner.post("/members/invite", data={"csrf_token": token, "email": "nope", "role": "editor"})
        assert bad.status_code == 422 and error_beside(bad.text, "invite-email") == "Enter a valid email address."
        invited = await owner.post("/members/invite", data={"csrf_token": token, "email": "Cy@Shop.example ", "role": "editor"})
        assert invited.status_code == 200
        url = html_lib.unescape(re.search(r'<code id="invite-url">([^<]+)</code>', invited.text).group(1))
        assert url.startswith(f"{BASE_URL}/invite?token=")
        assert "cy@shop.example — editor" in (await owner.get("/members")).text  # listed as pending
        path = url.removeprefix(BASE_URL)

        # Cy has no account: the page names the workspace and role, and makes the account.
        page = await guest.get(path)
        assert page.status_code == 200
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html_lib.unescape(page.text)))
        assert "Join “Default”" in text and "ana@shop.example invited cy@shop.example" in text
        assert re.search(r'id="invite-role">editor<', page.text)
        query_token = path.split("token=")[1]
        mismatch = await guest.post("/invite", data={"csrf_token": csrf_of(page.text), "token": query_token,
                                                     "password": PASSWORD, "password_again": PASSWORD + "x"})
        assert mismatch.status_code == 422 and error_beside(mismatch.text, "password_again") == "The two passwords differ."
        joined = await guest.post("/invite", data={"csrf_token": csrf_of(page.text), "token": query_token,
                                                   "password": PASSWORD, "password_again": PASSWORD})
        assert joined.status_code == 303 and joined.headers["location"] == "/"
        home = await guest.get("/")
        assert home.status_code == 200 and header(home.text) == ("Default", "editor")
        assert "you are editor here" in html_lib.unescape(home.text)
        assert post_forms(home.text) <= EVERYONE and "/campaigns/new" in home.text  # an editor makes campaigns
        # The link worked once.
        used = await guest.get(path)
        assert used.status_code == 404 and "This invitation link does not work" in used.text
        async with browser(app) as cy:
            assert (await sign_in(cy, "cy@shop.example")).status_code == 303

        # Someone with an account joins at once; an expired link is refused.
        async with app.state.sessionmaker() as session:
            b = await create_workspace(session, "Brand B")
            await session.commit()
        await make_user(app, "bo@shop.example", role="owner", workspace_id=b.id)
        at_once = await owner.post("/members/invite", data={"csrf_token": token, "email": "bo@shop.example", "role": "viewer"})
        assert at_once.status_code == 303
        assert "bo@shop.example had an account and is a member now, as viewer." in html_lib.unescape((await owner.get("/members")).text)
        again = await owner.post("/members/invite", data={"csrf_token": token, "email": "bo@shop.example", "role": "viewer"})
        assert again.status_code == 409 and "member already" in error_beside(again.text, "invite-email")
        late = await owner.post("/members/invite", data={"csrf_token": token, "email": "dee@shop.example", "role": "admin"})
        late_path = html_lib.unescape(re.search(r'<code id="invite-url">([^<]+)</code>', late.text).group(1)).removeprefix(BASE_URL)
        async with app.state.sessionmaker() as session:
            await session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
            await session.commit()
        async with browser(app) as dee:
            assert (await dee.get(late_path)).status_code == 404
            assert (await dee.get("/invite?token=made-up")).status_code == 404

        # A signed-in user joins with one click (and works there next).
        brand_invite = None
        async with browser(app) as bo:
            await sign_in(bo, "bo@shop.example")
            await bo.post("/workspace", data={"csrf_token": csrf_of((await bo.get("/")).text), "workspace_id": str(b.id)})
            bo_members = await bo.get("/members")
            made = await bo.post("/members/invite", data={"csrf_token": csrf_of(bo_members.text), "email": "ana@shop.example",
                                                          "role": "editor"})
            assert made.status_code == 303  # Ana has an account: she is in B now
            made = await bo.post("/members/invite", data={"csrf_token": csrf_of(bo_members.text), "email": "eve@shop.example",
                                                          "role": "editor"})
            brand_invite = html_lib.unescape(re.search(r'<code id="invite-url">([^<]+)</code>', made.text).group(1))
        page = await owner.get(brand_invite.removeprefix(BASE_URL))
        assert "Join as ana@shop.example" in page.text and 'id="other-account"' in page.text
        # (Ana is a member of B already: joining again keeps her role.)

        # Roles: the owner changes one; the last owner can be neither demoted nor removed.
        async with app.state.sessionmaker() as session:
            cy_id = await session.scalar(select(User.id).where(User.email == "cy@shop.example"))
        changed = await owner.post(f"/members/{cy_id}/role", data={"csrf_token": token, "role": "admin"})
        assert changed.status_code == 303
        for path, data in [(f"/members/{ana}/role", {"role": "admin"}), (f"/members/{ana}/remove", {})]:
            refused = await owner.post(path, data={"csrf_token": token, **data})
            assert refused.status_code == 409
            message = html_lib.unescape(re.search(rf'id="member-{ana}-error"[^>]*>([^<]+)<', refused.text).group(1))
            assert message.startswith("The last owner cannot be")
        # An admin cannot make owners: the choice is not offered, and a forged post is refused.
        async with browser(app) as cy:
            await sign_in(cy, "cy@shop.example")
            page = await cy.get("/members")
            assert "owner" not in page.text.split('id="invite-role"')[1].split("</select>")[0]
            assert f'action="/members/{ana}/role"' not in page.text  # the owner's row: no form for an admin
            forged = await cy.post("/members/invite", data={"csrf_token": csrf_of(page.text), "email": "fay@shop.example",
                                                            "role": "owner"})
            assert forged.status_code == 403 and error_beside(forged.text, "invite-role")
        removed = await owner.post(f"/members/{cy_id}/remove", data={"csrf_token": token})
        assert removed.status_code == 303
        assert (await guest.get("/")).status_code == 303  # Cy's session ended with it
        async with browser(app) as cy:  # Cy's account stays, in no workspace: told so, and may sign out
            await sign_in(cy, "cy@shop.example")
            nowhere = await cy.get("/")
            assert nowhere.status_code == 403 and "No workspace" in nowhere.text
            assert post_forms(nowhere.text) == {"/logout"}
    async with app.state.sessionmaker() as session:
        roles = dict((await session.execute(select(Member.user_id, Member.role).where(Member.workspace_id == 1))).all())
    assert roles[ana] == "owner" and cy_id not in roles


async def test_workspace_settings_form(app) -> None:
    from clicktrail.reports import rates

    await make_user(app)
    async with app.state.sessionmaker() as session:
        await rates.store_rates(session, rates.parse_ecb_csv(b"Date,USD\n2026-01-02,1.1\n"))
        await session.commit()
    async with browser(app) as c:
        await sign_in(c)
        token = csrf_of((await c.get("/settings")).text)
        good = {"csrf_token": token, "name": "Shoes Ltd", "reporting_currency": "usd", "timezone": "America/New_York",
                "attribution_window_days": "14", "allowed_destination_hosts": "shop.example\nwww.shop.example"}
        for field, value, message in [("name", "", "Workspace name"), ("timezone", "Mars/Olympus", "IANA"),
                                      ("reporting_currency", "XYZ", ""), ("attribution_window_days", "0", "1 to 365"),
                                      ("attribution_window_days", "many", "whole number"),
                                      ("allowed_destination_hosts", "shop.example\nnot a host!", "not a host")]:
            refused = await c.post("/settings/workspace", data={**good, field: value})
            assert refused.status_code == 422, (field, value)
            assert message.lower() in error_beside(refused.text, f"ws-{field}").lower(), (field, error_beside(refused.text, f"ws-{field}"))
            assert 'value="Shoes Ltd"' in refused.text or field == "name"  # what was typed stays
        async with app.state.sessionmaker() as session:
            untouched = await session.get(Workspace, 1)
            assert (untouched.name, untouched.timezone, untouched.reporting_currency) == ("Default", None, None)
        saved = await c.post("/settings/workspace", data=good)
        assert saved.status_code == 303
        home = (await c.get("/")).text
        assert header(home) == ("Shoes Ltd", "owner") and "America/New_York" in home and "revenue in USD" in home
        async with app.state.sessionmaker() as session:
            ws = await session.get(Workspace, 1)
            assert (ws.attribution_window_days, ws.allowed_destination_hosts) == (14, ["shop.example", "www.shop.example"])
        # Emptied fields go back to the installation's settings.
        await c.post("/settings/workspace", data={"csrf_token": token, "name": "Shoes Ltd"})
        async with app.state.sessionmaker() as session:
            ws = await session.get(Workspace, 1)
            assert (ws.timezone, ws.reporting_currency, ws.attribution_window_days, ws.allowed_destination_hosts) == (
                None, None, None, None)
