"""Clicks by month on PostgreSQL (clicks/partitions.py): each click lands in its month's
partition, a lookup by click id reads one partition (EXPLAIN), retention drops a whole month while
the report of that month keeps its numbers, and the migration converts an existing table (and
back) without losing a click. SQLite keeps one table: these tests are PostgreSQL's."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from clicktrail import migrate
from clicktrail.clicks import partitions
from clicktrail.clicks.ids import click_time, new_click_id
from clicktrail.clicks.models import Click
from clicktrail.conversions import attribution
from clicktrail.db import create_engine

from conftest import Backend, click_row
from test_conversions import new_campaign

pytestmark = pytest.mark.postgres_only

UTC = timezone.utc
NOW = datetime.now(UTC)
THIS_MONTH = partitions.month_of(NOW)


def _months_back(n: int) -> datetime:
    month = THIS_MONTH
    for _ in range(n):
        month = partitions.month_of(month - timedelta(days=1))
    return month


def _at(month: datetime, day: int = 14) -> datetime:
    return month.replace(day=day, hour=12)


def _id_at(at: datetime) -> str:
    return new_click_id(int(at.timestamp() * 1000))


async def _write(app, campaign: dict, times: list[datetime]) -> list[str]:
    link = campaign["links"][0]
    ids = [_id_at(at) for at in times]
    await app.state.recorder.write([
        click_row(click_id=i, link_id=link["id"], campaign_id=campaign["id"], kind="click", channel=link["channel"],
                  visitor_hash=f"{n:032x}", occurred_at=at)
        for n, (i, at) in enumerate(zip(ids, times))
    ])
    return ids


async def _where(app, ids: list[str]) -> dict[str, str]:
    """The partition each click is stored in."""
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(text("SELECT click_id, tableoid::regclass::text FROM clicks WHERE click_id = ANY(:ids)"),
                                  {"ids": ids})
        return dict(rows.all())


async def _relations_read(app, statement, params: dict) -> set[str]:
    """The tables PostgreSQL's plan of `statement` reads (EXPLAIN, through the driver)."""
    async with app.state.engine.connect() as conn:
        compiled = statement.compile(dialect=conn.dialect)
        values = compiled.construct_params(params)
        raw = await conn.get_raw_connection()
        plan = await raw.driver_connection.fetchval(
            f"EXPLAIN (FORMAT JSON) {compiled}", *(values[name] for name in compiled.positiontup))
    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if "Relation Name" in node:
                found.add(node["Relation Name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(plan) if isinstance(plan, str) else plan)
    return found


async def test_each_click_lands_in_its_month_and_a_lookup_by_id_reads_one_partition(app, api) -> None:
    campaign = await new_campaign(api)
    past = _months_back(1)
    months = [past, THIS_MONTH, partitions.next_month(THIS_MONTH)]
    ids = await _write(app, campaign, [_at(m) for m in months])
    where = await _where(app, ids)
    # the past month had no partition: its click waited in the default one
    assert where == {ids[0]: partitions.DEFAULT, ids[1]: partitions.name_of(months[1]),
                     ids[2]: partitions.name_of(months[2])}
    # the service makes a month's partition when asked, and takes its clicks over
    async with app.state.engine.begin() as conn:
        assert await conn.run_sync(partitions.ensure, NOW, [past]) == [partitions.name_of(past)]
    assert (await _where(app, ids))[ids[0]] == partitions.name_of(past)

    for click_id, month in zip(ids, months):
        at = click_time(click_id)
        read = await _relations_read(app, attribution._CLICK_BY_ID_AND_TIME, {
            "click_id": click_id, "workspace_id": 1, "low": at - partitions.ID_TIME_SLACK, "high": at + partitions.ID_TIME_SLACK})
        assert read == {partitions.name_of(month)}
        by_id = select(Click.click_id).where(*partitions.by_id(Click.click_id, Click.occurred_at, click_id, "postgresql"))
        assert await _relations_read(app, by_id, {}) == {partitions.name_of(month)}
        response = await api.get(f"/api/clicks/{click_id}")
        assert response.status_code == 200 and response.json()["click_id"] == click_id


async def test_the_service_makes_the_coming_months_ahead(app) -> None:
    later = partitions.next_month(partitions.next_month(partitions.next_month(partitions.next_month(THIS_MONTH))))
    made = await app.state.click_partitions.run_once(now=later)
    assert partitions.name_of(later) in made
    async with app.state.engine.connect() as conn:
        months = await conn.run_sync(partitions.months)
    assert all(m in months for m in (THIS_MONTH, later, partitions.next_month(later)))


async def test_retention_drops_a_whole_month_and_its_report_keeps_its_numbers(app, api) -> None:
    from clicktrail.clicks.retention import ClickRetention

    campaign = await new_campaign(api)
    old_month = _months_back(3)
    async with app.state.engine.begin() as conn:
        await conn.run_sync(partitions.ensure, NOW, [old_month])
    old = await _write(app, campaign, [_at(old_month, d) for d in (3, 14, 27)])
    recent = await _write(app, campaign, [NOW - timedelta(hours=1)])
    report_url = f"/api/reports/campaigns/{campaign['id']}"
    period = {"from": old_month.date().isoformat(),
              "to": (partitions.next_month(old_month) - timedelta(days=1)).date().isoformat(), "group_by": "day"}
    before = (await api.get(report_url, params=period)).json()
    assert before["totals"]["clicks"] == 3

    dropped = await ClickRetention(app.state.engine, 40, 3600).run_once()
    assert dropped == 3
    async with app.state.engine.connect() as conn:
        assert old_month not in await conn.run_sync(partitions.months)
    assert set(await _where(app, old + recent)) == set(recent)

    after = (await api.get(report_url, params=period)).json()
    assert [(r["key"], r["clicks"], r["unique_visitors"]) for r in after["rows"]] == [
        (r["key"], r["clicks"], r["unique_visitors"]) for r in before["rows"]]
    assert after["totals"] == before["totals"]
    assert all(r["rollup_only"] for r in after["rows"])
    # whole months: the cut is the first of the retention's month
    assert datetime.fromisoformat(after["raw_clicks_since"]) == partitions.month_of(NOW - timedelta(days=40))


# --- the migration ----------------------------------------------------------------------------

PARTITION_REVISION = "a3f5b7c9d1e2"


async def _insert_plain(url: str, rows: list[tuple[str, datetime]]) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO links (id, nonce, destination_url, channel, click_count, disabled, created_at, updated_at) "
                "VALUES (1, 1, 'https://x.example/', 'sms', 0, false, now(), now())"))
            for click_id, at in rows:
                await conn.execute(text(
                    "INSERT INTO clicks (click_id, link_id, kind, channel, device, is_qr, occurred_at) "
                    "VALUES (:id, 1, 'click', 'sms', 'mobile', false, :at)"), {"id": click_id, "at": at})
    finally:
        await engine.dispose()


async def _stored(url: str) -> tuple[dict[str, str], str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = dict((await conn.execute(text("SELECT click_id, tableoid::regclass::text FROM clicks"))).all())
            kind = (await conn.execute(text("SELECT relkind::text FROM pg_class WHERE relname = 'clicks'"))).scalar()
            # every index of the table is valid: on a partitioned one, present in every partition
            invalid = (await conn.execute(text(
                "SELECT count(*) FROM pg_index WHERE indrelid = 'clicks'::regclass AND NOT indisvalid"))).scalar()
            indexes = (await conn.execute(text(
                "SELECT count(*) FROM pg_index WHERE indrelid = 'clicks'::regclass"))).scalar()
    finally:
        await engine.dispose()
    assert invalid == 0 and indexes == 3  # the key, by link and time, the reports' covering index
    return rows, kind


def test_the_migration_converts_an_existing_table_in_batches_and_back(backend: Backend, monkeypatch) -> None:
    url = backend.new_database()
    migrate.upgrade(url, PARTITION_REVISION + "-1")
    months = [_months_back(2), _months_back(1), THIS_MONTH]
    rows = [(_id_at(_at(m, d)), _at(m, d)) for m in months for d in (2, 15)]
    rows.append(("imported-0001", datetime(2019, 5, 1, tzinfo=UTC)))  # not one of our ids: the default partition
    asyncio.run(_insert_plain(url, rows))
    monkeypatch.setattr(partitions, "COPY_BATCH", 2)  # several committed batches

    migrate.upgrade(url)
    stored, kind = asyncio.run(_stored(url))
    assert kind == "p"
    assert stored == {
        **{i: partitions.name_of(partitions.month_of(at)) for i, at in rows[:-1]}, "imported-0001": partitions.DEFAULT}

    migrate.downgrade(url, PARTITION_REVISION + "-1")
    stored, kind = asyncio.run(_stored(url))
    assert kind == "r" and stored == {i: "clicks" for i, _ in rows}
    migrate.upgrade(url)
    assert len(asyncio.run(_stored(url))[0]) == len(rows)


async def test_an_id_of_our_shape_but_not_our_time_is_looked_up_everywhere(app, api) -> None:
    campaign = await new_campaign(api)
    link = campaign["links"][0]
    odd = "zzzzzzzzzWhatsAppOrder"  # 22 base62 letters, as a shop's own id can be: its "time" is year 270000
    await app.state.recorder.write([click_row(click_id=odd, link_id=link["id"], campaign_id=campaign["id"],
                                              kind="click", channel=link["channel"], visitor_hash=None, occurred_at=NOW)])
    response = await api.get(f"/api/clicks/{odd}")
    assert response.status_code == 200 and response.json()["click_id"] == odd
    assert (await api.get("/api/clicks/zzzzzzzzzzzzzzzzzzzzzz")).status_code == 404
