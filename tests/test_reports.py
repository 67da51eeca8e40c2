"""Reports (API.md: Reports): every number of every grouping against hand-computed values.

The story, in UTC (Paris is UTC+1 until 2026-03-29 01:00 UTC, then UTC+2):

campaign "Launch": links wa (whatsapp), tg (telegram), sms, and a referral link (instagram,
coupon ANNA10); campaign "Other": one whatsapp link. Visitors V1..V6; V1 clicks twice, V2 clicks
a WhatsApp link and a Telegram link, V4 clicks on two days.

 #   link   kind     app        visitor  UTC               Paris day
 1   wa     click    whatsapp   V1       03-28 10:00       03-28
 2   wa     click    whatsapp   V1       03-28 22:30       03-28 (23:30)
 3   wa     click    messenger  V2       03-28 23:30       03-29 (00:30)  <- tz boundary
 4   wa     preview  whatsapp   -        03-29 00:30       03-29
 5   wa     click    -          V3       03-29 22:30       03-30 (00:30 CEST) <- after DST
 6   wa     bot      -          X        03-30 10:00       03-30
 7   tg     click    telegram   V2       03-29 12:00       03-29
 8   tg     click    telegram   V4       03-29 21:59       03-29 (23:59 CEST)
 9   tg     preview  telegram   -        03-29 13:00       03-29
 10  tg     click    telegram   V4       03-30 21:30       03-30 (23:30)
 11  tg     click    telegram   V5       03-30 22:30       03-31: outside Mar 28-30 Paris
 12  wa     click    whatsapp   V6       03-27 22:59       03-27: outside
 13  sms    bot      -          Y        03-28 12:00       03-28
 14  other  click    whatsapp   V1       03-28 12:00       03-28 (campaign Other)
 15  other  preview  whatsapp   -        03-29 12:00       03-29 (campaign Other)

Orders (source S1 "Shop" generic, S2 "Stripe"):
 O1  S1 EUR 49.90             click_id  wa / messenger   03-29 08:00  Paris 03-29
 O2  S1 EUR 100.00 -25.50     utm       tg / -           03-29 22:30  Paris 03-30
 O3  S2 JPY 1500              coupon    referral / -     03-28 09:00  Paris 03-28
 O4  S1 EUR 20.00 refunded    customer  wa / whatsapp    03-30 09:00  Paris 03-30 (net 0)
 O5  S1 EUR 30.00 cancelled   click_id  wa / whatsapp    03-28 15:00  (never counts)
 O6  S1 EUR 15.00 unattributed                           03-29 10:00
 O7  S2 JPY 800 pending                                  03-29 11:00
 O8  S1 EUR 10.00             click_id  other / whatsapp 03-28 13:00  (campaign Other)
 O10 S2 EUR 1.00              click_id  tg / telegram    03-30 22:00  = end of Paris range
 O11 S2 EUR 9.00 unattributed                            04-05 10:00  (outside)
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

from clicktrail.conversions.models import Order, OrderSource
from clicktrail.reports.period import offset_segments, parse_period, start_of

from conftest import click_row

SHOP = "https://shop.example/launch"
PARIS = "from=2026-03-28&to=2026-03-30&tz=Europe/Paris"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}:00+00:00")


def row(key, clicks=0, uv=0, previews=0, bots=0, orders=0, revenue=None, rate=None, rpc=None, coupon=0, customer=0,
        ov=0, missing=0, converted=None, **extra) -> dict:
    """A report row. `converted`: the amount in EUR, by default the row's euros (the story has no rates)."""
    return {
        "key": key, **extra, "clicks": clicks, "unique_visitors": uv, "previews": previews, "bots": bots,
        "orders": orders, "orders_via_coupon": coupon, "orders_via_customer": customer, "ordering_visitors": ov,
        "revenue": revenue or {},
        "revenue_converted": {"currency": "EUR", "amount": converted or (revenue or {}).get("EUR", "0.00"),
                              "missing_rates": missing},
        "conversion_rate": rate,
        "taps_per_share": round(clicks / previews, 6) if previews else None, "revenue_per_click": rpc or {},
    }


def euros(amount: str, missing: int = 0) -> dict:
    return {"currency": "EUR", "amount": amount, "missing_rates": missing}


def without_key(r: dict) -> dict:
    return {k: v for k, v in r.items() if k != "key"}


async def build_story(app, api: httpx.AsyncClient) -> dict:
    launch = (await api.post("/api/campaigns", json={
        "name": "Launch", "destination_url": SHOP, "channels": ["whatsapp", "telegram", "sms"]})).json()
    other = (await api.post("/api/campaigns", json={
        "name": "Other, \"quoted\"", "destination_url": SHOP, "channels": ["whatsapp"]})).json()
    referral = (await api.post(f"/api/campaigns/{launch['id']}/referrals", json={
        "referrer": "Anna", "coupon_code": "ANNA10", "channel": "instagram"})).json()["items"][0]
    links = {l["channel"]: l for l in launch["links"]}
    wa, tg, sms = links["whatsapp"]["id"], links["telegram"]["id"], links["sms"]["id"]
    ref, oth = referral["id"], other["links"][0]["id"]
    camp = {wa: launch["id"], tg: launch["id"], sms: launch["id"], ref: launch["id"], oth: other["id"]}
    chan = {wa: "whatsapp", tg: "telegram", sms: "sms", ref: "instagram", oth: "whatsapp"}

    hits = [
        (1, wa, "click", "whatsapp", "V1", "03-28T10:00"),
        (2, wa, "click", "whatsapp", "V1", "03-28T22:30"),
        (3, wa, "click", "messenger", "V2", "03-28T23:30"),
        (4, wa, "preview", "whatsapp", None, "03-29T00:30"),
        (5, wa, "click", None, "V3", "03-29T22:30"),
        (6, wa, "bot", None, "X", "03-30T10:00"),
        (7, tg, "click", "telegram", "V2", "03-29T12:00"),
        (8, tg, "click", "telegram", "V4", "03-29T21:59"),
        (9, tg, "preview", "telegram", None, "03-29T13:00"),
        (10, tg, "click", "telegram", "V4", "03-30T21:30"),
        (11, tg, "click", "telegram", "V5", "03-30T22:30"),
        (12, wa, "click", "whatsapp", "V6", "03-27T22:59"),
        (13, sms, "bot", None, "Y", "03-28T12:00"),
        (14, oth, "click", "whatsapp", "V1", "03-28T12:00"),
        (15, oth, "preview", "whatsapp", None, "03-29T12:00"),
    ]
    # Through the recorder's write path, as real clicks go: it keeps the overview's roll-ups.
    await app.state.recorder.write([click_row(
        click_id=f"test{n:04d}", link_id=link, campaign_id=camp[link], kind=kind, channel=chan[link],
        app=app_name, device="bot" if kind == "bot" else "mobile", visitor_hash=visitor and visitor * 8,
        occurred_at=utc(at),
    ) for n, link, kind, app_name, visitor, at in hits])
    async with app.state.sessionmaker() as session:
        s1 = OrderSource(workspace_id=1, name="Shop", platform="generic", secret="s1")
        s2 = OrderSource(workspace_id=1, name="Stripe", platform="stripe", secret="s2")
        session.add_all([s1, s2])
        await session.flush()
        orders = [
            ("O1", s1, 4990, 0, "EUR", "paid", "attributed", "click_id", 3, wa, "messenger", "03-29T08:00"),
            ("O2", s1, 10000, 2550, "EUR", "paid", "attributed", "utm", None, tg, None, "03-29T22:30"),
            ("O3", s2, 1500, 0, "JPY", "paid", "attributed", "coupon", None, ref, None, "03-28T09:00"),
            ("O4", s1, 2000, 2000, "EUR", "refunded", "attributed", "customer", 1, wa, "whatsapp", "03-30T09:00"),
            ("O5", s1, 3000, 0, "EUR", "cancelled", "attributed", "click_id", 2, wa, "whatsapp", "03-28T15:00"),
            ("O6", s1, 1500, 0, "EUR", "paid", "unattributed", None, None, None, None, "03-29T10:00"),
            ("O7", s2, 800, 0, "JPY", "paid", "pending", None, None, None, None, "03-29T11:00"),
            ("O8", s1, 1000, 0, "EUR", "paid", "attributed", "click_id", 14, oth, "whatsapp", "03-28T13:00"),
            ("O10", s2, 100, 0, "EUR", "paid", "attributed", "click_id", 10, tg, "telegram", "03-30T22:00"),
            ("O11", s2, 900, 0, "EUR", "paid", "unattributed", None, None, None, None, "04-05T10:00"),
            # Not paid yet (authorised, on hold): no sale, so in no number of any report.
            ("O12", s1, 7000, 0, "EUR", "pending", "attributed", "click_id", 3, wa, "messenger", "03-29T09:00"),
        ]
        clicked = {n: (kind, visitor, at) for n, _link, kind, _app, visitor, at in hits}
        for ext, source, amount, refunded, cur, status, state, method, click, link, app_name, at in orders:
            # As attribution stores a credited click: its id, time, and visitor (a person's).
            kind, visitor, click_at = clicked.get(click, (None, None, None))
            session.add(Order(workspace_id=1,
                source_id=source.id, external_id=ext, amount_minor=amount, refunded_minor=refunded,
                currency=cur, status=status, ordered_at=utc(at), attribution_state=state,
                attribution_method=method, attributed_click_id=click and f"test{click:04d}", link_id=link,
                campaign_id=camp.get(link), channel=chan.get(link), app=app_name, raw_payload="{}",
                clicked_at=click_at and utc(click_at), click_visitor_hash=visitor and visitor * 8,
            ))
        await session.commit()
        sources = {"S1": s1.id, "S2": s2.id}
    return {"launch": launch["id"], "other": other["id"], "wa": wa, "tg": tg, "sms": sms, "ref": ref,
            "codes": {l["id"]: l["code"] for l in [*launch["links"], referral]}, "sources": sources}


# Conversion: of the 4 visitors only V2 ordered through a click of theirs (O1, click 3); O2 came by
# UTM tags, O3 by coupon, O4 by the customer's earlier click: orders and revenue, not the rate.
LAUNCH = dict(clicks=7, uv=4, previews=2, bots=2, orders=4, revenue={"EUR": "124.40", "JPY": "1500"}, rate=0.25,
              rpc={"EUR": "17.7714", "JPY": "214.29"}, coupon=1, customer=1, ov=1, missing=1)
LAUNCH_TOTALS = without_key(row(None, **LAUNCH))
WA = dict(clicks=4, uv=3, previews=1, bots=1, orders=2, revenue={"EUR": "49.90"}, rate=0.333333, rpc={"EUR": "12.4750"},
          customer=1, ov=1)
TG = dict(clicks=3, uv=2, previews=1, orders=1, revenue={"EUR": "74.50"}, rate=0.0, rpc={"EUR": "24.8333"})
SMS = dict(bots=1)
REF = dict(orders=1, revenue={"JPY": "1500"}, coupon=1, missing=1)


async def get_json(api: httpx.AsyncClient, url: str) -> dict:
    response = await api.get(url)
    assert response.status_code == 200, response.text
    return response.json()


async def check_csv(api: httpx.AsyncClient, url: str, report: dict, columns: list[str]) -> None:
    """The CSV of `url` has a header and the same rows, with the same numbers, as the JSON."""
    response = await api.get(url + "&format=csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="clicktrail-')
    assert response.text.endswith("\r\n")
    parsed = list(csv.DictReader(io.StringIO(response.text, newline="")))
    currencies = sorted(report["totals"]["revenue"])
    money = [f for f in ("revenue", "revenue_per_click") if f in report["totals"]]
    header = next(csv.reader(io.StringIO(response.text, newline="")))
    assert header == [*columns, *(f"{f}_{c}" for f in money for c in currencies), "revenue_converted_EUR", "missing_rates"]
    assert len(parsed) == len(report["rows"])
    for got, want in zip(parsed, report["rows"]):
        for name in columns:
            value = want[name]
            expected = "" if value is None else ("true" if value is True else "false" if value is False else str(value))
            assert got[name] == expected, (name, got, want)
        for f in money:
            for c in currencies:
                assert got[f"{f}_{c}"] == want[f].get(c, ""), (f, c, got, want)
        assert got["revenue_converted_EUR"] == want["revenue_converted"]["amount"]
        assert got["missing_rates"] == str(want["revenue_converted"]["missing_rates"])
    # The Accept header chooses CSV too.
    accepted = await api.get(url, headers={"Accept": "text/csv"})
    assert accepted.headers["content-type"].startswith("text/csv") and accepted.text == response.text


NUMS = ["clicks", "unique_visitors", "previews", "bots", "orders", "orders_via_coupon", "orders_via_customer",
        "ordering_visitors", "conversion_rate", "taps_per_share"]


async def test_campaign_report_every_grouping(app, api: httpx.AsyncClient) -> None:
    s = await build_story(app, api)
    base = f"/api/reports/campaigns/{s['launch']}?{PARIS}"
    by_channel = await get_json(api, base + "&group_by=channel")
    assert by_channel["rows"] == [
        row("instagram", **REF), row("sms", **SMS), row("telegram", **TG), row("whatsapp", **WA),
    ]
    assert by_channel["totals"] == LAUNCH_TOTALS
    # Taps per share: clicks per preview (4 taps on the WhatsApp link, 1 preview), null without previews.
    taps = {r["key"]: r["taps_per_share"] for r in by_channel["rows"]}
    assert taps["whatsapp"] == 4.0 and taps["telegram"] == 3.0 and taps["sms"] is None
    assert by_channel["campaign"]["name"] == "Launch" and by_channel["group_by"] == "channel"
    assert (by_channel["from"], by_channel["to"], by_channel["tz"]) == (
        "2026-03-27T23:00:00+00:00", "2026-03-30T22:00:00+00:00", "Europe/Paris")
    await check_csv(api, base + "&group_by=channel", by_channel, ["key", *NUMS])

    by_link = await get_json(api, base + "&group_by=link")
    label = lambda link, channel, referrer=None: {"code": s["codes"][link], "channel": channel, "referrer": referrer}  # noqa: E731
    assert by_link["rows"] == sorted([
        row(s["wa"], **label(s["wa"], "whatsapp"), **WA),
        row(s["tg"], **label(s["tg"], "telegram"), **TG),
        row(s["sms"], **label(s["sms"], "sms"), **SMS),
        row(s["ref"], **label(s["ref"], "instagram", "Anna"), **REF),
    ], key=lambda r: r["key"])
    assert by_link["totals"] == LAUNCH_TOTALS
    await check_csv(api, base + "&group_by=link", by_link, ["key", "code", "channel", "referrer", *NUMS])

    by_app = await get_json(api, base + "&group_by=app")
    assert by_app["rows"] == [
        row("messenger", clicks=1, uv=1, orders=1, revenue={"EUR": "49.90"}, rate=1.0, rpc={"EUR": "49.9000"}, ov=1),
        row("telegram", clicks=3, uv=2, previews=1, rate=0.0),
        row("whatsapp", clicks=2, uv=1, previews=1, orders=1, revenue={"EUR": "0.00"}, rate=0.0, rpc={"EUR": "0.0000"},
            customer=1),
        row(None, clicks=1, uv=1, bots=2, orders=2, revenue={"EUR": "74.50", "JPY": "1500"}, rate=0.0,
            rpc={"EUR": "74.5000", "JPY": "1500.00"}, coupon=1, missing=1),
    ]
    assert by_app["totals"] == LAUNCH_TOTALS
    await check_csv(api, base + "&group_by=app", by_app, ["key", *NUMS])

    by_day = await get_json(api, base + "&group_by=day")
    assert by_day["rows"] == [
        row("2026-03-28", clicks=2, uv=1, bots=1, orders=1, revenue={"JPY": "1500"}, rate=0.0, rpc={"JPY": "750.00"},
            coupon=1, missing=1),
        row("2026-03-29", clicks=3, uv=2, previews=2, orders=1, revenue={"EUR": "49.90"}, rate=0.5, rpc={"EUR": "16.6333"},
            ov=1),
        row("2026-03-30", clicks=2, uv=2, bots=1, orders=2, revenue={"EUR": "74.50"}, rate=0.0, rpc={"EUR": "37.2500"},
            customer=1),
    ]
    assert by_day["totals"] == LAUNCH_TOTALS
    await check_csv(api, base + "&group_by=day", by_day, ["key", *NUMS])

    # The same dates in UTC: click 3 moves to the 28th, click 11 and order O10 come in, click 5 is the 29th.
    # A visitor who ordered counts on the day of the click (O1: clicked the 28th, ordered the 29th).
    utc_days = await get_json(api, f"/api/reports/campaigns/{s['launch']}?from=2026-03-28&to=2026-03-30&group_by=day")
    assert utc_days["rows"] == [
        row("2026-03-28", clicks=3, uv=2, bots=1, orders=1, revenue={"JPY": "1500"}, rate=0.5, rpc={"JPY": "500.00"},
            coupon=1, ov=1, missing=1),
        row("2026-03-29", clicks=3, uv=3, previews=2, orders=2, revenue={"EUR": "124.40"}, rate=0.0,
            rpc={"EUR": "41.4667"}),
        row("2026-03-30", clicks=2, uv=2, bots=1, orders=2, revenue={"EUR": "1.00"}, rate=0.5, rpc={"EUR": "0.5000"},
            customer=1, ov=1),
    ]
    assert utc_days["totals"] == without_key(row(
        None, clicks=8, uv=5, previews=2, bots=2, orders=5, revenue={"EUR": "125.40", "JPY": "1500"}, rate=0.4,
        rpc={"EUR": "15.6750", "JPY": "187.50"}, coupon=1, customer=1, ov=2, missing=1))


async def test_overview_forwarding_and_unattributed(app, api: httpx.AsyncClient) -> None:
    s = await build_story(app, api)
    overview = await get_json(api, f"/api/reports/overview?{PARIS}")
    assert overview["rows"] == [
        row(s["launch"], name="Launch", slug="launch", **LAUNCH),
        row(s["other"], name='Other, "quoted"', slug="other-quoted", clicks=1, uv=1, previews=1, orders=1,
            revenue={"EUR": "10.00"}, rate=1.0, rpc={"EUR": "10.0000"}, ov=1),
    ]
    # V1 ordered in "Other", V2 in "Launch": 2 of 4 visitors (0.1 counted 5 orders / 4 visitors: 125%).
    assert overview["totals"] == without_key(row(
        None, clicks=8, uv=4, previews=3, bots=2, orders=5, revenue={"EUR": "134.40", "JPY": "1500"}, rate=0.5,
        rpc={"EUR": "16.8000", "JPY": "187.50"}, coupon=1, customer=1, ov=2, missing=1))
    await check_csv(api, f"/api/reports/overview?{PARIS}", overview, ["key", "name", "slug", *NUMS])
    raw = (await api.get(f"/api/reports/overview?{PARIS}&format=csv")).text
    assert '"Other, ""quoted"""' in raw  # RFC 4180: quoted field, doubled quotes

    def cell(channel, app_name, forwarded=False, **numbers) -> dict:
        r = row(None, **numbers)
        del r["key"]
        return {"channel": channel, "app": app_name, "forwarded": forwarded, **r}

    fwd = await get_json(api, f"/api/reports/forwarding?campaign_id={s['launch']}&{PARIS}")
    assert fwd["rows"] == [
        cell("instagram", None, **REF),
        cell("sms", None, bots=1),
        cell("telegram", "telegram", clicks=3, uv=2, previews=1, rate=0.0),
        cell("telegram", None, orders=1, revenue={"EUR": "74.50"}),
        cell("whatsapp", "messenger", True, clicks=1, uv=1, orders=1, revenue={"EUR": "49.90"}, rate=1.0,
             rpc={"EUR": "49.9000"}, ov=1),
        cell("whatsapp", "whatsapp", clicks=2, uv=1, previews=1, orders=1, revenue={"EUR": "0.00"}, rate=0.0,
             rpc={"EUR": "0.0000"}, customer=1),
        cell("whatsapp", None, clicks=1, uv=1, bots=1, rate=0.0),
    ]
    assert fwd["totals"] == LAUNCH_TOTALS
    await check_csv(api, f"/api/reports/forwarding?campaign_id={s['launch']}&{PARIS}", fwd,
                    ["channel", "app", "forwarded", *NUMS])
    everywhere = await get_json(api, f"/api/reports/forwarding?{PARIS}")
    wa_wa = [r for r in everywhere["rows"] if (r["channel"], r["app"]) == ("whatsapp", "whatsapp")]
    assert wa_wa == [cell("whatsapp", "whatsapp", clicks=3, uv=1, previews=2, orders=2, revenue={"EUR": "10.00"},
                          rate=1.0, rpc={"EUR": "3.3333"}, customer=1, ov=1)]
    assert everywhere["totals"] == overview["totals"]

    lost = await get_json(api, f"/api/reports/unattributed?{PARIS}")
    assert lost["rows"] == [
        {"key": s["sources"]["S1"], "name": "Shop", "platform": "generic", "orders": 1, "pending": 0,
         "all_orders": 5, "revenue": {"EUR": "15.00"}, "revenue_converted": euros("15.00")},
        {"key": s["sources"]["S2"], "name": "Stripe", "platform": "stripe", "orders": 0, "pending": 1,
         "all_orders": 2, "revenue": {}, "revenue_converted": euros("0.00")},
    ]
    assert lost["totals"] == {"orders": 1, "pending": 1, "all_orders": 7, "revenue": {"EUR": "15.00"},
                              "revenue_converted": euros("15.00")}
    await check_csv(api, f"/api/reports/unattributed?{PARIS}", lost,
                    ["key", "name", "platform", "orders", "pending", "all_orders"])


async def test_errors_and_defaults(app, api: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    s = await build_story(app, api)
    assert (await client.get(f"/api/reports/campaigns/{s['launch']}")).status_code == 401
    assert (await client.get("/api/reports/overview")).status_code == 401
    assert (await api.get("/api/reports/campaigns/999999")).status_code == 404
    assert (await api.get("/api/reports/forwarding?campaign_id=999999")).status_code == 404
    for query, field in [
        ("group_by=year", "group_by"), ("currency=EURO", "currency"), ("currency=XYZ", "currency"), ("tz=Mars/Olympus", "tz"), ("tz=../../etc/passwd", "tz"),
        ("from=2026-02-30", "from"), ("to=yesterday", "to"), ("from=2026-03-02&to=2026-03-01", "to"),
        ("from=2000-01-01&to=2026-01-01", "from"), ("format=xml", "format"),
    ]:
        response = await api.get(f"/api/reports/campaigns/{s['launch']}?{query}")
        assert response.status_code == 422, (query, response.text)
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["detail"][0]["loc"] == ["query", field], query
    # Default: the last 30 local days, today included; group_by channel.
    default = await get_json(api, f"/api/reports/campaigns/{s['launch']}?tz=Asia/Kolkata")
    start, end = datetime.fromisoformat(default["from"]), datetime.fromisoformat(default["to"])
    assert end - start == timedelta(days=30) and end.astimezone(ZoneInfo("Asia/Kolkata")).hour == 0
    assert end > datetime.now(timezone.utc) > end - timedelta(days=1)
    assert [r["key"] for r in default["rows"]] == ["instagram", "sms", "telegram", "whatsapp"]
    # ISO times with an offset bound the period exactly (from inclusive, to exclusive).
    narrow = await get_json(api, f"/api/reports/campaigns/{s['launch']}?group_by=app"
                                 "&from=2026-03-28T23:30:00%2B00:00&to=2026-03-29T12:00:00Z")
    assert narrow["totals"]["clicks"] == 1 and narrow["totals"]["previews"] == 1  # clicks 3 and 4
    # JSON wins when asked for, or when preferred.
    assert (await api.get("/api/reports/overview", headers={"Accept": "application/json"})).json()["rows"]
    prefers_json = await api.get("/api/reports/overview", headers={"Accept": "text/csv;q=0.5, application/json"})
    assert prefers_json.headers["content-type"].startswith("application/json")


async def test_csv_cells_cannot_run_as_spreadsheet_formulas(app, api: httpx.AsyncClient) -> None:
    await api.post("/api/campaigns", json={"name": "=HYPERLINK(\"http://evil\")", "destination_url": SHOP,
                                           "channels": ["sms"], "slug": "evil-name"})
    text = (await api.get("/api/reports/overview?format=csv")).text
    [parsed] = list(csv.DictReader(io.StringIO(text, newline="")))
    assert parsed["name"] == "'=HYPERLINK(\"http://evil\")"


ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "America/Santiago",
         "Pacific/Chatham"]


@pytest.mark.parametrize("unit", ["day", "week", "month"])
@pytest.mark.parametrize("tz", ZONES)
async def test_day_week_month_buckets_match_zoneinfo_across_dst(app, api: httpx.AsyncClient, tz: str, unit: str) -> None:
    """300 clicks at random instants over a year and a half, many within an hour of a DST change:
    each local day, week (from Monday) and month counts exactly the clicks zoneinfo puts in it."""
    campaign = (await api.post("/api/campaigns", json={"name": "tz", "destination_url": SHOP, "channels": ["sms"]})).json()
    link = campaign["links"][0]["id"]
    zone = ZoneInfo(tz)
    rng = random.Random(tz)
    start, end = datetime(2025, 9, 1, tzinfo=timezone.utc), datetime(2027, 3, 1, tzinfo=timezone.utc)
    edges = [at for at, _ in offset_segments(zone, start, end)[1:]]
    instants = [start + timedelta(seconds=rng.randrange(int((end - start).total_seconds()))) for _ in range(200)]
    instants += [edge + timedelta(seconds=rng.randrange(-3600, 3600)) for edge in edges for _ in range(100 // max(len(edges), 1))]
    instants += [edge - timedelta(microseconds=1) for edge in edges] + edges
    await app.state.recorder.write([
        click_row(click_id=f"tz{n:06d}", link_id=link, campaign_id=campaign["id"], kind="click", channel="sms",
                  visitor_hash=f"v{n}", occurred_at=at)
        for n, at in enumerate(instants)
    ])
    period = parse_period("2025-09-01", "2027-02-28", tz)
    expected = Counter(start_of(at.astimezone(zone).date(), unit).isoformat()
                       for at in instants if period.start <= at < period.end)
    report = await get_json(api, f"/api/reports/campaigns/{campaign['id']}?group_by={unit}&tz={tz}"
                                 "&from=2025-09-01&to=2027-02-28")
    got = {r["key"]: r["clicks"] for r in report["rows"] if r["clicks"]}
    assert got == dict(expected)
    assert [r["key"] for r in report["rows"]] == [d.isoformat() for d in period.local_buckets(unit)]
    assert report["totals"]["clicks"] == sum(expected.values())


async def test_weeks_start_on_local_monday_and_orders_follow_their_clicks(app, api: httpx.AsyncClient) -> None:
    """Paris moves to summer time on Sunday 2026-03-29 at 01:00 UTC: Sunday 23:59 local is still the
    week of Monday the 23rd, Monday 00:00 local (22:00 UTC) is the next week; months likewise."""
    campaign = (await api.post("/api/campaigns", json={"name": "weeks", "destination_url": SHOP,
                                                       "channels": ["whatsapp"]})).json()
    link = campaign["links"][0]["id"]
    hits = [("w1", "V1", "03-22T22:30", "FR"), ("w2", "V2", "03-22T23:30", "FR"), ("w3", "V3", "03-29T21:59", "DE"),
            ("w4", "V4", "03-29T22:00", None), ("w5", "V5", "03-31T21:30", "DE"), ("w6", "V6", "03-31T22:30", "FR")]
    await app.state.recorder.write([
        click_row(click_id=cid, link_id=link, campaign_id=campaign["id"], kind="click", channel="whatsapp",
                  visitor_hash=v * 8, occurred_at=utc(at), country=country) for cid, v, at, country in hits])
    async with app.state.sessionmaker() as session:
        source = OrderSource(workspace_id=1, name="Shop", platform="generic", secret="s")
        session.add(source)
        await session.flush()
        facts = {cid: (v * 8, at, country) for cid, v, at, country in hits}
        for ext, method, click, at in [("P1", "click_id", "w3", "03-30T08:00"), ("P2", "coupon", None, "03-30T09:00"),
                                       ("P3", "click_id", "w6", "04-01T08:00")]:
            visitor, clicked_at, country = facts.get(click, (None, None, None))
            session.add(Order(workspace_id=1, source_id=source.id, external_id=ext, amount_minor=1000, currency="EUR", status="paid",
                              ordered_at=utc(at), attribution_state="attributed", attribution_method=method,
                              attributed_click_id=click, link_id=link, campaign_id=campaign["id"],
                              channel="whatsapp", raw_payload="{}", click_visitor_hash=visitor,
                              clicked_at=clicked_at and utc(clicked_at), click_country=country))
        await session.commit()
    base = f"/api/reports/campaigns/{campaign['id']}?from=2026-03-16&to=2026-04-05&tz=Europe/Paris"
    weeks = await get_json(api, base + "&group_by=week")
    assert [(r["key"], r["clicks"], r["orders"], r["ordering_visitors"], r["conversion_rate"]) for r in weeks["rows"]] == [
        ("2026-03-16", 1, 0, 0, 0.0),
        ("2026-03-23", 2, 0, 1, 0.5),  # V3 clicked Sunday night, ordered on Monday: their week's rate
        ("2026-03-30", 3, 3, 1, 0.333333),
    ]
    months = await get_json(api, base + "&group_by=month")
    assert [(r["key"], r["clicks"], r["orders"]) for r in months["rows"]] == [("2026-03-01", 5, 2), ("2026-04-01", 1, 1)]
    countries = await get_json(api, base + "&group_by=country")
    assert [(r["key"], r["clicks"], r["orders"], r["orders_via_coupon"], r["conversion_rate"]) for r in countries["rows"]] == [
        ("DE", 2, 1, 0, 0.5), ("FR", 3, 1, 0, 0.333333), (None, 1, 1, 1, 0.0),  # the coupon order has no click
    ]
    assert countries["totals"]["orders"] == 3 and countries["totals"]["conversion_rate"] == round(2 / 6, 6)


def test_offset_segments_are_exact() -> None:
    paris = ZoneInfo("Europe/Paris")
    segments = offset_segments(paris, datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc))
    assert segments == [
        (datetime(2026, 1, 1, tzinfo=timezone.utc), 3600),
        (datetime(2026, 3, 29, 1, tzinfo=timezone.utc), 7200),
        (datetime(2026, 10, 25, 1, tzinfo=timezone.utc), 3600),
    ]
    lord_howe = offset_segments(ZoneInfo("Australia/Lord_Howe"), datetime(2026, 1, 1, tzinfo=timezone.utc),
                                datetime(2026, 12, 31, tzinfo=timezone.utc))
    assert [o for _, o in lord_howe] == [39600, 37800, 39600]  # half-hour DST


# --- one reporting currency -------------------------------------------------------------------

# ECB format: units per euro, any subset of currencies, N/A where a currency had no rate that day.
RATES_CSV = b"""Date,USD,JPY,GBP,
2026-03-11,1.2000,160.00,0.8500,
2026-03-10,1.2000,160.00,0.8500,
2026-03-06,1.2000,N/A,N/A,
2026-03-05,1.2000,N/A,N/A,
2026-03-02,1.1000,160.00,N/A,
"""


async def converted_campaign(app, api: httpx.AsyncClient) -> int:
    """A campaign selling in three currencies (and a fourth that has no rate yet on its day)."""
    from clicktrail.reports import rates

    campaign = (await api.post("/api/campaigns", json={"name": "World", "destination_url": SHOP,
                                                       "channels": ["whatsapp", "telegram"]})).json()
    wa, tg = (link["id"] for link in campaign["links"])
    async with app.state.sessionmaker() as session:
        await rates.store_rates(session, rates.parse_ecb_csv(RATES_CSV))
        source = OrderSource(workspace_id=1, name="Shop", platform="shopify", secret="s")
        session.add(source)
        await session.flush()
        for ext, amount, currency, at, link in [
            ("A", 10000, "EUR", "03-04T12:00", wa),  # 100.00 EUR
            ("B", 11000, "USD", "03-04T12:00", wa),  # the latest earlier rate (03-02: 1.10) → 100.00
            ("C", 12000, "USD", "03-05T10:00", tg),  # that day's rate (1.20) → 100.00
            ("D", 16000, "JPY", "03-07T23:30", tg),  # 03-06 is N/A, 03-05 too: 03-02's 160 → 100.00
            ("E", 5000, "GBP", "03-08T09:00", tg),  # no GBP rate on or before 03-08: missing
            ("F", 8500, "GBP", "03-11T09:00", wa),  # 0.85 → 100.00
        ]:
            session.add(Order(workspace_id=1,
                source_id=source.id, external_id=ext, amount_minor=amount, currency=currency, status="paid",
                ordered_at=utc(at), attribution_state="attributed", attribution_method="utm", link_id=link,
                campaign_id=campaign["id"], channel="whatsapp" if link == wa else "telegram", raw_payload="{}",
            ))
        await session.commit()
    return campaign["id"]


async def test_revenue_is_converted_at_each_orders_date(app, api: httpx.AsyncClient) -> None:
    campaign = await converted_campaign(app, api)
    period = "from=2026-03-01&to=2026-03-31"
    report = await get_json(api, f"/api/reports/campaigns/{campaign}?{period}")  # default: EUR
    assert report["currency"] == "EUR"
    assert report["totals"]["revenue"] == {"EUR": "100.00", "GBP": "135.00", "JPY": "16000", "USD": "230.00"}
    assert report["totals"]["revenue_converted"] == {"currency": "EUR", "amount": "500.00", "missing_rates": 1}
    by_channel = {r["key"]: r["revenue_converted"] for r in report["rows"]}
    assert by_channel == {"telegram": {"currency": "EUR", "amount": "200.00", "missing_rates": 1},
                          "whatsapp": {"currency": "EUR", "amount": "300.00", "missing_rates": 0}}

    # Into dollars: euros and yen at the dollar's rate of their own day (1.10 on the 4th, 1.20 later).
    dollars = await get_json(api, f"/api/reports/campaigns/{campaign}?{period}&currency=usd&group_by=day")
    assert dollars["totals"]["revenue_converted"] == {"currency": "USD", "amount": "580.00", "missing_rates": 1}
    days = {r["key"]: r["revenue_converted"]["amount"] for r in dollars["rows"] if r["orders"]}
    assert days == {"2026-03-04": "220.00", "2026-03-05": "120.00", "2026-03-07": "120.00", "2026-03-08": "0.00",
                    "2026-03-11": "120.00"}
    assert [r["revenue_converted"]["missing_rates"] for r in dollars["rows"] if r["key"] == "2026-03-08"] == [1]

    # Yen have no minor unit: the sum is rounded once, to whole yen.
    yen = await get_json(api, f"/api/reports/campaigns/{campaign}?{period}&currency=JPY")
    assert yen["totals"]["revenue_converted"] == {"currency": "JPY", "amount": "80000", "missing_rates": 1}

    # The overview and the CSV carry the same converted numbers.
    overview = await get_json(api, f"/api/reports/overview?{period}&currency=USD")
    assert overview["totals"]["revenue_converted"] == dollars["totals"]["revenue_converted"]
    csv_text = (await api.get(f"/api/reports/campaigns/{campaign}?{period}&currency=USD&format=csv")).text
    parsed = list(csv.DictReader(io.StringIO(csv_text, newline="")))
    assert {r["key"]: (r["revenue_converted_USD"], r["missing_rates"]) for r in parsed} == {
        "telegram": ("240.00", "1"), "whatsapp": ("340.00", "0")}

    # A currency without any rate is refused rather than counting every order as missing.
    refused = await api.get(f"/api/reports/campaigns/{campaign}?{period}&currency=CHF")
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "currency"]


async def test_reporting_currency_and_time_zone_defaults(app, api: httpx.AsyncClient, settings) -> None:
    campaign = await converted_campaign(app, api)
    app.state.settings = settings.model_copy(update={"reporting_currency": "USD", "timezone": "America/New_York"})
    report = await get_json(api, f"/api/reports/campaigns/{campaign}?from=2026-03-01&to=2026-03-31")
    assert report["currency"] == "USD" and report["tz"] == "America/New_York"
    assert report["totals"]["revenue_converted"]["amount"] == "580.00"
    assert report["from"] == "2026-03-01T05:00:00+00:00"  # local midnight in New York


async def test_an_order_through_a_real_click_converts_its_visitor(app, api: httpx.AsyncClient, client) -> None:
    """The whole way: a tap on the short link, then the shop's signed order naming its click id."""
    import hashlib
    import hmac
    import json
    import time
    from urllib.parse import parse_qs, urlsplit

    campaign = (await api.post("/api/campaigns", json={"name": "Real", "destination_url": SHOP,
                                                       "channels": ["whatsapp"]})).json()
    tap = await client.get(f"/{campaign['links'][0]['code']}", headers={"User-Agent": "Mozilla/5.0 (iPhone) Safari/604.1"})
    click_id = parse_qs(urlsplit(tap.headers["location"]).query)["ct_id"][0]
    await client.get(f"/{campaign['links'][0]['code']}", headers={"User-Agent": "Mozilla/5.0 (iPhone) Safari/604.1"})
    await app.state.recorder.flush()
    source = (await api.post("/api/sources", json={"name": "Shop", "platform": "generic"})).json()
    for n in range(2):  # the same visitor orders twice: one visitor who ordered
        body = json.dumps({"order_id": f"R-{n}", "amount": "20.00", "currency": "EUR", "click_id": click_id}).encode()
        t = str(int(time.time()))
        signature = hmac.new(source["secret"].encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        answer = await client.post(f"/webhooks/{source['id']}", content=body,
                                   headers={"Clicktrail-Signature": f"t={t},v1={signature}"})
        assert answer.status_code == 200 and answer.json()["attribution"]["method"] == "click_id", answer.text
    totals = (await get_json(api, f"/api/reports/campaigns/{campaign['id']}"))["totals"]
    assert (totals["clicks"], totals["unique_visitors"], totals["orders"]) == (2, 1, 2)
    assert (totals["ordering_visitors"], totals["conversion_rate"]) == (1, 1.0)  # not 2 orders / 1 visitor
