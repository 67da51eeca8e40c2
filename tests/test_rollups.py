"""The overview's click roll-ups: kept exact (counts) and current by every write of clicks, and the
overview built from them agrees with the clicks themselves, whatever the period's edges.

Expected numbers are computed here from the list of clicks written, in Python; the service reads
them from `click_rollups` (whole UTC hours and days) and `clicks` (edge minutes).
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select, text

from clicktrail import migrate
from clicktrail.db import create_engine
from clicktrail.reports import rollups
from clicktrail.reports.models import ClickRollup

from conftest import Backend, click_row

UTC = timezone.utc
T0 = datetime(2026, 3, 1, tzinfo=UTC)  # a Sunday; Paris moves to summer time on the 29th
DAYS = 40


async def make_campaigns(api: httpx.AsyncClient, n: int) -> dict[int, int]:
    """{link id: campaign id}, one WhatsApp link per campaign."""
    links = {}
    for i in range(n):
        campaign = (await api.post("/api/campaigns", json={
            "name": f"Campaign {i}", "destination_url": "https://shop.example/", "channels": ["whatsapp"]})).json()
        links[campaign["links"][0]["id"]] = campaign["id"]
    return links


def random_clicks(links: dict[int, int], n: int, visitors: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        link = rng.choice(sorted(links))
        kind = rng.choices(["click", "preview", "bot"], [80, 15, 5])[0]
        at = T0 + timedelta(seconds=rng.randrange(DAYS * 86400), microseconds=rng.randrange(1_000_000))
        out.append({"click_id": f"r{seed}-{i:06d}", "link_id": link, "campaign_id": links[link], "kind": kind,
                    "channel": "whatsapp", "visitor_hash": f"{rng.randrange(visitors):032x}" if kind == "click" else None,
                    "occurred_at": at})
    return out


def expected(clicks: list[dict], start: datetime, end: datetime) -> tuple[dict[int, dict], dict]:
    rows: dict[int, dict] = {}
    everyone: set[str] = set()
    for c in clicks:
        if not start <= c["occurred_at"] < end:
            continue
        r = rows.setdefault(c["campaign_id"], {"clicks": 0, "previews": 0, "bots": 0, "visitors": set()})
        r[{"click": "clicks", "preview": "previews", "bot": "bots"}[c["kind"]]] += 1
        if c["kind"] == "click":
            r["visitors"].add(c["visitor_hash"])
            everyone.add(c["visitor_hash"])
    totals = {k: sum(r[k] for r in rows.values()) for k in ("clicks", "previews", "bots")}
    return rows, {**totals, "unique_visitors": len(everyone)}


async def write_in_batches(app, clicks: list[dict], size: int) -> None:
    for start in range(0, len(clicks), size):
        await app.state.recorder.write([click_row(**c) for c in clicks[start:start + size]])


async def overview(api: httpx.AsyncClient, query: str) -> dict:
    response = await api.get(f"/api/reports/overview?{query}")
    assert response.status_code == 200, response.text
    return response.json()


def check(report: dict, clicks: list[dict], start: datetime, end: datetime) -> None:
    assert report["unique_visitors_estimated"] is False  # a few hundred visitors: counted exactly
    rows, totals = expected(clicks, start, end)
    got = {r["key"]: r for r in report["rows"]}
    for campaign_id, want in rows.items():
        numbers = got[campaign_id]
        assert (numbers["clicks"], numbers["previews"], numbers["bots"]) == (want["clicks"], want["previews"], want["bots"])
        # Up to ~380 visitors a sketch still holds their hashes themselves: the count is exact.
        assert numbers["unique_visitors"] == len(want["visitors"])
    for campaign_id in set(got) - set(rows):
        assert (got[campaign_id]["clicks"], got[campaign_id]["previews"], got[campaign_id]["bots"]) == (0, 0, 0)
    assert {k: report["totals"][k] for k in totals} == totals


async def test_overview_from_rollups_matches_the_clicks_for_any_period(app, api: httpx.AsyncClient) -> None:
    links = await make_campaigns(api, 3)
    clicks = random_clicks(links, 3000, visitors=300, seed=1)
    await write_in_batches(app, clicks, 700)

    periods = [
        # whole local days: UTC, then Paris across the change to summer time (whole hours, not days)
        ("from=2026-03-02&to=2026-03-31&tz=UTC", datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        ("from=2026-03-20&to=2026-04-05&tz=Europe/Paris",
         datetime(2026, 3, 20, tzinfo=ZoneInfo("Europe/Paris")), datetime(2026, 4, 6, tzinfo=ZoneInfo("Europe/Paris"))),
        # half-hour zone: every edge falls mid-hour, so the edges come from the clicks themselves
        ("from=2026-03-05&to=2026-03-12&tz=Asia/Kolkata",
         datetime(2026, 3, 5, tzinfo=ZoneInfo("Asia/Kolkata")), datetime(2026, 3, 13, tzinfo=ZoneInfo("Asia/Kolkata"))),
        # times to the second, within one day, and a period shorter than an hour
        ("from=2026-03-10T03:17:09Z&to=2026-03-10T21:44:51Z",
         datetime(2026, 3, 10, 3, 17, 9, tzinfo=UTC), datetime(2026, 3, 10, 21, 44, 51, tzinfo=UTC)),
        ("from=2026-03-10T03:17:09Z&to=2026-03-10T03:52:00Z",
         datetime(2026, 3, 10, 3, 17, 9, tzinfo=UTC), datetime(2026, 3, 10, 3, 52, tzinfo=UTC)),
        ("from=2026-02-01&to=2026-06-30&tz=UTC", datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)),
    ]
    for query, start, end in periods:
        check(await overview(api, query), clicks, start.astimezone(UTC), end.astimezone(UTC))


async def test_rollups_count_each_click_once_and_only_written_ones(app, api: httpx.AsyncClient) -> None:
    links = await make_campaigns(api, 2)
    clicks = random_clicks(links, 1200, visitors=300, seed=2)
    await write_in_batches(app, clicks, 400)
    await write_in_batches(app, clicks[:500], 250)  # delivered again (a replayed spool): no change
    # Concurrent batches (several workers) on the same campaign hours: none overwrites another.
    more = random_clicks(links, 1200, visitors=300, seed=3)
    await asyncio.gather(*(app.state.recorder.write([click_row(**c) for c in more[i::6]]) for i in range(6)))
    everything = clicks + more

    async with app.state.sessionmaker() as session:
        stored = (await session.scalars(select(ClickRollup))).all()
    got = {(r.campaign_id, r.hours, r.starts_at): r for r in stored}
    want = rollups.tally((c["campaign_id"], c["kind"], c["visitor_hash"], c["occurred_at"]) for c in everything)
    assert set(got) == set(want)
    for key, tally in want.items():
        row = got[key]
        assert (row.clicks, row.previews, row.bots) == (tally.clicks, tally.previews, tally.bots), key
        estimate = rollups.sketch_of(row.visitors).get_estimate() if row.visitors else 0
        assert round(estimate) == len(tally.visitors), key

    query = "from=2026-03-01&to=2026-04-09&tz=UTC"
    check(await overview(api, query), everything, T0, T0 + timedelta(days=DAYS))

    # Rebuilt from the clicks (as the migration and bulk loads do), two days and 300 clicks at a time:
    # the same rows, the same sketches' counts.
    def snapshot(rows) -> dict:
        return {(r.campaign_id, r.hours, r.starts_at): (r.clicks, r.previews, r.bots,
                round(rollups.sketch_of(r.visitors).get_estimate()) if r.visitors else 0) for r in rows}

    before = snapshot(stored)
    async with app.state.engine.begin() as conn:
        assert await conn.run_sync(rollups.rebuild, timedelta(days=2), 300) == len(everything)
    async with app.state.sessionmaker() as session:
        assert snapshot((await session.scalars(select(ClickRollup))).all()) == before


async def test_large_audiences_are_estimated_within_two_percent(app, api: httpx.AsyncClient) -> None:
    links = await make_campaigns(api, 1)
    (link, campaign_id), = links.items()
    day = datetime(2026, 3, 10, tzinfo=UTC)
    # 60,000 clicks by 30,000 people over one day: past the sketch's exact range.
    clicks = [{"click_id": f"big{i:06d}", "link_id": link, "campaign_id": campaign_id, "kind": "click",
               "channel": "whatsapp", "visitor_hash": f"{(i * 7919) % 30_000:032x}",
               "occurred_at": day + timedelta(seconds=i * 86400 // 60_000)} for i in range(60_000)]
    await write_in_batches(app, clicks, 5000)
    report = await overview(api, "from=2026-03-10&to=2026-03-10&tz=UTC")
    (numbers,) = [r for r in report["rows"] if r["key"] == campaign_id]
    assert numbers["clicks"] == 60_000
    assert abs(numbers["unique_visitors"] - 30_000) <= 600, numbers["unique_visitors"]
    assert numbers["unique_visitors"] != 60_000  # people, not clicks
    assert report["unique_visitors_estimated"] is True


def test_migration_rolls_up_the_clicks_already_recorded(backend: Backend) -> None:
    url = backend.new_database()
    migrate.upgrade(url, "5e7a0c2d9b41")  # the revision before the roll-ups

    async def fill() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(
                    "INSERT INTO campaigns (id, name, slug, destination_url, created_at, updated_at) VALUES "
                    "(1, 'A', 'a', 'https://shop.example/', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
                await conn.execute(text(
                    "INSERT INTO links (id, nonce, campaign_id, destination_url, channel, click_count, disabled, "
                    "created_at, updated_at) VALUES (1, 1, 1, 'https://shop.example/', 'sms', 0, false, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
                for i, (kind, visitor, at) in enumerate([
                    ("click", "a" * 32, "2026-03-10 10:05:00"), ("click", "a" * 32, "2026-03-10 10:55:00"),
                    ("click", "b" * 32, "2026-03-10 11:00:00"), ("preview", None, "2026-03-11 00:00:00"),
                    ("bot", None, "2026-03-11 09:00:00"),
                ]):
                    await conn.execute(text(
                        "INSERT INTO clicks (click_id, link_id, campaign_id, kind, channel, device, visitor_hash, "
                        "is_qr, occurred_at) VALUES (:id, 1, 1, :kind, 'sms', 'mobile', :visitor, false, :at)"),
                        {"id": f"old{i}", "kind": kind, "visitor": visitor,
                         "at": datetime.fromisoformat(at).replace(tzinfo=UTC) if "postgresql" in url else at})
        finally:
            await engine.dispose()

    async def read() -> dict:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(select(ClickRollup.__table__))).all()
                return {(r.hours, r.starts_at): (r.clicks, r.previews, r.bots,
                                                 round(rollups.sketch_of(r.visitors).get_estimate()) if r.visitors else 0)
                        for r in rows}
        finally:
            await engine.dispose()

    asyncio.run(fill())
    migrate.upgrade(url)
    hour = lambda d, h: datetime(2026, 3, d, h, tzinfo=UTC)  # noqa: E731
    assert asyncio.run(read()) == {
        (1, hour(10, 10)): (2, 0, 0, 1),
        (1, hour(10, 11)): (1, 0, 0, 1),
        (1, hour(11, 0)): (0, 1, 0, 0),
        (1, hour(11, 9)): (0, 0, 1, 0),
        (24, hour(10, 0)): (3, 0, 0, 2),
        (24, hour(11, 0)): (0, 1, 1, 0),
    }
