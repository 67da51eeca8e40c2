"""Sales out throughput: order webhooks with a webhook, GA4, Meta and TikTok all on, against the same
order webhooks with no destination, in one run; and the delay from order to delivery.

    python benchmarks/outbox.py [--duration 15] [--connections 8] [--clicks 1000000]

Needs wrk and PostgreSQL, as benchmarks/webhooks.py (whose loading, signing and wrk helpers
this uses). One real server (`clicktrail serve`, one worker, CPU 0) takes signed generic orders
credited to random clicks: first with no destination (the baseline), then with four
destinations on, all pointed at one HTTP receiver on loopback (a thread of this script, which
answers 200 at once). Prints orders/s of both and their ratio, then waits for the outbox to
drain and prints the delay from order to delivery (p50/p99, from the outbox's own times), and
checks that every order reached every destination exactly once.
Then one order at a time, for the delay when the sender is not behind. Targets: p99 delay < 500 ms
one order at a time; every order at every destination exactly once. (The ratio is a figure, not a
target: the sender's HTTP requests share the worker's CPU, four per order.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from redirect import free_port, pg, scratch_database, serve, wait_for  # noqa: E402  (the same helpers)
from webhooks import LUA, SECRET, load, run_wrk, write_requests  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class Receiver:
    """Counts what arrives, per path and per dedup key; answers 200."""

    def __init__(self) -> None:
        self.keys: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                key = self.headers.get("webhook-id") or _platform_key(body)
                with receiver.lock:
                    receiver.keys[(self.path.split("?")[0], key)] += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _platform_key(body: bytes) -> str:
    data = json.loads(body)
    if "events" in data:  # GA4
        return data["events"][0]["params"]["transaction_id"]
    return data["data"][0]["event_id"]  # Meta, TikTok


async def add_destinations(db_url: str, receiver: Receiver) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from clicktrail.outbound.sealing import Sealer

    sealer = Sealer(SECRET)
    rows = [("webhook", f"{receiver.url}/hooks", "order.attributed order.updated order.refunded", None,
             "whsec_" + "QmVuY2htYXJrLXdlYmhvb2stc2VjcmV0LTEyMzQ1Ng=="),
            ("ga4", None, None, "G-BENCH", "mp-secret"), ("meta", None, None, "1234567890", "EAAbench"),
            ("tiktok", None, None, "CBENCH", "tt-bench")]
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        for kind, url, events, account, secret in rows:
            await conn.execute(
                "INSERT INTO outbound_destinations (kind, url, events, account_id, secret_sealed, send_hashed_email, "
                "created_at, consecutive_failures) VALUES ($1, $2, $3, $4, $5, true, now(), 0)",
                kind, url, events, account, sealer.seal(secret))
    finally:
        await conn.close()


async def wait_drained(db_url: str, timeout: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if not await pg(db_url, "SELECT count(*) FROM outbox_deliveries WHERE status = 'pending'"):
            return time.perf_counter() - started
        await asyncio.sleep(0.2)
    return float("nan")


async def delays(db_url: str, prefix: str) -> tuple[float, float]:
    """p50, p99 ms from an order's event to its delivery, over the orders `<prefix>-N`."""
    sql = ("SELECT percentile_cont({q}) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - e.created_at)) "
           "FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id JOIN orders o ON o.id = e.order_id "
           "WHERE d.status = 'delivered' AND o.external_id LIKE $1")
    return (float(await pg(db_url, sql.format(q=0.5), f"{prefix}-%") or "nan") * 1000,
            float(await pg(db_url, sql.format(q=0.99), f"{prefix}-%") or "nan") * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--clicks", type=int, default=1_000_000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    admin, db, db_url = scratch_database()
    tmp = Path(tempfile.mkdtemp(prefix="clicktrail-bench-"))
    receiver = Receiver()
    env = {**os.environ, "CLICKTRAIL_DATABASE_URL": db_url, "CLICKTRAIL_DATA_DIR": str(tmp / "data"),
           "CLICKTRAIL_SECRET_KEY": SECRET, "CLICKTRAIL_LOG_LEVEL": "warning",
           "CLICKTRAIL_OUTBOUND_ALLOW_PRIVATE": "true", "CLICKTRAIL_GA4_COLLECT_URL": f"{receiver.url}/mp/collect",
           "CLICKTRAIL_META_GRAPH_URL": f"{receiver.url}/v21.0",
           "CLICKTRAIL_TIKTOK_EVENTS_URL": f"{receiver.url}/open_api/v1.3/event/track/"}
    sys.path.insert(0, str(ROOT / "src"))
    from clicktrail import migrate
    from clicktrail.settings import async_database_url

    try:
        migrate.upgrade(async_database_url(db_url))
        source, _link = asyncio.run(load(db_url, args.clicks))
        lua = tmp / "webhooks.lua"
        lua.write_text(LUA)
        files = {name: tmp / f"{name}.tsv" for name in ("warm", "none", "all", "light")}
        write_requests(files["warm"], "warm", 5_000, args.clicks)
        for name in ("none", "all", "light"):
            write_requests(files[name], name, max(20_000, args.duration * 4_000), args.clicks)

        port = free_port()
        server = serve(env, port)
        path = f"/webhooks/{source}"
        try:
            wait_for(port)
            run_wrk(port, path, 3, args.connections, lua, files["warm"])
            baseline = run_wrk(port, path, args.duration, args.connections, lua, files["none"])
            asyncio.run(add_destinations(db_url, receiver))
            with_all = run_wrk(port, path, args.duration, args.connections, lua, files["all"])
            drained = asyncio.run(wait_drained(db_url, 120))
            # One order at a time, so the sender keeps up: the delay without a backlog.
            light = run_wrk(port, path, 5, 1, lua, files["light"])
            asyncio.run(wait_drained(db_url, 120))
            p50, p99 = asyncio.run(delays(db_url, "all"))
            light_p50, light_p99 = asyncio.run(delays(db_url, "light"))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        orders_all = asyncio.run(pg(
            db_url, "SELECT count(*) FROM orders WHERE external_id LIKE 'all-%' OR external_id LIKE 'light-%'"))
        undelivered = asyncio.run(pg(db_url, "SELECT count(*) FROM outbox_deliveries WHERE status <> 'delivered'"))
    finally:
        asyncio.run(pg(admin, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        shutil.rmtree(tmp, ignore_errors=True)
        receiver.server.shutdown()

    per_path = Counter(p for p, _key in receiver.keys)
    doubled = sum(1 for n in receiver.keys.values() if n > 1)
    ratio = with_all["rps"] / baseline["rps"] if baseline["rps"] else float("nan")
    print(f"\noutbox benchmark: {args.clicks:,} clicks in PostgreSQL, 1 worker, {args.connections} connections, "
          f"{args.duration}s per run, wrk on another core")
    print(f"{'':34}{'orders/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, r in (("no destination (baseline)", baseline), ("webhook + GA4 + Meta + TikTok", with_all)):
        print(f"{name:34}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}{r['errors']:>8}")
    print(f"ratio with all four on / baseline: {ratio:.2f}")
    print(f"order → delivery delay at full load: p50 {p50:.0f} ms, p99 {p99:.0f} ms (a backlog: drained {drained:.1f} s "
          f"after the run)")
    print(f"order → delivery delay one order at a time ({light['rps']:.0f} orders/s): p50 {light_p50:.0f} ms, "
          f"p99 {light_p99:.0f} ms")
    print(f"orders with destinations: {orders_all}; received per destination: "
          + ", ".join(f"{p} {n}" for p, n in sorted(per_path.items()))
          + f"; received twice: {doubled}; not delivered: {undelivered}")
    ok = (light_p99 < 500 and doubled == 0 and undelivered == 0
          and all(n == orders_all for n in per_path.values()) and len(per_path) == 4)
    print(f"targets (p99 delay < 500 ms one order at a time; every order once to each destination): "
          f"{'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
