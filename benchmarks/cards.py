"""The redirect's cost per tap with and without a preview card, in-process (no network, no server).

    python benchmarks/cards.py [--taps 40000] [--rounds 5]

One SQLite database, three links, the real front door (`asgi_app`) called directly with a
mobile browser's and WhatsApp's fetcher's user agents in turn:
  (a) a link without a card: the baseline, what every link cost before cards existed;
  (a') the same, people only: the baseline of (b);
  (b) a link with a card, people only: they still get the 302, after one classification;
  (c) a link with a card, half of the taps from WhatsApp's fetcher, which gets the card page.
Rounds alternate between the three so a busy machine slows them alike; the best round counts.
Prints microseconds per tap and each ratio to the card-less case with the same taps. Expectation:
(a) is what the redirect cost before cards (they add one `is None` check to it); (b) and (c) a
few microseconds more (one cached classification per tap).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from clicktrail import migrate  # noqa: E402
from clicktrail.app import asgi_app, create_app  # noqa: E402
from clicktrail.links.codes import CodeCodec  # noqa: E402
from clicktrail.links.models import Link  # noqa: E402
from clicktrail.settings import Settings  # noqa: E402

SECRET = "benchmark-secret"
BROWSER = b"Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"
WHATSAPP = b"WhatsApp/2.23.20.0 A"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--taps", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="clicktrail-cards-"))
    await asyncio.to_thread(migrate.upgrade, f"sqlite+aiosqlite:///{tmp}/c.db")
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp}/c.db", data_dir=tmp / "data",
                        secret_key=SECRET, base_url="http://bench.test", recorder_max_buffer=10_000_000)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with app.state.sessionmaker() as session:
            links = [Link(nonce=7, destination_url="https://shop.example/p?color=red", channel="whatsapp",
                          utm_source="whatsapp", utm_medium="social", click_count=0, disabled=False,
                          preview_title="Red shoes, 30% off" if with_card else None,
                          preview_description="Only this week" if with_card else None)
                     for with_card in (False, True)]
            session.add_all(links)
            await session.commit()
        codec = CodeCodec(SECRET)
        plain, card = (codec.encode(link.id, 7) for link in links)
        door = asgi_app(app)
        statuses: dict[int, int] = {}

        async def receive() -> dict:
            return {"type": "http.request", "body": b""}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        async def run(code: str, agents: tuple[bytes, ...]) -> float:
            scope = {"type": "http", "method": "GET", "path": f"/{code}", "query_string": b"", "client": ("203.0.113.5", 5)}
            started = time.perf_counter()
            for i in range(args.taps):
                scope["headers"] = [(b"user-agent", agents[i % len(agents)])]
                await door(scope, receive, send)
            return (time.perf_counter() - started) / args.taps * 1e6

        cases = {"(a) no card, browser and WhatsApp": (plain, (BROWSER, WHATSAPP)),
                 "(a') no card, browsers only": (plain, (BROWSER,)),
                 "(b) card, browsers only": (card, (BROWSER,)),
                 "(c) card, browser and WhatsApp": (card, (BROWSER, WHATSAPP))}
        best = {name: float("inf") for name in cases}
        for _round in range(args.rounds):
            for name, (code, agents) in cases.items():
                best[name] = min(best[name], await run(code, agents))
                await app.state.recorder.flush()  # the buffer is not part of a tap's cost
    print(f"front door per tap, best of {args.rounds} rounds x {args.taps:,} taps (in-process, SQLite)")
    for name, micros in best.items():
        # Each card case against the card-less one with the same taps.
        base = best["(a') no card, browsers only"] if "browsers only" in name else best["(a) no card, browser and WhatsApp"]
        print(f"{name:38}{micros:8.2f} us   {micros / base:5.2f}x its baseline")
    print(f"answers: {dict(sorted(statuses.items()))} (302 to people and to fetchers of (a); 200 card pages in (c))")


if __name__ == "__main__":
    asyncio.run(main())
