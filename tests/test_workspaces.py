"""Workspaces, members, invitations and keys through the API and the CLI, and every role against
every write route, on both engines."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import select, update

from clicktrail import cli
from clicktrail.app import asgi_app
from clicktrail.auth import service as auth
from clicktrail.auth.models import ApiKey, User
from clicktrail.db import create_engine, create_sessionmaker, utcnow
from clicktrail.errors import Invalid, NotFound
from clicktrail.reports import rates
from clicktrail.workspaces import members
from clicktrail.workspaces.models import Invitation, Member, Workspace
from clicktrail.workspaces.service import (
    add_member,
    create_workspace,
    default_workspace,
)

BASE_URL = "http://ct.test"
PASSWORD = "correct horse battery"


@dataclass
class Person:
    user_id: int | None
    email: str
    key: str  # a write key of theirs (scope never checked against their role here: see the role test)


async def make_person(app, email: str, role: str, workspace_id: int | None = None, *, scope: str = "write") -> Person:
    """An account that is a `role` of the workspace (default: the first), with a key of its own."""
    async with app.state.sessionmaker() as session:
        workspace_id = workspace_id or (await default_workspace(session)).id
        user = await session.scalar(select(User).where(User.email == email))
        if user is None:
            user = await auth.create_user(session, email, PASSWORD, is_admin=role == "owner")
        await add_member(session, workspace_id, user.id, role)
        _key, plain = await auth.create_api_key(session, f"{email}'s key", user_id=user.id, scope=scope,
                                                workspace_id=workspace_id)
        await session.commit()
    return Person(user.id, email, plain)


def client_of(app, key: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(app)), base_url=BASE_URL, headers=headers)


def api_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every /api route the app serves, found from its routes (so a new route is
    covered by itself)."""
    found = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path.startswith("/api"):
            found.update((m, context.path) for m in context.methods if m != "HEAD")
    return sorted(found, key=lambda mp: (mp[1], mp[0]))


def write_routes(app) -> list[tuple[str, str]]:
    return [(m, p) for m, p in api_routes(app) if m not in ("GET", "HEAD")]


# --- workspace settings ---------------------------------------------------------------------


async def test_the_workspace_and_its_settings(app) -> None:
    owner = await make_person(app, "ana@shop.example", "owner")
    editor = await make_person(app, "bo@shop.example", "editor")
    async with client_of(app, owner.key) as api, client_of(app, editor.key) as bo:
        shown = (await api.get("/api/workspace")).json()
        assert shown["slug"] == "default" and shown["role"] == "owner"
        # Unset: the installation's settings (CLICKTRAIL_*), and it says so.
        assert (shown["reporting_currency"], shown["timezone"], shown["attribution_window_days"]) == ("EUR", "UTC", 30)
        assert shown["allowed_destination_hosts"] == []
        assert set(shown["inherited"]) == {"reporting_currency", "timezone", "attribution_window_days",
                                           "allowed_destination_hosts"}
        assert (await bo.get("/api/workspace")).json()["role"] == "editor"
        assert (await bo.patch("/api/workspace", json={"name": "Mine"})).status_code == 403

        for bad in ({"reporting_currency": "USD"},  # no exchange rates stored for it
                    {"reporting_currency": "E1R"}, {"timezone": "Mars/Olympus"}, {"timezone": "../../etc/passwd"},
                    {"attribution_window_days": 0}, {"attribution_window_days": 366},
                    {"attribution_window_days": True}, {"allowed_destination_hosts": ["shop.example", "no such/host"]},
                    {"name": ""}, {"name": None}, {"slug": "taken"}):
            answer = await api.patch("/api/workspace", json=bad)
            assert answer.status_code == 422, (bad, answer.status_code, answer.text)
        async with app.state.sessionmaker() as session:
            await rates.store_rates(session, [rates.Rate("USD", date(2026, 1, 2), Decimal("1.1"))])
            await session.commit()
        changed = await api.patch("/api/workspace", json={
            "name": " Acme ", "reporting_currency": "usd", "timezone": "Europe/Berlin", "attribution_window_days": 14,
            "allowed_destination_hosts": ["Shop.Example.", "shop.example", "blog.shop.example"]})
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert (body["name"], body["slug"], body["reporting_currency"], body["timezone"],
                body["attribution_window_days"]) == ("Acme", "default", "USD", "Europe/Berlin", 14)
        assert body["allowed_destination_hosts"] == ["shop.example", "blog.shop.example"] and body["inherited"] == []
        # null: back to the installation's setting.
        reset = (await api.patch("/api/workspace", json={"reporting_currency": None})).json()
        assert reset["reporting_currency"] == "EUR" and reset["inherited"] == ["reporting_currency"]
        assert (await bo.get("/api/workspace")).json()["name"] == "Acme"


# --- members and invitations ----------------------------------------------------------------


async def _invitation_token(api: httpx.AsyncClient, email: str, role: str) -> str:
    answer = await api.post("/api/members", json={"email": email, "role": role})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["user_id"] is None and body["email"] == email.lower() and body["role"] == role
    assert body["invite_url"].startswith(f"{BASE_URL}/invite?token=")
    return body["invite_url"].split("token=", 1)[1]


async def test_members_invitations_roles_and_the_last_owner(app) -> None:
    owner = await make_person(app, "ana@shop.example", "owner")
    admin = await make_person(app, "ad@shop.example", "admin")
    async with app.state.sessionmaker() as session:
        bo = await auth.create_user(session, "bo@shop.example", PASSWORD, is_admin=False)
        await session.commit()
    async with client_of(app, owner.key) as api, client_of(app, admin.key) as adm:
        # An existing account joins at once; twice is a conflict.
        added = await api.post("/api/members", json={"email": " Bo@Shop.example", "role": "editor"})
        assert added.status_code == 201
        assert added.json() == {"user_id": bo.id, "email": "bo@shop.example", "role": "editor", "invite_url": None}
        assert (await api.post("/api/members", json={"email": "bo@shop.example", "role": "viewer"})).status_code == 409
        for bad in ({"email": "nobody", "role": "viewer"}, {"email": "x@shop.example", "role": "root"},
                    {"email": "x@shop.example"}):
            assert (await api.post("/api/members", json=bad)).status_code == 422, bad
        # Nobody grants a role above their own; only owners make or unmake owners.
        assert (await adm.post("/api/members", json={"email": "new@shop.example", "role": "owner"})).status_code == 403
        assert (await adm.patch(f"/api/members/{bo.id}", json={"role": "owner"})).status_code == 403
        assert (await adm.patch(f"/api/members/{owner.user_id}", json={"role": "viewer"})).status_code == 403
        assert (await adm.delete(f"/api/members/{owner.user_id}")).status_code == 403
        promoted = await adm.patch(f"/api/members/{bo.id}", json={"role": "admin"})
        assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
        assert (await adm.patch("/api/members/999999", json={"role": "viewer"})).status_code == 404

        # Someone without an account: a one-time link, 7 days.
        token = await _invitation_token(api, "Cy@shop.example", "viewer")
        async with app.state.sessionmaker() as session:
            invitation = await members.invitation_for(session, token)
            assert invitation is not None and invitation.email == "cy@shop.example"
            assert timedelta(days=6, hours=23) < invitation.expires_at - utcnow() <= timedelta(days=7)
            stored = (await session.scalars(select(Invitation.token_hash))).all()
            assert token not in stored and auth.token_digest(token) in stored  # only its digest is kept
            with pytest.raises(Invalid):  # a password too short: no account, and the link still works
                await members.accept_invitation(session, token, None, "short")
            await session.rollback()
            assert await members.invitation_for(session, token) is not None
            cy, workspace = await members.accept_invitation(session, token, None, "a long enough password")
            await session.commit()
            assert cy.email == "cy@shop.example" and workspace.slug == "default"
            assert await members.invitation_for(session, token) is None  # one time
            with pytest.raises(NotFound):
                await members.accept_invitation(session, token, None, "a long enough password")
        listed = (await adm.get("/api/members")).json()["items"]
        assert [(m["email"], m["role"]) for m in listed] == [
            ("ana@shop.example", "owner"), ("ad@shop.example", "admin"), ("bo@shop.example", "admin"),
            ("cy@shop.example", "viewer")]
        assert await auth.verify_password_async(cy.password_hash, "a long enough password")

        # An expired link does nothing; inviting again gives a new link, the old one stops working.
        old = await _invitation_token(api, "dee@shop.example", "editor")
        new = await _invitation_token(api, "dee@shop.example", "editor")
        async with app.state.sessionmaker() as session:
            assert await members.invitation_for(session, old) is None
            await session.execute(update(Invitation).where(Invitation.email == "dee@shop.example")
                                  .values(expires_at=utcnow() - timedelta(seconds=1)))
            await session.commit()
            assert await members.invitation_for(session, new) is None
            with pytest.raises(NotFound):
                await members.accept_invitation(session, new, None, "a long enough password")
        # A signed-in account accepts a link made for an address without one.
        eve_token = await _invitation_token(api, "eve@shop.example", "editor")
        async with app.state.sessionmaker() as session:
            eve = await auth.create_user(session, "eve.other@shop.example", PASSWORD, is_admin=False)
            joined, _ = await members.accept_invitation(session, eve_token, eve, None)
            await session.commit()
            assert joined.id == eve.id
        roles = {m["email"]: m["role"] for m in (await api.get("/api/members")).json()["items"]}
        assert roles["eve.other@shop.example"] == "editor" and "eve@shop.example" not in roles
        page = (await api.get("/api/members?limit=2")).json()
        assert len(page["items"]) == 2 and page["next_cursor"]
        rest = (await api.get(f"/api/members?limit=2&cursor={page['next_cursor']}")).json()
        assert [m["email"] for m in rest["items"]] == ["bo@shop.example", "cy@shop.example"]

        # The last owner can neither be demoted nor removed nor leave.
        assert (await api.patch(f"/api/members/{owner.user_id}", json={"role": "admin"})).status_code == 409
        assert (await api.delete(f"/api/members/{owner.user_id}")).status_code == 409
        assert (await api.patch(f"/api/members/{bo.id}", json={"role": "owner"})).status_code == 200
        demoted = await api.patch(f"/api/members/{owner.user_id}", json={"role": "admin"})
        assert demoted.status_code == 200 and demoted.json()["role"] == "admin"
        assert (await api.get("/api/workspace")).json()["role"] == "admin"  # the key follows its maker's role


async def test_removal_revokes_the_members_keys_and_ends_their_sessions(app) -> None:
    owner = await make_person(app, "ana@shop.example", "owner")
    bo = await make_person(app, "bo@shop.example", "editor")
    async with app.state.sessionmaker() as session:
        other = await create_workspace(session, "Other brand")
        await session.commit()
    bo_elsewhere = await make_person(app, "bo@shop.example", "editor", other.id)
    leaver = await make_person(app, "lea@shop.example", "editor")
    async with app.state.sessionmaker() as session:
        user = await session.get(User, bo.user_id)
        web_token = await auth.start_session(session, user)
        await session.commit()
    async with client_of(app, owner.key) as api, client_of(app, bo.key) as as_bo, \
            client_of(app, bo_elsewhere.key) as bo_other, client_of(app, leaver.key) as as_lea:
        assert (await as_bo.get("/api/campaigns")).status_code == 200
        assert (await as_bo.delete(f"/api/members/{leaver.user_id}")).status_code == 403  # an editor removes nobody
        assert (await api.delete(f"/api/members/{bo.user_id}")).status_code == 204
        assert (await as_bo.get("/api/campaigns")).status_code == 401  # the key is revoked at once
        assert (await bo_other.get("/api/campaigns")).status_code == 200  # their key elsewhere still works
        async with app.state.sessionmaker() as session:
            assert await auth.session_user(session, web_token) is None  # signed out
            assert await session.scalar(select(Member).where(Member.user_id == bo.user_id,
                                                             Member.workspace_id == 1)) is None
        keys = {k["name"]: k for k in (await api.get("/api/keys")).json()["items"]}
        assert keys["bo@shop.example's key"]["revoked"] is True  # kept, for the record
        assert (await api.delete(f"/api/members/{bo.user_id}")).status_code == 404
        # A member may leave by themself.
        assert (await as_lea.delete(f"/api/members/{leaver.user_id}")).status_code == 204
        assert (await as_lea.get("/api/campaigns")).status_code == 401


# --- keys -----------------------------------------------------------------------------------


async def test_keys_are_shown_once_scoped_by_role_and_listed_with_last_use(app) -> None:
    owner = await make_person(app, "ana@shop.example", "owner")
    editor = await make_person(app, "bo@shop.example", "editor")
    viewer = await make_person(app, "cy@shop.example", "viewer")  # a write key made for a viewer: acts as one
    async with app.state.sessionmaker() as session:
        other = await create_workspace(session, "Other brand")
        await session.commit()
    stranger = await make_person(app, "zed@other.example", "owner", other.id)
    async with client_of(app, owner.key) as api, client_of(app, editor.key) as bo, \
            client_of(app, viewer.key) as cy, client_of(app, stranger.key) as zed:
        made = await bo.post("/api/keys", json={"name": "ci", "scope": "write"})
        assert made.status_code == 201
        key = made.json()
        assert key["key"].startswith("ct_") and (key["name"], key["scope"]) == ("ci", "write")
        assert (await cy.post("/api/keys", json={"name": "dash", "scope": "write"})).status_code == 403
        read = await cy.post("/api/keys", json={"name": "dash", "scope": "read"})
        assert read.status_code == 201
        for bad in ({"name": "x", "scope": "admin"}, {"name": "", "scope": "read"}, {"name": "x"}):
            assert (await bo.post("/api/keys", json=bad)).status_code == 422, bad

        listed = await bo.get("/api/keys")
        assert key["key"] not in listed.text  # shown once, never again
        mine = listed.json()["items"]
        assert {k["name"] for k in mine} == {"ci", "bo@shop.example's key"}  # an editor sees their own
        ci = next(k for k in mine if k["name"] == "ci")
        assert ci["prefix"] == key["key"][:10] and ci["user_id"] == editor.user_id
        assert ci["last_used_at"] is None and ci["revoked"] is False
        async with client_of(app, key["key"]) as ci_client:
            assert (await ci_client.get("/api/campaigns")).status_code == 200
            ci = next(k for k in (await bo.get("/api/keys")).json()["items"] if k["name"] == "ci")
            assert ci["last_used_at"] is not None
            everyone = {k["name"] for k in (await api.get("/api/keys")).json()["items"]}
            assert {"ci", "dash", "ana@shop.example's key", "cy@shop.example's key"} <= everyone
            assert "zed@other.example's key" not in everyone  # admins see their workspace's keys only

            # Revoking: one's own, or an admin any; another workspace's is not there.
            owner_key_id = next(k["id"] for k in (await api.get("/api/keys")).json()["items"]
                                if k["name"] == "ana@shop.example's key")
            assert (await bo.delete(f"/api/keys/{owner_key_id}")).status_code == 403
            assert (await zed.delete(f"/api/keys/{key['id']}")).status_code == 404
            assert (await ci_client.get("/api/campaigns")).status_code == 200
            assert (await bo.delete(f"/api/keys/{key['id']}")).status_code == 204
            assert (await ci_client.get("/api/campaigns")).status_code == 401
            assert (await bo.delete("/api/keys/999999")).status_code == 404
            assert (await api.delete(f"/api/keys/{read.json()['id']}")).status_code == 204
        listed = {k["name"]: k for k in (await bo.get("/api/keys")).json()["items"]}
        assert listed["ci"]["revoked"] is True and listed["ci"]["revoked_at"] is not None


# --- roles against every write ----------------------------------------------------------------

# The least role each write needs (API.md "Workspaces, members, roles, keys"), by path prefix.
# A write route under no prefix here fails the test: a new route's rule cannot be forgotten.
ROLE_RULES = [
    ("/api/keys", "viewer"),  # any member makes and revokes their own keys (read ones for a viewer)
    ("/api/members", "admin"),
    ("/api/workspace", "admin"),
    ("/api/domains", "admin"),
    ("/api/sources", "admin"),
    ("/api/customers/erase", "admin"),
    ("/api/webhooks", "admin"),
    ("/api/integrations", "admin"),
    ("/api/campaigns", "editor"),
    ("/api/links", "editor"),
    ("/api/identify", "editor"),
]
ORDER = ["viewer", "editor", "admin", "owner"]
MISSING_ID = "999999"


def needed_role(path: str) -> str | None:
    return next((role for prefix, role in ROLE_RULES if path == prefix or path.startswith(prefix + "/")), None)


async def test_each_role_against_each_write_and_a_read_key_against_every_write(app) -> None:
    writes = write_routes(app)
    assert len(writes) >= 25
    unruled = [w for w in writes if needed_role(w[1]) is None]
    assert not unruled, f"write routes without a role rule in this test: {unruled}"
    people = {role: await make_person(app, f"{role}@shop.example", role) for role in ORDER}
    async with app.state.sessionmaker() as session:
        _key, server_key = await auth.create_api_key(session, "from the CLI")  # no user: acts as an owner
        _key, read_key = await auth.create_api_key(session, "dashboard", user_id=people["owner"].user_id,
                                                   scope="read")
        await session.commit()
    callers = [(role, people[role].key) for role in ORDER] + [("owner", server_key)]
    for role, key in callers:
        async with client_of(app, key) as api:
            for method, path in writes:
                url = re.sub(r"\{[^}]+\}", MISSING_ID, path)
                answer = await api.request(method, url, json={})
                allowed = ORDER.index(role) >= ORDER.index(needed_role(path))
                if allowed:
                    assert answer.status_code != 403, (role, method, path, answer.text)
                    assert answer.status_code < 500, (role, method, path, answer.text)
                else:
                    assert answer.status_code == 403, (role, method, path, answer.status_code, answer.text)
    async with client_of(app, read_key) as api:
        assert (await api.get("/api/campaigns")).status_code == 200
        for method, path in writes:
            answer = await api.request(method, re.sub(r"\{[^}]+\}", "1", path), json={})
            assert answer.status_code == 403, (method, path, answer.status_code)
            assert answer.json()["detail"] == "this API key may only read"
    async with client_of(app, people["viewer"].key) as api:  # nothing above was changed by the refusals
        assert (await api.get("/api/campaigns")).json()["items"] == []
        assert (await api.get("/api/workspace")).json()["name"] == "Default"
        assert len((await api.get("/api/members")).json()["items"]) == 4


# --- the CLI --------------------------------------------------------------------------------


def _run_cli(capsys, *argv: str) -> tuple[int, list[str], str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip().splitlines(), err


def _query(database_url: str, work):
    async def run():
        engine = create_engine(database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_cli_workspaces_keys_and_users(database_url, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CLICKTRAIL_DATABASE_URL", database_url)
    monkeypatch.setenv("CLICKTRAIL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CLICKTRAIL_SECRET_KEY", "test-secret-key-not-for-production")
    assert _run_cli(capsys, "user", "create", "--email", "Ana@shop.example", "--password", PASSWORD)[0] == 0
    assert _run_cli(capsys, "user", "create", "--email", "bo@shop.example", "--password", PASSWORD, "--no-admin")[0] == 0
    code, out, _ = _run_cli(capsys, "workspace", "create", "--name", "Acme Shop", "--owner", "ANA@shop.example")
    assert code == 0 and out[-1] == "acme-shop"
    code, out, _ = _run_cli(capsys, "workspace", "create", "--name", "Acme Shop")
    assert code == 0 and out[-1] == "acme-shop-2"
    code, _, err = _run_cli(capsys, "workspace", "create", "--name", "Nobody's", "--owner", "nobody@shop.example")
    assert code == 1 and "nobody@shop.example" in err
    assert _run_cli(capsys, "workspace", "create", "--name", "  ")[0] == 1

    code, out, _ = _run_cli(capsys, "apikey", "create", "--name", "dash", "--workspace", "acme-shop", "--scope", "read")
    assert code == 0
    read_key = out[-1]
    code, out, _ = _run_cli(capsys, "apikey", "create", "--name", "shop")
    assert code == 0
    default_key = out[-1]
    code, _, err = _run_cli(capsys, "apikey", "create", "--name", "x", "--workspace", "no-such-one")
    assert code == 1 and "no-such-one" in err

    async def look(session):
        workspaces = {w.slug: w for w in (await session.scalars(select(Workspace))).all()}
        keys = {k.key_hash: k for k in (await session.scalars(select(ApiKey))).all()}
        roles = {(m.workspace_id, u.email): m.role for m, u in (await session.execute(
            select(Member, User).join(User, User.id == Member.user_id))).all()}
        return workspaces, keys, roles

    workspaces, keys, roles = _query(database_url, look)
    assert set(workspaces) == {"default", "acme-shop", "acme-shop-2"}
    dash, shop = keys[auth.token_digest(read_key)], keys[auth.token_digest(default_key)]
    assert (dash.workspace_id, dash.scope, dash.user_id) == (workspaces["acme-shop"].id, "read", None)
    assert (shop.workspace_id, shop.scope) == (workspaces["default"].id, "write")  # the first workspace
    assert roles == {(workspaces["default"].id, "ana@shop.example"): "owner",
                     (workspaces["default"].id, "bo@shop.example"): "editor",
                     (workspaces["acme-shop"].id, "ana@shop.example"): "owner"}


async def test_an_invitation_link_opened_twice_at_once_makes_one_account(app) -> None:
    owner = await make_person(app, "ana@shop.example", "owner")
    async with client_of(app, owner.key) as api:
        token = await _invitation_token(api, "cy@shop.example", "editor")

    async def accept() -> str:
        async with app.state.sessionmaker() as session:
            try:
                await members.accept_invitation(session, token, None, "a long enough password")
            except NotFound:
                return "refused"
            await session.commit()
            return "joined"

    assert sorted(await asyncio.gather(accept(), accept())) == ["joined", "refused"]
    async with app.state.sessionmaker() as session:
        assert len((await session.scalars(select(User).where(User.email == "cy@shop.example"))).all()) == 1


async def test_a_workspaces_own_settings_rule_its_links_and_reports(api) -> None:
    """Allowed destination hosts, the reporting time zone and the attribution window set on the
    workspace are what its links and reports use (the installation allows any host, UTC, 30 days)."""
    patched = await api.patch("/api/workspace", json={"allowed_destination_hosts": ["shop.example"],
                                                       "timezone": "Asia/Tokyo", "attribution_window_days": 7})
    assert patched.status_code == 200, patched.text
    elsewhere = await api.post("/api/campaigns", json={"name": "X", "destination_url": "https://other.example/",
                                                        "channels": ["sms"]})
    assert elsewhere.status_code == 422 and "destination_url" in elsewhere.text
    ok = await api.post("/api/campaigns", json={"name": "Y", "destination_url": "https://www.shop.example/a",
                                                 "channels": ["sms"]})
    assert ok.status_code == 201, ok.text
    report = (await api.get(f"/api/reports/campaigns/{ok.json()['id']}", params={"from": "2026-03-01",
                                                                                 "to": "2026-03-02"})).json()
    assert report["tz"] == "Asia/Tokyo" and report["from"] == "2026-02-28T15:00:00+00:00", report
    assert (await api.patch("/api/workspace", json={"allowed_destination_hosts": None})).status_code == 200
    again = await api.post("/api/campaigns", json={"name": "X", "destination_url": "https://other.example/",
                                                    "channels": ["sms"]})
    assert again.status_code == 201
