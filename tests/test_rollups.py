"""The overview's click roll-ups: kept exact (counts) and current by every write of clicks, and the
overview built from them agrees with the clicks themselves, whatever the period's edges.

Expected numbers are computed here from the list of clicks written, in Python; the service reads
them from `click_rollups` (whole UTC hours and days) and `clicks` (edge minutes).
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select, text

from clicktrail import migrate
from clicktrail.db import create_engine
from clicktrail.reports import rollups

from conftest import Backend, click_row

UTC = timezone.utc
T0 = datetime(2026, 3, 1, tzinfo=UTC)  # a Sunday; Paris moves to summer time on the 29th
DAYS = 40


async def make_campaigns(api: httpx.AsyncClient, n: int) -> dict[int, tuple[int, str]]:
    """{link id: (campaign id, channel)}: a WhatsApp and a Telegram link per campaign."""
    links = {}
    for i in range(n):
        campaign = (await api.post("/api/campaigns", json={
            "name": f"Campaign {i}", "destination_url": "https://shop.example/",
            "channels": ["whatsapp", "telegram"]})).json()
        for link in campaign["links"]:
            links[link["id"]] = (campaign["id"], link["channel"])
    return links


def random_clicks(links: dict[int, tuple[int, str]], n: int, visitors: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        link = rng.choice(sorted(links))
        campaign_id, channel = links[link]
        kind = rng.choices(["click", "preview", "bot"], [80, 15, 5])[0]
        at = T0 + timedelta(seconds=rng.randrange(DAYS * 86400), microseconds=rng.randrange(1_000_000))
        out.append({"click_id": f"r{seed}-{i:06d}", "link_id": link, "campaign_id": campaign_id, "kind": kind,
                    "channel": channel, "app": rng.choice([None, channel, "messenger"]),
                    "visitor_hash": f"{rng.randrange(visitors):032x}" if kind == "click" else None,
                    "occurred_at": at})
    return out


def facts(c: dict) -> tuple:
    return (c.get("workspace_id", 1), c["campaign_id"], c["link_id"], c["channel"], c["app"], c["kind"], c["visitor_hash"], c["occurred_at"])


def expected(clicks: list[dict], start: datetime, end: datetime, key) -> tuple[dict, dict]:
    """Rows by `key(click)` and totals, counted here: (clicks, previews, bots, unique visitors)."""
    rows: dict = {}
    everyone: set[str] = set()
    totals = {"clicks": 0, "previews": 0, "bots": 0}
    for c in clicks:
        if not start <= c["occurred_at"] < end:
            continue
        r = rows.setdefault(key(c), {"clicks": 0, "previews": 0, "bots": 0, "visitors": set()})
        field = {"click": "clicks", "preview": "previews", "bot": "bots"}[c["kind"]]
        r[field] += 1
        totals[field] += 1
        if c["kind"] == "click":
            r["visitors"].add(c["visitor_hash"])
            everyone.add(c["visitor_hash"])
    numbers = {k: (r["clicks"], r["previews"], r["bots"], len(r["visitors"])) for k, r in rows.items()}
    return numbers, {**totals, "unique_visitors": len(everyone)}


async def write_in_batches(app, clicks: list[dict], size: int) -> None:
    for start in range(0, len(clicks), size):
        await app.state.recorder.write([click_row(**c) for c in clicks[start:start + size]])


async def get(api: httpx.AsyncClient, url: str) -> dict:
    response = await api.get(url)
    assert response.status_code == 200, response.text
    return response.json()


def check(report: dict, want: tuple[dict, dict], key_of=lambda row: row["key"]) -> None:
    """Every row's and the totals' numbers as counted here. Up to ~380 visitors a sketch still
    holds their hashes themselves: unique visitors are exact, and the report says so."""
    rows, totals = want
    got = {key_of(r): (r["clicks"], r["previews"], r["bots"], r["unique_visitors"]) for r in report["rows"]}
    assert {k: v for k, v in got.items() if v != (0, 0, 0, 0)} == rows
    assert {k: report["totals"][k] for k in totals} == totals
    assert report["unique_visitors_estimated"] is False


async def check_every_report(api: httpx.AsyncClient, clicks: list[dict], query: str, start: datetime,
                             end: datetime) -> None:
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    zone = ZoneInfo(parse_qs(query).get("tz", ["UTC"])[0])
    check(await get(api, f"/api/reports/overview?{query}"), expected(clicks, start, end, lambda c: c["campaign_id"]))
    campaign_id = min(c["campaign_id"] for c in clicks)
    mine = [c for c in clicks if c["campaign_id"] == campaign_id]
    url = f"/api/reports/campaigns/{campaign_id}?{query}&group_by="
    check(await get(api, url + "channel"), expected(mine, start, end, lambda c: c["channel"]))
    check(await get(api, url + "link"), expected(mine, start, end, lambda c: c["link_id"]))
    check(await get(api, url + "app"), expected(mine, start, end, lambda c: c["app"]))
    check(await get(api, url + "day"), expected(mine, start, end, lambda c: c["occurred_at"].astimezone(zone).date().isoformat()))
    check(await get(api, f"/api/reports/forwarding?campaign_id={campaign_id}&{query}"),
          expected(mine, start, end, lambda c: (c["channel"], c["app"])), lambda row: (row["channel"], row["app"]))


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
        await check_every_report(api, clicks, query, start, end)


async def test_rollups_count_each_click_once_and_only_written_ones(app, api: httpx.AsyncClient) -> None:
    links = await make_campaigns(api, 2)
    clicks = random_clicks(links, 1200, visitors=300, seed=2)
    await write_in_batches(app, clicks, 400)
    await write_in_batches(app, clicks[:500], 250)  # delivered again (a replayed spool): no change
    # Concurrent batches (several workers) on the same campaign hours: none overwrites another.
    more = random_clicks(links, 1200, visitors=300, seed=3)
    await asyncio.gather(*(app.state.recorder.write([click_row(**c) for c in more[i::6]]) for i in range(6)))
    everything = clicks + more

    async def stored() -> dict:
        """Every roll-up row of both levels: key → (clicks, previews, bots, visitors counted)."""
        async with app.state.engine.connect() as conn:
            return {
                (level.table.name, r.hours, r.starts_at, *(r._mapping[k] for k in level.keys)): (
                    r.clicks, r.previews, r.bots, round(rollups.sketch_of(r.visitors).get_estimate()) if r.visitors else 0)
                for level in rollups.LEVELS for r in (await conn.execute(select(level.table))).all()
            }

    want = {
        (level.table.name, *key): (t.clicks, t.previews, t.bots, len(t.visitors))
        for level, tallies in rollups.tally(map(facts, everything)).items() for key, t in tallies.items()
    }
    before = await stored()
    assert before == want
    assert {k[0] for k in want} == {"click_rollups", "link_rollups"}

    await check_every_report(api, everything, "from=2026-03-01&to=2026-04-09&tz=UTC", T0, T0 + timedelta(days=DAYS))

    # Rebuilt from the clicks (as the migration and bulk loads do), two days and 300 clicks at a time:
    # the same rows, the same sketches' counts.
    async with app.state.engine.begin() as conn:
        assert await conn.run_sync(rollups.rebuild, timedelta(days=2), 300) == len(everything)
    assert await stored() == before


async def test_large_audiences_are_estimated_within_two_percent(app, api: httpx.AsyncClient) -> None:
    links = await make_campaigns(api, 1)
    link, (campaign_id, _channel) = min(links.items())
    day = datetime(2026, 3, 10, tzinfo=UTC)
    # 60,000 clicks by 30,000 people over one day: past the sketch's exact range.
    clicks = [{"click_id": f"big{i:06d}", "link_id": link, "campaign_id": campaign_id, "kind": "click",
               "channel": _channel, "visitor_hash": f"{(i * 7919) % 30_000:032x}",
               "occurred_at": day + timedelta(seconds=i * 86400 // 60_000)} for i in range(60_000)]
    await write_in_batches(app, clicks, 5000)
    report = await get(api, "/api/reports/overview?from=2026-03-10&to=2026-03-10&tz=UTC")
    (numbers,) = [r for r in report["rows"] if r["key"] == campaign_id]
    by_link = await get(api, f"/api/reports/campaigns/{campaign_id}?group_by=link&from=2026-03-10&to=2026-03-10")
    (row,) = [r for r in by_link["rows"] if r["key"] == link]
    for numbers in (numbers, report["totals"], row, by_link["totals"]):
        assert numbers["clicks"] == 60_000
        assert abs(numbers["unique_visitors"] - 30_000) <= 600, numbers["unique_visitors"]
    assert report["unique_visitors_estimated"] is True and by_link["unique_visitors_estimated"] is True


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
                return {
                    level.table.name: {
                        (r.hours, r.starts_at, *(r._mapping[k] for k in level.keys[2:])): (
                            r.clicks, r.previews, r.bots,
                            round(rollups.sketch_of(r.visitors).get_estimate()) if r.visitors else 0)
                        for r in (await conn.execute(select(level.table))).all()
                    }
                    for level in rollups.LEVELS
                }
        finally:
            await engine.dispose()

    asyncio.run(fill())
    migrate.upgrade(url)
    hour = lambda d, h: datetime(2026, 3, d, h, tzinfo=UTC)  # noqa: E731
    per_campaign = {
        (1, hour(10, 10)): (2, 0, 0, 1),
        (1, hour(10, 11)): (1, 0, 0, 1),
        (1, hour(11, 0)): (0, 1, 0, 0),
        (1, hour(11, 9)): (0, 0, 1, 0),
        (24, hour(10, 0)): (3, 0, 0, 2),
        (24, hour(11, 0)): (0, 1, 1, 0),
    }
    assert asyncio.run(read()) == {
        "click_rollups": per_campaign,
        # days only: the one link, its channel, no app detected ("")
        "link_rollups": {(*key, 1, "sms", ""): numbers for key, numbers in per_campaign.items() if key[0] == 24},
    }
