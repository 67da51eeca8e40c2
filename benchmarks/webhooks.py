"""Order webhook throughput: signed generic webhooks with click ids, 1,000,000 clicks in PostgreSQL.

    python benchmarks/webhooks.py [--duration 15] [--connections 8] [--clicks 1000000]

Needs wrk (Debian: apt-get install wrk) and PostgreSQL (CLICKTRAIL_BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/postgres; a scratch database is created and dropped).
The clicks are made inside PostgreSQL (INSERT ... SELECT over generate_series), so loading a
million takes seconds. Every request is a different order, signed the generic way
(Clicktrail-Signature, t=..,v1=..) over its exact body, naming a random click of the million:
each one is verified, normalised, attributed (a click lookup) and stored. The real server runs
(`clicktrail serve`, one worker, pinned to CPU 0; wrk on CPU 1). Prints orders/s, p50/p99 latency,
and checks that every answered order is stored and credited to its click.
Targets: >= 500 orders/s with p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from redirect import free_port, pg, pin, scratch_database, serve, wait_for  # noqa: E402  (the same helpers)

ROOT = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret"
HOOK_SECRET = "benchmark-webhook-secret"

LUA = r"""
local requests = {}
local i = 0
init = function(args)
  local path = os.getenv("BENCH_PATH")
  for line in io.lines(os.getenv("BENCH_FILE")) do
    local signature, body = line:match("^([^\t]*)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", path,
      {["Content-Type"] = "application/json", ["Clicktrail-Signature"] = signature}, body)
  end
end
request = function()
  i = i + 1
  if i > #requests then i = 1 end
  return requests[i]
end
"""


def run_wrk(port: int, path: str, duration: int, connections: int, lua: Path, requests: Path) -> dict:
    env = {**os.environ, "BENCH_PATH": path, "BENCH_FILE": str(requests)}
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(lua), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, env=env, preexec_fn=pin(1), check=True,
    ).stdout

    def number(pattern: str) -> str:
        m = re.search(pattern, out, re.MULTILINE)
        return m.group(1) if m else "0"

    def ms(percent: str) -> float:  # a line of the latency distribution: "     99%   12.34ms"
        m = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)] if m else float("nan")

    total, bad = int(number(r"(\d+) requests in")), int(number(r"Non-2xx or 3xx responses: (\d+)"))
    return {
        "rps": float(number(r"^Requests/sec:\s+([\d.]+)")), "p50": ms("50"), "p99": ms("99"),
        "answered": total - bad,
        "errors": bad + sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)),
    }


async def load(db_url: str, clicks: int) -> tuple[int, int]:
    """A campaign, a link, `clicks` clicks over the last 10 days, and a generic order source."""
    conn = await asyncpg.connect(db_url)
    try:
        campaign = await conn.fetchval(
            "INSERT INTO campaigns (name, slug, destination_url, created_at, updated_at) "
            "VALUES ('Bench', 'bench', 'https://shop.example/p', now(), now()) RETURNING id")
        link = await conn.fetchval(
            "INSERT INTO links (nonce, campaign_id, destination_url, channel, utm_source, utm_medium, utm_campaign, "
            "click_count, disabled, created_at, updated_at) VALUES (4242, $1, 'https://shop.example/p', 'whatsapp', "
            "'whatsapp', 'social', 'bench', 0, false, now(), now()) RETURNING id", campaign)
        started = time.perf_counter()
        await conn.execute(
            "INSERT INTO clicks (click_id, link_id, campaign_id, kind, channel, app, device, is_qr, occurred_at) "
            "SELECT 'bench' || lpad(i::text, 10, '0'), $1, $2, 'click', 'whatsapp', "
            "CASE WHEN i % 3 = 0 THEN 'messenger' ELSE 'whatsapp' END, 'mobile', false, "
            "now() - (i % 864000) * interval '1 second' FROM generate_series(1, $3) AS i",
            link, campaign, clicks)
        # As a table of past clicks would be: hint bits set, statistics current, nothing to flush.
        await conn.execute("VACUUM (ANALYZE) clicks")
        await conn.execute("CHECKPOINT")
        print(f"loaded {clicks:,} clicks in {time.perf_counter() - started:.1f}s", flush=True)
        source = await conn.fetchval(
            "INSERT INTO order_sources (name, platform, secret, created_at) "
            "VALUES ('bench', 'generic', $1, now()) RETURNING id", HOOK_SECRET)
        return source, link
    finally:
        await conn.close()


def write_requests(path: Path, prefix: str, count: int, clicks: int) -> None:
    """`count` distinct orders, each signed over its own body, one per line: signature TAB body."""
    t = int(time.time())
    rng = random.Random(prefix)
    with path.open("w") as f:
        for n in range(count):
            click = f"bench{rng.randint(1, clicks):010d}"
            body = json.dumps({
                "order_id": f"{prefix}-{n}", "amount": f"{rng.randint(100, 99999) / 100:.2f}", "currency": "EUR",
                "click_id": click, "coupon_codes": [], "customer_ref": f"customer{n}@example.com",
            }, separators=(",", ":"))
            digest = hmac.new(HOOK_SECRET.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
            f.write(f"t={t},v1={digest}\t{body}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--clicks", type=int, default=1_000_000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    if args.duration > 200:
        raise SystemExit("at most 200 s: the signatures are made up front and a signature lives 5 minutes")

    admin, db, db_url = scratch_database()
    tmp = Path(tempfile.mkdtemp(prefix="clicktrail-bench-"))
    env = {**os.environ, "CLICKTRAIL_DATABASE_URL": db_url, "CLICKTRAIL_DATA_DIR": str(tmp / "data"),
           "CLICKTRAIL_SECRET_KEY": SECRET, "CLICKTRAIL_LOG_LEVEL": "warning"}
    sys.path.insert(0, str(ROOT / "src"))
    from clicktrail import migrate
    from clicktrail.settings import async_database_url

    try:
        migrate.upgrade(async_database_url(db_url))
        source, link = asyncio.run(load(db_url, args.clicks))
        lua = tmp / "webhooks.lua"
        lua.write_text(LUA)
        warm_file, main_file = tmp / "warm.tsv", tmp / "main.tsv"
        write_requests(warm_file, "warm", 5_000, args.clicks)
        # More distinct orders than the run can send at 4,000/s: none is delivered twice.
        write_requests(main_file, "main", max(20_000, args.duration * 4_000), args.clicks)

        port = free_port()
        server = serve(env, port)
        path = f"/webhooks/{source}"
        try:
            wait_for(port)
            warm = run_wrk(port, path, 3, args.connections, lua, warm_file)
            result = run_wrk(port, path, args.duration, args.connections, lua, main_file)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        stored = asyncio.run(pg(db_url, "SELECT count(*) FROM orders WHERE external_id LIKE 'main-%'"))
        credited = asyncio.run(pg(
            db_url, "SELECT count(*) FROM orders WHERE external_id LIKE 'main-%' AND attribution_method = 'click_id' "
            "AND link_id = $1", link))
        total_clicks = asyncio.run(pg(db_url, "SELECT count(*) FROM clicks"))
    finally:
        asyncio.run(pg(admin, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        shutil.rmtree(tmp, ignore_errors=True)

    rate = stored / args.duration
    print(f"\nwebhook benchmark: {total_clicks:,} clicks in PostgreSQL, 1 worker, {args.connections} connections, "
          f"{args.duration}s, wrk on another core (warm-up: {warm['answered']} orders)")
    print(f"{'':28}{'orders/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    print(f"{'signed generic webhooks':28}{result['rps']:>10.0f}{result['p50']:>10.2f}{result['p99']:>10.2f}"
          f"{result['errors']:>8}")
    print(f"orders answered 200: {result['answered']}; stored: {stored} ({rate:.0f}/s); "
          f"credited to their click: {credited}")
    ok = result["rps"] >= 500 and result["p99"] < 50 and result["errors"] == 0 and credited == stored
    print(f"targets (>= 500 orders/s, p99 < 50 ms, every order stored and credited): {'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
