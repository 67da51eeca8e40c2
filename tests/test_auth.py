"""Sign-in throttling and first-admin setup under concurrency, on both engines."""

from __future__ import annotations

import asyncio
import re

import httpx
from sqlalchemy import func, select

from clicktrail.auth.models import SignInThrottle, User
from test_web import PASSWORD, csrf_of, setup_link, sign_in
from test_workspaces import make_person


async def make_user(app, email: str = "ana@shop.example", is_admin: bool = True) -> None:
    """An account in the first workspace: its owner, else an editor."""
    await make_person(app, email, "owner" if is_admin else "editor")


async def _token(client: httpx.AsyncClient) -> str:
    return csrf_of((await client.get("/login")).text)


def _message(html: str) -> str:
    found = re.findall(r'<p class="error"[^>]*>([^<]+)</p>', html)
    return " | ".join(found)


async def test_twenty_concurrent_wrong_passwords_for_one_account_are_all_counted(app, client) -> None:
    await make_user(app)
    token = await _token(client)
    answers = await asyncio.gather(*(
        client.post("/login", data={"email": "ana@shop.example", "password": f"wrong-{i}", "csrf_token": token})
        for i in range(20)))
    assert all(a.status_code in (401, 429) for a in answers), [a.status_code for a in answers]
    async with app.state.sessionmaker() as session:
        rows = (await session.scalars(select(SignInThrottle))).all()
    counts = {r.key.split(":")[0]: r.failures for r in rows}
    # Every try counted once, by the account key and the client key, whatever ran in parallel.
    assert counts == {"account": 20, "client": 20}
    statuses = [a.status_code for a in answers]
    assert statuses.count(401) >= 4 and statuses.count(429) >= 1  # checked, then made to wait


async def test_a_known_and_an_unknown_account_get_the_same_answers_try_after_try(app) -> None:
    await make_user(app)
    from clicktrail.app import asgi_app

    async def tries(email: str, client_ip: str) -> list[tuple[int, str]]:
        transport = httpx.ASGITransport(app=asgi_app(app), client=(client_ip, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://ct.test") as client:
            token = await _token(client)
            seen = []
            for _ in range(7):
                answer = await client.post("/login", data={"email": email, "password": "not-the-password",
                                                           "csrf_token": token})
                seen.append((answer.status_code, _message(answer.text)))
            return seen

    known = await tries("ana@shop.example", "203.0.113.7")
    unknown = await tries("nobody@shop.example", "203.0.113.8")
    assert known == unknown
    assert [s for s, _ in known][:4] == [401] * 4 and known[-1][0] == 429


async def test_a_stranger_guessing_cannot_lock_the_owner_out(app) -> None:
    await make_user(app)
    from clicktrail.app import asgi_app

    async def sign_in(client_ip: str, password: str) -> int:
        transport = httpx.ASGITransport(app=asgi_app(app), client=(client_ip, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://ct.test") as client:
            token = await _token(client)
            answer = await client.post("/login", data={"email": "ana@shop.example", "password": password,
                                                       "csrf_token": token})
            return answer.status_code

    for _ in range(8):
        await sign_in("198.51.100.66", "guess")
    assert await sign_in("198.51.100.66", "correct horse battery") == 429  # the stranger waits
    assert await sign_in("203.0.113.7", "correct horse battery") == 303  # the owner signs in


async def test_two_concurrent_setups_make_one_admin(app) -> None:
    from clicktrail.app import asgi_app

    link = await setup_link(app)

    async def setup(email: str) -> int:
        transport = httpx.ASGITransport(app=asgi_app(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://ct.test") as client:
            page = await client.get(f"/setup?token={link}")
            token = csrf_of(page.text)
            answer = await client.post("/setup", data={"email": email, "password": "a long password",
                                                       "password_again": "a long password", "csrf_token": token,
                                                       "token": link})
            return answer.status_code

    statuses = await asyncio.gather(*(setup(f"admin{i}@shop.example") for i in range(5)))
    assert all(s == 303 for s in statuses)
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 1


async def test_a_password_change_ends_every_other_session(app) -> None:
    await make_user(app)
    from clicktrail.app import asgi_app

    def browser() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(app)), base_url="http://ct.test")

    async with browser() as laptop, browser() as phone:
        assert (await sign_in(laptop)).status_code == 303 and (await sign_in(phone)).status_code == 303
        token = csrf_of((await laptop.get("/settings")).text)
        wrong = await laptop.post("/settings/password", data={
            "current_password": "not it", "new_password": "a new long password",
            "new_password_again": "a new long password", "csrf_token": token})
        assert wrong.status_code == 422 and "not your current password" in wrong.text
        changed = await laptop.post("/settings/password", data={
            "current_password": PASSWORD, "new_password": "a new long password",
            "new_password_again": "a new long password", "csrf_token": token})
        assert changed.status_code == 303
        assert (await laptop.get("/")).status_code == 200  # this browser stays signed in
        assert (await phone.get("/")).status_code == 303  # the other is signed out at once
        assert (await sign_in(phone)).status_code == 401
        assert (await sign_in(phone, password="a new long password")).status_code == 303


async def test_removing_a_user_revokes_their_keys_and_ends_their_sessions(app) -> None:
    await make_user(app)
    await make_user(app, "bo@shop.example", is_admin=False)
    from clicktrail.app import asgi_app

    def browser() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(app)), base_url="http://ct.test")

    async with browser() as admin, browser() as bo:
        await sign_in(admin)
        await sign_in(bo, email="bo@shop.example")
        made = await bo.post("/settings/keys", data={"name": "bo's script", "csrf_token": csrf_of((await bo.get("/settings")).text)})
        key = re.search(r"(ct_[A-Za-z0-9_-]{40,})", made.text).group(1)
        assert (await bo.get("/api/campaigns", headers={"Authorization": f"Bearer {key}"})).status_code == 200
        # Bo may not revoke the admin's key.
        admin_made = await admin.post("/settings/keys", data={"name": "shop", "csrf_token": csrf_of((await admin.get("/settings")).text)})
        assert admin_made.status_code == 200
        async with app.state.sessionmaker() as session:
            from clicktrail.auth.models import ApiKey
            admin_key = await session.scalar(select(ApiKey).where(ApiKey.name == "shop"))
            bo_id = await session.scalar(select(User.id).where(User.email == "bo@shop.example"))
        refused = await bo.post(f"/settings/keys/{admin_key.id}/revoke", data={"csrf_token": csrf_of((await bo.get("/settings")).text)})
        assert refused.status_code == 403
        removed = await admin.post(f"/settings/users/{bo_id}/delete", data={"csrf_token": csrf_of((await admin.get("/settings")).text)})
        assert removed.status_code == 303
        assert (await bo.get("/")).status_code == 303  # signed out
        assert (await bo.get("/api/campaigns", headers={"Authorization": f"Bearer {key}"})).status_code == 401


async def test_a_read_key_reads_and_gets_403_on_every_write(app) -> None:
    from clicktrail.app import asgi_app
    from clicktrail.auth import service as auth

    async with app.state.sessionmaker() as session:
        _key, read_key = await auth.create_api_key(session, "dashboard", scope="read")
        await session.commit()
    # Every write operation the app documents (so a new route is covered by itself).
    writes = [(method.upper(), path) for path, operations in app.openapi()["paths"].items()
              for method in operations if path.startswith("/api/") and method not in ("get", "head")]
    assert len(writes) >= 8  # every write route the app has, found from its routes
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(app)), base_url="http://ct.test",
                                 headers={"Authorization": f"Bearer {read_key}"}) as api:
        assert (await api.get("/api/campaigns")).status_code == 200
        for method, path in writes:
            path = re.sub(r"\{[^}]+\}", "1", path)
            answer = await api.request(method, path, json={})
            assert answer.status_code == 403, (method, path, answer.status_code)
            assert answer.json()["detail"] == "this API key may only read"
