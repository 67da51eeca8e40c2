"""Click retention (API.md, Data lifecycle): with `CLICKTRAIL_CLICK_RETENTION_DAYS` set, raw
clicks older than that are dropped; the reports of those days keep their numbers (from the
roll-ups) and say the days are roll-up only; orders keep their attribution; what tied a customer
to a dropped click goes with it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from clicktrail.clicks import partitions, retention
from clicktrail.clicks.models import Click, CustomerClick
from clicktrail.settings import Settings

from conftest import click_row
from test_conversions import deliver, generic_body, new_campaign, new_source, orders

UTC = timezone.utc
NOW = datetime.now(UTC)
OLD = (NOW - timedelta(days=100)).replace(hour=10, minute=0, second=0, microsecond=0)
RECENT = (NOW - timedelta(days=5)).replace(hour=10, minute=0, second=0, microsecond=0)


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"click_retention_days": 40, "retention_interval": 3600.0})


async def _write_clicks(app, campaign: dict) -> dict[str, list[str]]:
    whatsapp, messenger = campaign["links"]
    ids: dict[str, list[str]] = {"old": [], "recent": []}
    rows = []
    for when, name in ((OLD, "old"), (RECENT, "recent")):
        for i in range(7):
            link = whatsapp if i % 2 else messenger
            kind = "preview" if i == 6 else "click"
            click_id = f"{name}{i:02d}{when:%Y%m%d}"
            ids[name].append(click_id)
            rows.append(click_row(
                click_id=click_id, link_id=link["id"], campaign_id=campaign["id"], kind=kind,
                channel=link["channel"], app="whatsapp", visitor_hash=f"{i % 3:032x}" if kind == "click" else None,
                occurred_at=when + timedelta(minutes=i)))
    await app.state.recorder.write(rows)
    return ids


async def _count(app, model, *where) -> int:
    async with app.state.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


def _numbers(report: dict) -> tuple:
    keys = ("clicks", "unique_visitors", "previews", "bots", "orders", "revenue")
    return ([(r["key"], *(r[k] for k in keys)) for r in report["rows"]], [report["totals"][k] for k in keys])


async def test_old_clicks_are_dropped_and_reports_keep_their_numbers(app, api, client, monkeypatch, backend) -> None:
    campaign = await new_campaign(api)
    ids = await _write_clicks(app, campaign)
    # an order credited to an old click, and that click's customer identified
    source = await new_source(api, "generic")
    old_click = ids["old"][1]
    credited = await deliver(client, source, generic_body(
        old_click, created_at=(OLD + timedelta(hours=2)).isoformat(), customer_ref="buyer@example.org"))
    assert credited.json()["attribution"]["method"] == "click_id"
    assert (await api.post("/api/identify", json={"click_id": old_click, "customer_ref": "buyer@example.org"})).status_code == 204
    assert (await api.post("/api/identify", json={"click_id": ids["recent"][1], "customer_ref": "buyer@example.org"})).status_code == 204

    url = f"/api/reports/campaigns/{campaign['id']}"
    period = {"from": (OLD - timedelta(days=1)).date().isoformat(), "to": NOW.date().isoformat()}
    before = {g: (await api.get(url, params={**period, "group_by": g})).json() for g in ("day", "channel", "link", "app")}
    overview_before = (await api.get("/api/reports/overview", params=period)).json()
    assert before["day"]["raw_clicks_since"] is None
    assert not any("rollup_only" in r for r in before["day"]["rows"])  # said once clicks are dropped
    assert before["channel"]["totals"]["clicks"] == 12 and before["channel"]["totals"]["orders"] == 1

    monkeypatch.setattr(retention, "BATCH", 2)  # several batches per link
    dropped = await app.state.click_retention.run_once()
    assert dropped == 7

    assert await _count(app, Click, Click.click_id.in_(ids["old"])) == 0
    assert await _count(app, Click, Click.click_id.in_(ids["recent"])) == 7
    assert (await api.get(f"/api/clicks/{old_click}")).status_code == 404
    assert (await api.get(f"/api/clicks/{ids['recent'][0]}")).status_code == 200
    # the identify link of the dropped click went with it; the recent one stays
    assert await _count(app, CustomerClick) == 1

    after = {g: (await api.get(url, params={**period, "group_by": g})).json() for g in ("day", "channel", "link", "app")}
    for group, report in after.items():
        assert _numbers(report) == _numbers(before[group]), group
    cut = retention.cutoff_for(40)
    if backend.name == "postgres":  # whole month partitions: the cut is the first of its month
        cut = partitions.month_of(cut)
    assert datetime.fromisoformat(after["day"]["raw_clicks_since"]) == cut
    rollup_only = {r["key"] for r in after["day"]["rows"] if r["rollup_only"]}
    assert OLD.date().isoformat() in rollup_only and RECENT.date().isoformat() not in rollup_only
    assert max(rollup_only) < cut.date().isoformat()
    overview_after = (await api.get("/api/reports/overview", params=period)).json()
    assert _numbers(overview_after) == _numbers(overview_before)
    csv = (await api.get(url, params={**period, "group_by": "day", "format": "csv"})).text
    assert csv.splitlines()[0].startswith("key,rollup_only,") and f"{OLD.date().isoformat()},true," in csv

    [order] = await orders(api)
    assert order["attribution"] == credited.json()["attribution"]

    # a second run finds nothing more, and the horizon stays
    assert await app.state.click_retention.run_once() == 0
    assert (await api.get(url, params={**period, "group_by": "day"})).json()["raw_clicks_since"] == after["day"]["raw_clicks_since"]


def test_the_retention_cannot_be_shorter_than_the_attribution_window() -> None:
    with pytest.raises(ValidationError, match="at least the attribution window"):
        Settings(_env_file=None, click_retention_days=7, attribution_window_days=30)
    with pytest.raises(ValidationError):
        Settings(_env_file=None, click_retention_days=0)
    assert Settings(_env_file=None, click_retention_days=30).click_retention_days == 30
