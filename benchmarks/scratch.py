"""What the report benchmarks share: a scratch PostgreSQL database, and timing reports through
the service code (median of runs after a warm-up)."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg

ADMIN_URL = os.environ.get("CLICKTRAIL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

Report = Callable[[Any, Any], Awaitable[dict]]


def with_database(url: str, name: str) -> str:
    return f"{url.rpartition('/')[0]}/{name}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def scratch_database(prefix: str, keep: bool = False) -> Iterator[tuple[str, str]]:
    """(name, URL) of a new database next to ADMIN_URL's, dropped afterwards unless `keep`."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    url = with_database(ADMIN_URL, name)
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield name, url
    finally:
        if keep:
            print(f"kept: {url}")
        else:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def time_reports(sessions: Any, periods: dict[str, Any], reports: dict[str, Report], runs: int,
                       width: int = 26) -> list[tuple[str, str, float]]:
    """Each report of each period: (period, report, median ms), printed as they come."""
    results = []
    for period_name, period in periods.items():
        for name, report in reports.items():
            times = []
            for i in range(runs + 1):
                async with sessions() as session:
                    started = time.perf_counter()
                    result = await report(session, period)
                    elapsed = (time.perf_counter() - started) * 1000
                if i:
                    times.append(elapsed)
            assert result["rows"], name
            results.append((period_name, name, statistics.median(times)))
            print(f"  {period_name:<13} {name:<{width}} {statistics.median(times):8.1f} ms", flush=True)
    return results
