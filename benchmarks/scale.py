"""Reports at 100M clicks a year: roll-ups and month partitions of a big installation, every report timed.

    python benchmarks/scale.py [--clicks 100000000] [--campaigns 200] [--raw-days 7] [--runs 3]

Needs PostgreSQL (CLICKTRAIL_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test;
a scratch database is created next to it, migrated, loaded and dropped).

What is built, and what is generated rather than recorded (say so in any figure quoted):
- 365 days of roll-ups worth `--clicks` clicks over `--campaigns` campaigns (10 links each, 6 of
  them per channel): hourly and daily `click_rollups`, daily `link_rollups` per link and app. The
  rows are generated directly in SQL (INSERT ... SELECT generate_series), not from raw clicks: 100M
  raw clicks would take this machine hours to load and roll up and some 40 GB of disk. Counts add
  up across levels (daily rows are sums of the hourly ones; link rows split the daily ones).
  Visitor sketches are real DataSketches HLL sketches, taken from a pool built in Python (tens of
  visitors per hourly row, hundreds to a thousand per daily row), so the reports merge sketches of
  realistic size and number; the visitor numbers they give are not those of a real year.
- Month partitions of `clicks` for the whole year (the service's partitioning), with raw clicks
  only in the last `--raw-days` days (the reports read raw clicks only at a period's edges; a
  retention would have dropped the older months anyway), plus 1,000 clicks with real time-ordered
  ids for the lookup by click id that attribution does.
- Orders: `--orders` over the year (80% attributed), as benchmarks/reports.py makes them.

Each report runs through the real service code; the median of --runs runs after a warm-up is
printed with its ratio to the 300 ms target and to a baseline measured in the same run: counting
the raw clicks of the `--raw-days` kept and their distinct visitors (what only a week costs without
roll-ups).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from reports import APPS, CHANNELS, ORDERS, _scan  # noqa: E402
from scratch import scratch_database, time_reports  # noqa: E402
from sqlalchemy import select  # noqa: E402

from clicktrail import migrate  # noqa: E402
from clicktrail.clicks import partitions  # noqa: E402
from clicktrail.clicks.ids import new_click_id  # noqa: E402
from clicktrail.clicks.models import Click  # noqa: E402
from clicktrail.db import create_engine, create_sessionmaker  # noqa: E402
from clicktrail.links.service import LinkContext  # noqa: E402
from clicktrail.reports import rollups, service  # noqa: E402
from clicktrail.reports.period import Period, parse_period  # noqa: E402
from clicktrail.settings import Settings, async_database_url  # noqa: E402

TARGET_MS = 300.0
DAYS = 365
HOURS = DAYS * 24
POOL = 512  # sketches per pool
UTC = timezone.utc


def _sketch_pool(rng: random.Random, low: int, high: int) -> list[bytes]:
    """Compact HLL sketches of `low`..`high` visitors each, drawn from one population so that
    merging them grows the way merging real rows does."""
    population = 50 * high
    out = []
    for _ in range(POOL):
        sketch = rollups.hll_sketch(rollups.LG_K, rollups.STORED)
        for _v in range(rng.randint(low, high)):
            sketch.update(f"{rng.randrange(population):032x}")
        out.append(sketch.serialize_compact())
    return out


def _setup(campaigns: int) -> list[str]:
    return [
        f"""INSERT INTO campaigns (id, name, slug, destination_url, created_at, updated_at)
            SELECT g, 'Campaign ' || g, 'campaign-' || g, 'https://shop.example/' || g, now(), now()
            FROM generate_series(1, {campaigns}) g""",
        f"""INSERT INTO links (id, nonce, campaign_id, destination_url, channel, coupon_code, click_count,
                               disabled, created_at, updated_at)
            SELECT (c - 1) * 10 + l, l, c, 'https://shop.example/' || c, (ARRAY{CHANNELS + ['other'] * 4})[l],
                   CASE WHEN l > {len(CHANNELS)} THEN 'C' || c || 'L' || l END, 0, false, now(), now()
            FROM generate_series(1, {campaigns}) c, generate_series(1, {len(CHANNELS) + 4}) l""",
        "INSERT INTO order_sources (id, name, platform, secret, created_at) VALUES "
        "(1, 'Shop', 'shopify', 's', now()), (2, 'Stripe', 'stripe', 's', now())",
        "CREATE TABLE bench_pool (level int, i int, sketch bytea, PRIMARY KEY (level, i))",
    ]


def _rollups(campaigns: int, clicks: int) -> list[str]:
    per_row = clicks / (campaigns * HOURS)  # mean clicks of an hourly row
    # n = low + (hash % spread): a mean of low + (spread - 1) / 2 ≈ per_row
    low, spread = max(1, round(per_row * 0.4)), max(1, round(per_row * 1.2) + 1)
    return [
        # Hourly rows, ending with the last whole hour.
        f"""INSERT INTO click_rollups (hours, starts_at, campaign_id, clicks, previews, bots, visitors)
            SELECT 1, date_trunc('hour', now()) - h * interval '1 hour', c, n, n / 8, n / 20, p.sketch
            FROM (SELECT c, h, {low} + ((c * 7919 + h * 104729) % {spread}) AS n
                  FROM generate_series(1, {campaigns}) c, generate_series(1, {HOURS}) h) s
            JOIN bench_pool p ON p.level = 1 AND p.i = (c * 31 + h) % {POOL}""",
        # Daily rows: sums of their hours.
        f"""INSERT INTO click_rollups (hours, starts_at, campaign_id, clicks, previews, bots, visitors)
            SELECT 24, d, campaign_id, clicks, previews, bots, p.sketch
            FROM (SELECT date_trunc('day', starts_at, 'UTC') AS d, campaign_id, sum(clicks) AS clicks,
                         sum(previews) AS previews, sum(bots) AS bots
                  FROM click_rollups WHERE hours = 1 GROUP BY 1, 2) s
            JOIN bench_pool p ON p.level = 24
                              AND p.i = (campaign_id * 31 + extract(doy FROM d)::int) % {POOL}""",
        # Link rows: each day of a campaign split over its 6 channel links and 3 apps.
        f"""INSERT INTO link_rollups (hours, starts_at, campaign_id, link_id, channel, app, clicks, previews,
                                      bots, visitors)
            SELECT 24, r.starts_at, r.campaign_id, (r.campaign_id - 1) * 10 + l,
                   (ARRAY{CHANNELS})[l],
                   CASE a WHEN 1 THEN (ARRAY{CHANNELS})[l] WHEN 2 THEN (ARRAY{APPS})[1 + l % {len(APPS)}]
                          ELSE '' END,
                   r.clicks / 18, r.previews / 18, r.bots / 18, p.sketch
            FROM click_rollups r, generate_series(1, {len(CHANNELS)}) l, generate_series(1, 3) a, bench_pool p
            WHERE r.hours = 24 AND p.level = 1 AND p.i = (r.campaign_id + l * 7 + a) % {POOL}""",
    ]


RAW_CLICKS = """
INSERT INTO clicks (click_id, link_id, campaign_id, kind, channel, app, device, visitor_hash, is_qr, occurred_at)
SELECT lpad(to_hex(g), 16, '0'), (c - 1) * 10 + l, c,
       CASE WHEN r < 0.85 THEN 'click' WHEN r < 0.95 THEN 'preview' ELSE 'bot' END,
       (ARRAY{channels})[l],
       CASE WHEN r2 < 0.70 THEN (ARRAY{channels})[l] WHEN r2 < 0.85 THEN (ARRAY{apps})[1 + (g % {n_apps})] END,
       'mobile', md5((g % {visitors})::text), false,
       now() - (r3 * interval '{days} days')
FROM (SELECT g, 1 + (g % {campaigns}) AS c, 1 + ((g / {campaigns}) % {n_channels}) AS l,
             random() AS r, random() AS r2, random() AS r3
      FROM generate_series({first}, {last}) g) s
"""


async def load(url: str, args: argparse.Namespace) -> list[str]:
    """Build everything; returns click ids of ours (time-ordered) for the lookup timing."""
    started = time.perf_counter()

    def say(what: str) -> None:
        print(f"  {what} ({time.perf_counter() - started:.0f} s)", flush=True)

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET synchronous_commit = off")
        for statement in _setup(args.campaigns):
            await conn.execute(statement)
        rng = random.Random(17)
        for level, (low, high) in ((1, (10, 60)), (24, (300, 1200))):
            await conn.executemany("INSERT INTO bench_pool VALUES ($1, $2, $3)",
                                   [(level, i, s) for i, s in enumerate(_sketch_pool(rng, low, high))])
        say(f"sketch pools made ({2 * POOL} sketches)")
        for statement in _rollups(args.campaigns, args.clicks):
            await conn.execute(statement)
        rolled = await conn.fetchval("SELECT sum(clicks) FROM click_rollups WHERE hours = 1")
        rows = await conn.fetchval("SELECT (SELECT count(*) FROM click_rollups) + (SELECT count(*) FROM link_rollups)")
        say(f"roll-ups of {rolled:,} clicks: {rows:,} rows")
        await conn.execute("DROP TABLE bench_pool")

        # The year's month partitions, as the service makes them; raw clicks in the last days.
        engine = create_engine(async_database_url(url))
        try:
            now = datetime.now(UTC)
            async with engine.begin() as sa_conn:
                made = await sa_conn.run_sync(partitions.ensure, now, [now - timedelta(days=d) for d in range(0, DAYS, 28)])
        finally:
            await engine.dispose()
        say(f"{len(made)} month partitions made")
        raw = int(args.clicks / DAYS * args.raw_days)
        fmt = dict(channels=CHANNELS, apps=APPS, n_apps=len(APPS), n_channels=len(CHANNELS), campaigns=args.campaigns,
                   visitors=max(raw // 3, 1), days=args.raw_days)
        for first in range(1, raw + 1, 1_000_000):
            await conn.execute(RAW_CLICKS.format(first=first, last=min(first + 999_999, raw), **fmt))
            say(f"raw clicks {first:,}..{min(first + 999_999, raw):,}")
        ours = []
        for _ in range(1000):
            at = now - timedelta(seconds=rng.randrange(args.raw_days * 86400))
            ours.append((new_click_id(int(at.timestamp() * 1000)), 1, 1, "click", "whatsapp", "mobile", False, at))
        await conn.copy_records_to_table("clicks", records=ours, columns=[
            "click_id", "link_id", "campaign_id", "kind", "channel", "device", "is_qr", "occurred_at"])
        await conn.execute(ORDERS.format(channels=CHANNELS, n_channels=len(CHANNELS), campaigns=args.campaigns,
                                         days=DAYS, orders=args.orders))
        say(f"orders: {args.orders:,}")
        await conn.execute("VACUUM ANALYZE")
        say("vacuum analyze done")
        return [r[0] for r in ours]
    finally:
        await conn.close()


async def measure(url: str, runs: int, campaigns: int, raw_days: int, ids: list[str]) -> list[tuple[str, str, float]]:
    settings = Settings(_env_file=None, database_url=url, secret_key="benchmark-secret")
    engine = create_engine(settings.resolved_database_url)
    sessions = create_sessionmaker(engine)
    ctx = LinkContext.from_settings(settings)
    scan_one, scan_all = f"baseline: {raw_days} raw days, c. 7", f"baseline: {raw_days} raw days, all"
    try:
        default = parse_period(None, None, "Europe/Paris")
        periods = {
            "last 30 days": default,
            "whole year": Period(default.end - timedelta(days=DAYS), default.end, default.tz),
        }
        raw_window = Period(default.end - timedelta(days=raw_days + 1), default.end, default.tz)
        reports = {f"campaign 7 by {g}": (lambda s, p, g=g: service.campaign_report(s, ctx, 7, g, p))
                   for g in ("channel", "link", "app", "day")}
        reports[f"overview ({campaigns} campaigns)"] = lambda s, p: service.overview(s, p)
        reports["forwarding, campaign 7"] = lambda s, p: service.forwarding(s, 7, p)
        reports["unattributed"] = lambda s, p: service.unattributed(s, p)
        reports[scan_one] = lambda s, _p: _scan(s, raw_window, 7)
        reports[scan_all] = lambda s, _p: _scan(s, raw_window, None)
        results = await time_reports(sessions, periods, reports, runs, width=28)
        # Attribution's lookup of a click by id (one partition: the id tells the month).
        async with engine.connect() as conn:
            times = []
            for click_id in ids[:200]:
                where = partitions.by_id(Click.click_id, Click.occurred_at, click_id, "postgresql")
                started = time.perf_counter()
                assert (await conn.execute(select(Click.click_id).where(*where))).first() is not None
                times.append((time.perf_counter() - started) * 1000)
        results.append(("-", "lookup by click id", statistics.median(times)))
        print(f"  {'-':<12} {'lookup by click id':<28} {statistics.median(times):8.2f} ms", flush=True)
    finally:
        await engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=100_000_000, help="clicks in the year's roll-ups")
    parser.add_argument("--campaigns", type=int, default=200)
    parser.add_argument("--raw-days", type=int, default=7, help="days of raw clicks kept in their partitions")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="do not drop the database (prints its URL)")
    args = parser.parse_args()

    with scratch_database("clicktrail_bench_scale", keep=args.keep) as (name, url):
        print(f"database {name}: {args.clicks:,} clicks' worth of roll-ups over {DAYS} days, {args.campaigns} "
              f"campaigns, raw clicks of the last {args.raw_days} days, {args.orders:,} orders")
        migrate.upgrade(async_database_url(url))
        ids = asyncio.run(load(url, args))
        print(f"timing (median of {args.runs} runs after a warm-up):")
        results = asyncio.run(measure(url, args.runs, args.campaigns, args.raw_days, ids))

    print()
    print(f"| period       | report                       | median ms | ratio to {TARGET_MS:.0f} ms | ratio to baseline |")
    print("|--------------|------------------------------|----------:|-------------:|------------------:|")
    timings = {(period_name, report): ms for period_name, report, ms in results}
    for period_name, report, ms in results:
        baseline = None if report.startswith("baseline") or report in ("unattributed", "lookup by click id") else (
            f"baseline: {args.raw_days} raw days, {'all' if report.startswith('overview') else 'c. 7'}")
        versus = f"{ms / timings[(period_name, baseline)]:17.2f}" if baseline else " " * 17
        target = f"{ms / TARGET_MS:12.2f}" if not report.startswith("baseline") else " " * 12
        print(f"| {period_name:<12} | {report:<28} | {ms:9.1f} | {target} | {versus} |")
    timed = [(report, period_name, ms) for period_name, report, ms in results if not report.startswith("baseline")]
    over = [f"{r} ({p}): {ms:.0f} ms" for r, p, ms in timed if ms > TARGET_MS]
    worst = max(ms for _, _, ms in timed)
    print(f"\nslowest: {worst:.1f} ms = {worst / TARGET_MS:.2f} x target; "
          f"{'every report under ' + str(int(TARGET_MS)) + ' ms' if not over else 'over target: ' + '; '.join(over)}")


if __name__ == "__main__":
    main()
