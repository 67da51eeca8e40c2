"""The redirect and click recording (API.md: The redirect, Clicks)."""

from __future__ import annotations

import asyncio
import runpy
import time
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select, text

from clicktrail.app import asgi_app, create_app
from clicktrail.clicks.detect import classify
from clicktrail.clicks.ids import click_time, is_click_id, new_click_id
from clicktrail.clicks.models import Click
from clicktrail.clicks.recorder import Hit, Recorder
from clicktrail.db import create_engine
from clicktrail.links.models import Link
from clicktrail.models import Base
from clicktrail.workspaces.service import default_workspace
from conftest import BASE_URL, Backend

DATA = Path(__file__).parent / "data"
USER_AGENTS = runpy.run_path(str(DATA / "user_agents.py"))["USER_AGENTS"]

# Real strings, from tests/data/user_agents.py (sources cited there).
WHATSAPP_PREVIEW = next(ua for ua, kind, app, _ in USER_AGENTS if kind == "preview" and app == "whatsapp")
MESSENGER_TAP = next(ua for ua, kind, app, _ in USER_AGENTS if kind == "click" and app == "messenger")
IPHONE_SAFARI = next(ua for ua, kind, app, _ in USER_AGENTS if kind == "click" and app is None and "iPhone" in ua)


@pytest.mark.parametrize(("ua", "kind", "app", "source"), USER_AGENTS, ids=[f"{k}-{a}-{i}" for i, (_u, k, a, _s) in enumerate(USER_AGENTS)])
def test_real_user_agents_are_classified(ua: str, kind: str, app: str | None, source: str) -> None:
    assert tuple(classify(ua)) == (kind, app), source


def test_click_ids_are_time_ordered_and_unguessable() -> None:
    earlier = new_click_id(1_700_000_000_000)
    later = new_click_id(1_700_000_000_001)
    assert earlier < later and is_click_id(earlier) and len(earlier) == 22
    assert click_time(earlier) == datetime.fromtimestamp(1_700_000_000, timezone.utc)
    ids = {new_click_id(1_700_000_000_000) for _ in range(10_000)}
    assert len(ids) == 10_000


async def _link(api: httpx.AsyncClient, **fields) -> dict:
    body = {"destination_url": "https://shop.example/p", "channel": "whatsapp", **fields}
    response = await api.post("/api/links", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def _clicks(app, **where) -> list[Click]:
    await app.state.recorder.flush()
    async with app.state.sessionmaker() as session:
        query = select(Click).order_by(Click.click_id)
        for key, value in where.items():
            query = query.where(getattr(Click, key) == value)
        return list((await session.scalars(query)).all())


def _query(location: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(location).query, keep_blank_values=True)


async def test_location_adds_utm_tags_keeps_the_destinations_own_and_adds_the_click_id(app, api, client) -> None:
    campaign = (await api.post("/api/campaigns", json={
        "name": "Spring", "destination_url": "https://shop.example/p?utm_source=x&color=red#top", "channels": ["whatsapp"],
    })).json()
    link = campaign["links"][0]
    response = await client.get(f"/{link['code']}", headers={"user-agent": IPHONE_SAFARI})
    assert response.status_code == 302
    assert response.headers["cache-control"] == "private, no-store"
    location = response.headers["location"]
    assert location.startswith("https://shop.example/p?") and location.endswith("#top")
    query = _query(location)
    click_id = dict(query)["ct_id"]
    assert query == [
        ("utm_source", "x"), ("color", "red"), ("utm_medium", "social"), ("utm_campaign", "spring"),
        ("utm_content", link["code"]), ("ct_id", click_id),
    ]
    [click] = await _clicks(app)
    assert click.click_id == click_id and click.kind == "click" and click.channel == "whatsapp"
    assert (click.device, click.os) == ("mobile", "iOS")


async def test_short_url_query_is_passed_on_but_never_duplicates_tags_or_the_click_id(app, api, client) -> None:
    link = await _link(api)
    response = await client.get(f"/{link['code']}?ref=abc&utm_source=tg&ct_id=forged&empty=")
    query = _query(response.headers["location"])
    names = [k for k, _ in query]
    assert ("ref", "abc") in query and ("empty", "") in query
    assert names.count("utm_source") == 1 and dict(query)["utm_source"] == "whatsapp"
    assert names.count("ct_id") == 1 and dict(query)["ct_id"] != "forged"


async def test_ad_click_ids_are_kept_on_the_click_and_still_passed_on(app, api, client) -> None:
    link = await _link(api)
    ids = {"fbclid": "IwAR2x_Fj3", "gclid": "Cj0KCQiA", "gbraid": "0AAAAA", "wbraid": "CkAKCQ",
           "ttclid": "E.C.P.v3", "msclkid": "8f0e1c2d", "ctwa_clid": "ARAkLkA9"}
    query = "&".join(f"{k}={v}" for k, v in ids.items()) + "&ref=newsletter&fbclid=second"
    response = await client.get(f"/{link['code']}?{query}", headers={"user-agent": IPHONE_SAFARI})
    passed = _query(response.headers["location"])
    assert all((k, v) in passed for k, v in ids.items()) and ("fbclid", "second") in passed
    await _clicks(app)  # written
    [click] = (await api.get("/api/clicks", params={"link_id": link["id"]})).json()["items"]
    assert click["ad_click_ids"] == ids  # the first of each; other parameters are not ad click ids
    plain = await _link(api)
    await client.get(f"/{plain['code']}?ref=x", headers={"user-agent": IPHONE_SAFARI})
    await _clicks(app)  # written
    [other] = (await api.get("/api/clicks", params={"link_id": plain["id"]})).json()["items"]
    assert other["ad_click_ids"] == {}


async def test_qr_scans_are_recorded_and_the_marker_is_not_passed_on(app, api, client) -> None:
    link = await _link(api, channel="qr")
    response = await client.get(f"/{link['code']}?qr=1", headers={"user-agent": IPHONE_SAFARI})
    assert "qr=" not in response.headers["location"]
    [click] = await _clicks(app)
    assert click.is_qr and click.kind == "click"
    listed = (await api.get("/api/clicks", params={"link_id": link["id"]})).json()["items"]
    assert listed[0]["qr"] is True


async def test_unknown_codes_are_404_and_ended_links_410(app, api, client) -> None:
    missing = await client.get("/nosuchcode")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert "Traceback" not in missing.text and "not found" in missing.text.lower()

    disabled = await _link(api)
    await api.patch(f"/api/links/{disabled['id']}", json={"disabled": True})
    assert (await client.get(f"/{disabled['code']}")).status_code == 410

    expired = await _link(api, expires_at=(datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat())
    assert (await client.get(f"/{expired['code']}")).status_code == 410

    # Re-enabling is seen at once: writes invalidate the cache.
    await api.patch(f"/api/links/{disabled['id']}", json={"disabled": False})
    assert (await client.get(f"/{disabled['code']}")).status_code == 302


async def test_click_limit_counts_people_only(app, api, client) -> None:
    link = await _link(api, max_clicks=2)
    for ua in (WHATSAPP_PREVIEW, WHATSAPP_PREVIEW):
        assert (await client.get(f"/{link['code']}", headers={"user-agent": ua})).status_code == 302
    assert (await client.head(f"/{link['code']}")).status_code == 302
    assert (await client.get(f"/{link['code']}", headers={"user-agent": IPHONE_SAFARI})).status_code == 302
    await app.state.recorder.flush()  # the limit holds whether the first clicks are written or not
    assert (await client.get(f"/{link['code']}", headers={"user-agent": MESSENGER_TAP})).status_code == 302
    assert (await client.get(f"/{link['code']}", headers={"user-agent": IPHONE_SAFARI})).status_code == 410
    clicks = await _clicks(app, link_id=link["id"])
    assert sorted(c.kind for c in clicks) == ["bot", "click", "click", "preview", "preview"]
    assert (await api.get(f"/api/links/{link['id']}")).json()["clicks"] == 2


async def test_head_is_recorded_as_a_bot(app, api, client) -> None:
    link = await _link(api)
    response = await client.head(f"/{link['code']}", headers={"user-agent": IPHONE_SAFARI})
    assert response.status_code == 302 and "ct_id=" in response.headers["location"]
    [click] = await _clicks(app)
    assert (click.kind, click.device) == ("bot", "bot")


async def test_whatsapp_preview_is_a_share_signal_not_a_click(app, api, client) -> None:
    link = await _link(api, channel="whatsapp")
    response = await client.get(f"/{link['code']}", headers={"user-agent": WHATSAPP_PREVIEW})
    assert response.status_code == 302  # the preview still gets the page it wants to draw
    [hit] = await _clicks(app)
    assert (hit.kind, hit.app, hit.channel) == ("preview", "whatsapp", "whatsapp")
    assert hit.visitor_hash is None  # previews are share signals, not visitors
    assert (await api.get(f"/api/links/{link['id']}")).json()["clicks"] == 0
    assert (await api.get("/api/clicks", params={"kind": "click"})).json()["items"] == []


async def test_messenger_tap_on_a_whatsapp_link_was_forwarded(app, api, client) -> None:
    link = await _link(api, channel="whatsapp")
    await client.get(f"/{link['code']}", headers={"user-agent": MESSENGER_TAP, "referer": "https://l.messenger.com/x?y=1"})
    [hit] = await _clicks(app)
    assert (hit.kind, hit.app, hit.channel) == ("click", "messenger", "whatsapp")
    body = (await api.get(f"/api/clicks/{hit.click_id}")).json()
    assert body["app"] == "messenger" and body["channel"] == "whatsapp" and body["device"] == "mobile"
    assert body["referrer_host"] == "l.messenger.com" and body["link_id"] == link["id"]
    assert (await api.get("/api/clicks/00000000000000000000zz")).status_code == 404


async def test_visitors_are_counted_without_storing_the_ip(app, api, settings) -> None:
    link = await _link(api)
    ip = "203.0.113.77"
    transport = httpx.ASGITransport(app=asgi_app(app), client=(ip, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as browser:
        first = await browser.get(f"/{link['code']}", headers={"user-agent": IPHONE_SAFARI})
        cookie = first.cookies.get("ctv")
        assert cookie and "HttpOnly" in first.headers["set-cookie"]
        await browser.get(f"/{link['code']}", headers={"user-agent": IPHONE_SAFARI})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(app), client=("198.51.100.9", 1)),
                                 base_url=BASE_URL) as other:
        await other.get(f"/{link['code']}", headers={"user-agent": IPHONE_SAFARI})
    clicks = await _clicks(app)
    # Ids within one millisecond are in random order, so compare counts, not positions.
    hashes = sorted(c.visitor_hash == cookie for c in clicks)
    assert hashes == [False, True, True] and all(c.visitor_hash for c in clicks)
    async with app.state.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                assert ip not in repr(tuple(row)), f"raw IP stored in {table.name}"
    assert ip not in "".join(p.read_text() for p in Path(settings.data_dir).rglob("*") if p.is_file() and p.suffix == ".jsonl")


async def test_country_comes_from_the_trusted_header_first(settings, api, app) -> None:
    link = await _link(api)
    async with _running(settings.model_copy(update={"country_header": "CF-IPCountry"})) as (app2, c2):
        await c2.get(f"/{link['code']}", headers={"cf-ipcountry": "de"})
        await c2.get(f"/{link['code']}", headers={"cf-ipcountry": "<script>"})  # not a country: the IP
        clicks = await _clicks(app2)
    # Two taps in one millisecond may sort either way; loopback is in no country.
    assert sorted(str(c.country) for c in clicks) == ["DE", "None"]


async def test_a_click_is_visible_in_the_api_within_two_seconds(api, client) -> None:
    link = await _link(api)
    response = await client.get(f"/{link['code']}")
    click_id = dict(_query(response.headers["location"]))["ct_id"]
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        if (await api.get(f"/api/clicks/{click_id}")).status_code == 200:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("click not visible within 2 seconds")


async def test_click_list_filters_and_pages(app, api, client) -> None:
    a = await _link(api)
    b = await _link(api, channel="sms")
    for _ in range(3):
        await client.get(f"/{a['code']}")
    await client.get(f"/{b['code']}", headers={"user-agent": WHATSAPP_PREVIEW})
    await app.state.recorder.flush()
    assert len((await api.get("/api/clicks", params={"link_id": a["id"]})).json()["items"]) == 3
    assert len((await api.get("/api/clicks", params={"kind": "preview"})).json()["items"]) == 1
    seen, cursor = [], None
    while True:
        page = (await api.get("/api/clicks", params={"limit": 3, **({"cursor": cursor} if cursor else {})})).json()
        seen += [c["click_id"] for c in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert len(seen) == 4 and seen == sorted(seen, reverse=True)
    assert (await api.get("/api/clicks", params={"kind": "human"})).status_code == 422


@asynccontextmanager
async def _running(settings):
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(application)), base_url=BASE_URL) as c:
            yield application, c


async def _count_clicks(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(Click)))
    finally:
        await engine.dispose()


async def test_two_thousand_concurrent_redirects_are_all_recorded(settings, database_url) -> None:
    async with _running(settings) as (application, c):
        async with application.state.sessionmaker() as session:
            workspace = await default_workspace(session)  # PostgreSQL's tests start from empty tables
            link = Link(workspace_id=workspace.id, nonce=1, destination_url="https://shop.example/", channel="sms")
            session.add(link)
            await session.commit()
            code = application.state.link_context.code_of(link)
        responses = await asyncio.gather(
            *(c.get(f"/{code}", headers={"user-agent": f"Mozilla/5.0 (iPhone) Test/{i % 400}"}) for i in range(2000))
        )
        assert {r.status_code for r in responses} == {302}
    # The lifespan has ended: whatever was still buffered was drained on the way out.
    assert await _count_clicks(database_url) == 2000


async def test_clicks_survive_an_unwritable_database_through_the_spool(tmp_path, database_url, backend) -> None:
    if backend.name == "sqlite":
        broken = create_engine(f"sqlite+aiosqlite:///{tmp_path}/missing-dir/x.db")
    else:
        broken = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    good = create_engine(database_url)
    try:
        async with good.begin() as conn:
            if not await conn.scalar(text("SELECT count(*) FROM workspaces WHERE id = 1")):
                await conn.execute(text("INSERT INTO workspaces (id, slug, name, created_at) VALUES (1, 'default', 'Default', :t)"),
                                   {"t": datetime.now(timezone.utc).replace(tzinfo=None) if backend.name == "sqlite" else datetime.now(timezone.utc)})
            await conn.execute(text("INSERT INTO links (id, workspace_id, nonce, destination_url, channel, click_count, disabled, created_at, updated_at) "
                                    "VALUES (7, 1, 1, 'https://x.example/', 'sms', 0, false, :t, :t)"),
                               {"t": datetime.now(timezone.utc).replace(tzinfo=None) if backend.name == "sqlite" else datetime.now(timezone.utc)})
        down = Recorder(broken, tmp_path / "spool")
        hits = [Hit(new_click_id(), 7, None, "sms", IPHONE_SAFARI, None, None, None, False, False, time.time(), workspace_id=1)
                for _ in range(25)]
        for hit in hits:
            down.record(hit)
        await down.flush()
        assert down.stats.spooled == 25 and down.stats.written == 0 and not down.database_ok
        up = Recorder(good, tmp_path / "spool")
        await up.replay_spool()
        await up.replay_spool()  # nothing left the second time: no duplicates
        assert up.stats.replayed == 25
        async with good.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(Click)) == 25
            assert await conn.scalar(select(Link.click_count).where(Link.id == 7)) == 25
        assert not list((tmp_path / "spool").glob("*.jsonl"))
    finally:
        await broken.dispose()
        await good.dispose()


@pytest.mark.postgres_only
async def test_database_outage_mid_run_loses_no_click(settings, database_url, backend: Backend) -> None:
    db_name = database_url.rsplit("/", 1)[1]
    admin_url = backend.template_url.replace("+asyncpg", "").rsplit("/", 1)[0] + "/postgres"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    answered = 0
    async with _running(settings.model_copy(update={"link_cache_ttl": 600})) as (application, c):
        async with application.state.sessionmaker() as session:
            workspace = await default_workspace(session)  # PostgreSQL's tests start from empty tables
            link = Link(workspace_id=workspace.id, nonce=1, destination_url="https://shop.example/", channel="sms")
            session.add(link)
            await session.commit()
            code = application.state.link_context.code_of(link)
        try:
            for phase in range(3):
                if phase == 1:  # the database goes away: refuse new connections, kill the app's
                    await admin(f'ALTER DATABASE "{db_name}" ALLOW_CONNECTIONS false')
                    await admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db_name}'")
                if phase == 2:
                    assert application.state.recorder.stats.spooled > 0, "clicks should have been spooled"
                    await admin(f'ALTER DATABASE "{db_name}" ALLOW_CONNECTIONS true')
                for _ in range(100):
                    response = await c.get(f"/{code}")
                    assert response.status_code == 302  # served from the cache throughout
                    answered += 1
                await asyncio.sleep(0.6)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                await asyncio.sleep(0.3)
                try:
                    if await _count_clicks(database_url) == answered:
                        break
                except Exception:
                    continue
        finally:
            await admin(f'ALTER DATABASE "{db_name}" ALLOW_CONNECTIONS true')
        assert application.state.recorder.stats.lost == 0
    assert await _count_clicks(database_url) == answered == 300


@pytest.mark.postgres_only
async def test_a_write_in_one_worker_invalidates_the_cache_of_another(settings) -> None:
    slow = settings.model_copy(update={"link_cache_ttl": 600})
    async with _running(slow) as (writer, wc), _running(slow) as (reader, rc):
        async with writer.state.sessionmaker() as session:
            from clicktrail.auth.service import create_api_key
            _key, plain = await create_api_key(session, "t")
            await session.commit()
        headers = {"Authorization": f"Bearer {plain}"}
        await asyncio.sleep(0.5)  # the reader's LISTEN connection is up
        link = (await wc.post("/api/links", json={"destination_url": "https://a.example/", "channel": "sms"}, headers=headers)).json()
        assert (await rc.get(f"/{link['code']}")).headers["location"].startswith("https://a.example/")
        await wc.patch(f"/api/links/{link['id']}", json={"destination_url": "https://b.example/"}, headers=headers)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if (await rc.get(f"/{link['code']}")).headers["location"].startswith("https://b.example/"):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the other worker kept serving the old destination")


async def test_the_apps_own_single_segment_paths_are_never_short_codes(app, client) -> None:
    from fastapi import APIRouter

    from clicktrail.redirect.route import ShortLinks

    # Routes of included routers count too, however FastAPI stores them.
    extra = APIRouter(prefix="/extra")
    extra.add_api_route("/x", lambda: {"ok": True})
    top = APIRouter()
    top.add_api_route("/robots-test.txt", lambda: "ok")
    top.include_router(extra)
    app.include_router(top)
    paths = ShortLinks(app)._app_paths()
    assert {"/robots-test.txt", "/healthz", "/readyz", "/ct.js", "/login", "/docs"} <= paths
    assert "/extra/x" not in paths  # two segments: never a code anyway
    for path in ("/healthz", "/ct.js", "/login", "/openapi.json"):
        response = await client.get(path)
        assert response.status_code in (200, 303), path  # /login sends a new install to /setup
        assert "Link not found" not in response.text
