"""Links in bulk: a 10,000-row export imported on SQLite, through the real API.

    python benchmarks/imports.py [--rows 10000] [--runs 3]

Builds a fresh, migrated SQLite database per run and posts one file of `--rows` rows
(`POST /api/links/import`, in-process over ASGI: no network in the figure) in the YOURLS plugin's
format and in Shlink's. Baseline, measured in the same run: the same rows written by one plain
multi-row INSERT into `links` (no parsing, no checks): the floor any import stands on.
Prints the best time of each, rows/s and the ratio to the baseline.
Target (issue 16): 10,000 rows in under 10 s on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from clicktrail import migrate  # noqa: E402
from clicktrail.app import asgi_app, create_app  # noqa: E402
from clicktrail.auth import service as auth  # noqa: E402
from clicktrail.db import utcnow  # noqa: E402
from clicktrail.links.models import Link  # noqa: E402
from clicktrail.settings import Settings  # noqa: E402

TARGET_SECONDS = 10.0


def yourls_file(rows: int) -> bytes:
    lines = ["source,target,hits"] + [f"/y{i}/,https://shop.example/products/{i}?utm_term=t{i % 97},{i % 50}" for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def shlink_file(rows: int) -> bytes:
    lines = ["createdAt,domain,shortCode,shortUrl,longUrl,title,tags,visits"] + [
        f'2024-06-01T10:00:00+00:00,s.shop.example,s{i},https://s.shop.example/s{i},'
        f'https://shop.example/p/{i},"Product {i}, in stock",a|b,{i % 9}' for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


async def settings_in(directory: Path) -> Settings:
    db = directory / "clicktrail.db"
    await asyncio.to_thread(migrate.upgrade, f"sqlite+aiosqlite:///{db}")  # it runs its own event loop
    return Settings(_env_file=None, database_url=f"sqlite:///{db}", data_dir=directory / "data",
                    secret_key="benchmark-secret", base_url="http://bench.test")


async def timed_import(fmt: str, body: bytes, rows: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(await settings_in(Path(tmp)))
        async with app.router.lifespan_context(app):
            async with app.state.sessionmaker() as session:
                _key, plain = await auth.create_api_key(session, "bench")
                await session.commit()
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(app)), base_url="http://bench.test",
                                         headers={"Authorization": f"Bearer {plain}"}, timeout=120) as api:
                started = time.perf_counter()
                response = await api.post("/api/links/import", params={"format": fmt, "channel": "email"},
                                          content=body, headers={"content-type": "text/csv"})
                elapsed = time.perf_counter() - started
        assert response.status_code == 201 and response.json()["created"] == rows, response.text[:300]
        return elapsed


async def timed_plain_insert(rows: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(await settings_in(Path(tmp)))
        async with app.router.lifespan_context(app):
            now = utcnow()
            values = [{"nonce": i, "slug": f"b{i}", "destination_url": f"https://shop.example/products/{i}",
                       "channel": "email", "utm_source": "email", "utm_medium": "email", "utm_content": f"b{i}",
                       "click_count": 0, "disabled": False, "created_at": now, "updated_at": now} for i in range(rows)]
            started = time.perf_counter()
            async with app.state.sessionmaker() as session:
                await session.execute(insert(Link.__table__), values)
                await session.commit()
            return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    baseline = min([await timed_plain_insert(args.rows) for _ in range(args.runs)])
    print(f"baseline  plain INSERT of {args.rows:,} rows: {baseline:.2f} s ({args.rows / baseline:,.0f} rows/s)")
    for fmt, body in (("yourls", yourls_file(args.rows)), ("shlink", shlink_file(args.rows))):
        best = min([await timed_import(fmt, body, args.rows) for _ in range(args.runs)])
        verdict = "ok" if best < TARGET_SECONDS else "OVER TARGET"
        print(f"import    {fmt:<7} {args.rows:,} rows ({len(body) / 1e6:.1f} MB): {best:.2f} s "
              f"({args.rows / best:,.0f} rows/s, {best / baseline:.1f}x baseline; target < {TARGET_SECONDS:.0f} s: {verdict})")


if __name__ == "__main__":
    asyncio.run(main())
