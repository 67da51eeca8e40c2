"""Report latency on a large database: 10,000,000 clicks and 100,000 orders over 90 days, 50 campaigns.

    python benchmarks/reports.py [--clicks 10000000] [--orders 100000] [--runs 5]

Needs PostgreSQL (CLICKTRAIL_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test;
a scratch database is created next to it, migrated, loaded and dropped). The data is generated on
the server (INSERT ... SELECT generate_series), then VACUUM ANALYZE. Each report runs through the
real service code (the same statement the API runs); the median of --runs runs after one warm-up
is printed with its ratio to the 500 ms target, for the default period (last 30 days) and for
the whole 90 days, and with its ratio to a baseline measured in the same run: counting the same
clicks and their distinct visitors straight from the clicks table (what reports cost without
roll-ups; a ratio below 1 is the roll-ups' gain).

The overview reads the click roll-ups (hourly and daily, with visitor sketches) that the recorder
keeps as clicks arrive; the bulk-loaded clicks get theirs from `rollups.rebuild`, as in the
migration that introduced them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch import scratch_database, time_reports  # noqa: E402
from sqlalchemy import distinct, func, select  # noqa: E402

from clicktrail import migrate  # noqa: E402
from clicktrail.clicks.models import Click  # noqa: E402
from clicktrail.db import create_engine, create_sessionmaker  # noqa: E402
from clicktrail.links.service import LinkContext  # noqa: E402
from clicktrail.reports import rollups, service  # noqa: E402
from clicktrail.reports.period import Period, parse_period  # noqa: E402
from clicktrail.settings import Settings, async_database_url  # noqa: E402

TARGET_MS = 500.0
CAMPAIGNS = 50
CHANNELS = ["whatsapp", "messenger", "telegram", "instagram", "sms", "email"]
APPS = ["whatsapp", "messenger", "telegram", "instagram", "facebook", "wechat", "line"]
DAYS = 90
WRITERS = 2  # concurrent INSERT ... SELECT sessions while loading clicks


LOAD = [
    # 50 campaigns with one link per channel, and 4 referral links each (coupon orders).
    f"""INSERT INTO campaigns (id, name, slug, destination_url, created_at, updated_at)
        SELECT g, 'Campaign ' || g, 'campaign-' || g, 'https://shop.example/' || g, now(), now()
        FROM generate_series(1, {CAMPAIGNS}) g""",
    f"""INSERT INTO links (id, nonce, campaign_id, destination_url, channel, coupon_code, click_count,
                           disabled, created_at, updated_at)
        SELECT (c - 1) * 10 + l, l, c, 'https://shop.example/' || c,
               (ARRAY{CHANNELS + ['other'] * 4})[l],
               CASE WHEN l > {len(CHANNELS)} THEN 'C' || c || 'L' || l END, 0, false, now(), now()
        FROM generate_series(1, {CAMPAIGNS}) c, generate_series(1, {len(CHANNELS) + 4}) l""",
    "SELECT setval(pg_get_serial_sequence('campaigns', 'id'), (SELECT max(id) FROM campaigns))",
    "SELECT setval(pg_get_serial_sequence('links', 'id'), (SELECT max(id) FROM links))",
    "INSERT INTO order_sources (id, name, platform, secret, created_at) VALUES "
    "(1, 'Shop', 'shopify', 's', now()), (2, 'Stripe', 'stripe', 's', now())",
    # The ECB's rates on working days only, as published: weekend orders take Friday's.
    f"""INSERT INTO exchange_rates (currency, day, per_eur)
        SELECT c, d::date, CASE c WHEN 'USD' THEN 1.08 ELSE 162.5 END + random() / 100
        FROM generate_series(now() - interval '{DAYS + 10} days', now(), interval '1 day') d, unnest(ARRAY['USD', 'JPY']) c
        WHERE extract(isodow FROM d) < 6""",
]

# Clicks over the channel links: 85% people, 10% previews, 5% bots; a visitor clicks ~3 times;
# the app is the link's channel 70% of the time, another app 15%, none 15%.
CLICKS = """
INSERT INTO clicks (click_id, link_id, campaign_id, kind, channel, app, device, visitor_hash, is_qr, occurred_at)
SELECT lpad(to_hex(g), 16, '0'), (c - 1) * 10 + l, c,
       CASE WHEN r < 0.85 THEN 'click' WHEN r < 0.95 THEN 'preview' ELSE 'bot' END,
       (ARRAY{channels})[l],
       CASE WHEN r2 < 0.70 THEN (ARRAY{channels})[l]
            WHEN r2 < 0.85 THEN (ARRAY{apps})[1 + (g % {n_apps})] END,
       'mobile', md5((g % {visitors})::text), false,
       now() - (r3 * interval '{days} days')
FROM (SELECT g, 1 + (g % {campaigns}) AS c, 1 + ((g / {campaigns}) % {n_channels}) AS l,
             random() AS r, random() AS r2, random() AS r3
      FROM generate_series({first}, {last}) g) s
"""

ORDERS = """
INSERT INTO orders (id, source_id, external_id, amount_minor, refunded_minor, currency, status, ordered_at,
                    received_at, updated_at, attribution_state, attribution_method, link_id, campaign_id,
                    channel, app, attributed_click_id, clicked_at, click_visitor_hash, click_country, raw_payload)
SELECT g, 1 + (g % 2), 'o' || g, (500 + (g * 7919) % 20000),
       CASE WHEN g % 20 = 0 THEN 300 ELSE 0 END,
       (ARRAY['EUR', 'EUR', 'EUR', 'USD', 'JPY'])[1 + (g % 5)],
       CASE WHEN g % 50 = 0 THEN 'cancelled' WHEN g % 20 = 0 THEN 'refunded' ELSE 'paid' END,
       now() - (random() * interval '{days} days'), now(), now(),
       CASE WHEN g % 10 < 8 THEN 'attributed' WHEN g % 10 = 8 THEN 'unattributed' ELSE 'pending' END,
       CASE WHEN g % 10 < 8 THEN (ARRAY['click_id', 'click_id', 'coupon', 'utm', 'customer'])[1 + (g % 5)] END,
       CASE WHEN g % 10 < 8 THEN (c - 1) * 10 + l END,
       CASE WHEN g % 10 < 8 THEN c END,
       CASE WHEN g % 10 < 8 THEN (ARRAY{channels})[least(l, {n_channels})] END,
       CASE WHEN g % 10 < 8 AND l <= {n_channels} THEN (ARRAY{channels})[l] END,
       CASE WHEN g % 10 < 8 AND (g % 5) IN (0, 1, 4) THEN lpad(to_hex(1 + (g * 7919) % {clicks}), 16, '0') END,
       CASE WHEN g % 10 < 8 AND (g % 5) IN (0, 1, 4) THEN now() - (random() * interval '{days} days') END,
       CASE WHEN g % 10 < 8 AND (g % 5) IN (0, 1, 4) THEN md5((g % {visitors})::text) END,
       CASE WHEN g % 10 < 8 AND (g % 5) IN (0, 1, 4) THEN (ARRAY['FR', 'DE', 'US', 'BR'])[1 + g % 4] END,
       '{{}}'
FROM (SELECT g, 1 + (g % {campaigns}) AS c, 1 + ((g / {campaigns}) % ({n_channels} + 4)) AS l
      FROM generate_series(1::bigint, {orders}) g) s
"""


async def load(url: str, n_clicks: int, n_orders: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET synchronous_commit = off")
        for statement in LOAD:
            await conn.execute(statement)
        fmt = dict(channels=CHANNELS, apps=APPS, n_apps=len(APPS), n_channels=len(CHANNELS), campaigns=CAMPAIGNS,
                   visitors=max(n_clicks // 3, 1), days=DAYS, orders=n_orders, clicks=max(n_clicks, 1))
        started = time.perf_counter()
        # Bulk load without the clicks table's keys and indexes, then rebuild them exactly as the
        # migrations made them (their DDL is read from the catalog first).
        ddl = [r[0] for r in await conn.fetch(
            "SELECT 'ALTER TABLE clicks ADD CONSTRAINT ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE conrelid = 'clicks'::regclass ORDER BY contype = 'p' DESC")]
        # A partitioned table's index reads "ON ONLY clicks": run as is, it would index no partition.
        ddl += [r[0].replace(" ON ONLY ", " ON ") for r in await conn.fetch(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'clicks' AND indexname NOT IN"
            " (SELECT conname FROM pg_constraint WHERE conrelid = 'clicks'::regclass)")]
        for r in await conn.fetch("SELECT conname FROM pg_constraint WHERE conrelid = 'clicks'::regclass"):
            await conn.execute(f'ALTER TABLE clicks DROP CONSTRAINT "{r[0]}"')
        for r in await conn.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'clicks'"):
            await conn.execute(f'DROP INDEX "{r[0]}"')

        chunks = [(first, min(first + 1_000_000 - 1, n_clicks)) for first in range(1, n_clicks + 1, 1_000_000)]

        async def writer() -> None:
            own = await asyncpg.connect(url)
            try:
                await own.execute("SET synchronous_commit = off")
                while chunks:
                    first, last = chunks.pop(0)
                    await own.execute(CLICKS.format(first=first, last=last, **fmt))
                    print(f"  clicks {first:>11,}..{last:<11,} ({time.perf_counter() - started:.0f} s)", flush=True)
            finally:
                await own.close()

        await asyncio.gather(*(writer() for _ in range(WRITERS)))
        for statement in ddl:
            await conn.execute(statement)
        print(f"  clicks keys and indexes rebuilt ({time.perf_counter() - started:.0f} s)", flush=True)
        # The clicks went in behind the recorder's back: make their roll-ups as the migration does.
        engine = create_engine(async_database_url(url))
        try:
            async with engine.begin() as sa_conn:
                read = await sa_conn.run_sync(rollups.rebuild)
        finally:
            await engine.dispose()
        print(f"  roll-ups of {read:,} clicks built ({time.perf_counter() - started:.0f} s)", flush=True)
        await conn.execute(ORDERS.format(**fmt))
        print(f"  orders: {n_orders:>11,} ({time.perf_counter() - started:.0f} s)", flush=True)
        await conn.execute("VACUUM ANALYZE")
        print(f"  vacuum analyze done ({time.perf_counter() - started:.0f} s)", flush=True)
    finally:
        await conn.close()


SCAN_ONE = "baseline: scan campaign 7"
SCAN_ALL = "baseline: scan all clicks"


async def _scan(session, period: Period, campaign_id: int | None) -> dict:
    where = [Click.occurred_at >= period.start, Click.occurred_at < period.end, Click.kind == "click"]
    where.append(Click.campaign_id == campaign_id if campaign_id else Click.campaign_id.is_not(None))
    rows = (await session.execute(
        select(Click.campaign_id, func.count(), func.count(distinct(Click.visitor_hash.collate("C"))))
        .where(*where).group_by(Click.campaign_id)
    )).all()
    return {"rows": rows}


def _baseline(report: str) -> str | None:
    if report.startswith("baseline") or report == "unattributed":
        return None
    return SCAN_ALL if report.startswith("overview") else SCAN_ONE


async def measure(url: str, runs: int) -> list[tuple[str, str, float]]:
    settings = Settings(_env_file=None, database_url=url, secret_key="benchmark-secret")
    engine = create_engine(settings.resolved_database_url)
    sessions = create_sessionmaker(engine)
    ctx = LinkContext.from_settings(settings)
    try:
        default = parse_period(None, None, "Europe/Paris")
        periods = {
            "last 30 days": default,
            "all 90 days": Period(default.end - timedelta(days=DAYS + 1), default.end, default.tz),
        }
        reports = {f"campaign 7 by {g}": (lambda s, p, g=g: service.campaign_report(s, ctx, 7, g, p, "EUR"))
                   for g in ("channel", "link", "app", "day", "week", "month", "country")}
        reports["campaign 7 by day in USD"] = lambda s, p: service.campaign_report(s, ctx, 7, "day", p, "USD")
        reports["overview (50 campaigns)"] = lambda s, p: service.overview(s, p, "EUR")
        reports["overview in USD"] = lambda s, p: service.overview(s, p, "USD")
        reports["forwarding, campaign 7"] = lambda s, p: service.forwarding(s, 7, p, "EUR")
        reports["unattributed"] = lambda s, p: service.unattributed(s, p, "EUR")
        # Baselines, in the same run: what reading the clicks costs without roll-ups — one
        # campaign's (or all) clicks counted, and their distinct visitors, exactly.
        reports[SCAN_ONE] = lambda s, p: _scan(s, p, 7)
        reports[SCAN_ALL] = lambda s, p: _scan(s, p, None)
        results = await time_reports(sessions, periods, reports, runs)
    finally:
        await engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=10_000_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="do not drop the database (prints its URL)")
    args = parser.parse_args()

    with scratch_database("clicktrail_bench_reports", keep=args.keep) as (name, url):
        print(f"database {name}: migrating and loading {args.clicks:,} clicks, {args.orders:,} orders")
        migrate.upgrade(async_database_url(url))
        asyncio.run(load(url, args.clicks, args.orders))
        print(f"timing (median of {args.runs} runs after a warm-up):")
        results = asyncio.run(measure(url, args.runs))

    print()
    print(f"| period        | report                     | median ms | ratio to {TARGET_MS:.0f} ms | ratio to baseline |")
    print("|---------------|----------------------------|----------:|-------------:|------------------:|")
    timings = {(period_name, report): ms for period_name, report, ms in results}
    for period_name, report, ms in results:
        base = _baseline(report)
        versus = f"{ms / timings[(period_name, base)]:17.2f}" if base else " " * 17
        target = f"{ms / TARGET_MS:12.2f}" if not report.startswith("baseline") else " " * 12
        print(f"| {period_name:<13} | {report:<26} | {ms:9.1f} | {target} | {versus} |")
    worst = max(ms for _, report, ms in results if not report.startswith("baseline"))
    print(f"\nslowest: {worst:.1f} ms = {worst / TARGET_MS:.2f} x target ({'OK' if worst <= TARGET_MS else 'OVER'})")


if __name__ == "__main__":
    main()
