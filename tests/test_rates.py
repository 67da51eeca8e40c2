"""Exchange rates (API.md: Numbers): `clicktrail rates import` reads the ECB's reference-rate CSV,
and the service refreshes them in the background from a URL (here a loopback server standing in
for the ECB), logging a failure and carrying on."""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from clicktrail.app import asgi_app, create_app
from clicktrail.reports.models import ExchangeRate
from clicktrail.reports.rates import RatesFileError, parse_ecb_csv

ECB_HEAD = Path(__file__).parent / "data" / "rates" / "eurofxref-hist-head.csv"
RATES_PER_DAY = 30  # 41 currencies in the header, 11 of them N/A since they joined the euro or were dropped


def rates_import(database_url: str, tmp_path: Path, file: Path) -> subprocess.CompletedProcess:
    env = {"CLICKTRAIL_DATA_DIR": str(tmp_path / "cli"), "CLICKTRAIL_DATABASE_URL": database_url, "PATH": "",
           "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "clicktrail.cli", "rates", "import", str(file)],
                          capture_output=True, text=True, env=env, timeout=120)


async def stored(app) -> dict[tuple[str, date], Decimal]:
    async with app.state.sessionmaker() as session:
        return {(r.currency, r.day): r.per_eur for r in (await session.scalars(select(ExchangeRate))).all()}


async def test_cli_imports_the_ecb_history_file(app, database_url: str, tmp_path: Path) -> None:
    run = rates_import(database_url, tmp_path, ECB_HEAD)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"imported {5 * RATES_PER_DAY} rates of {RATES_PER_DAY} currencies, 2025-05-05 to 2025-05-09"
    rates = await stored(app)
    assert len(rates) == 5 * RATES_PER_DAY
    assert rates[("USD", date(2025, 5, 9))] == Decimal("1.1252")
    assert rates[("IDR", date(2025, 5, 8))] == Decimal("18641.58")
    assert not any(currency in ("CYP", "EUR") for currency, _ in rates)  # N/A cells; the euro is 1 by definition

    # Importing again (a newer download overlapping the old one) replaces, never duplicates.
    again = tmp_path / "corrected.csv"
    again.write_text("Date,USD\n2025-05-09,1.2000\n2025-05-12,1.1100\n")
    assert rates_import(database_url, tmp_path, again).returncode == 0
    rates = await stored(app)
    assert len(rates) == 5 * RATES_PER_DAY + 1
    assert rates[("USD", date(2025, 5, 9))] == Decimal("1.2000")


@pytest.mark.parametrize("content, message", [
    (b"Day,USD\n2025-05-09,1.1\n", "line 1 should start with Date"),
    (b"Date,USD,12\n2025-05-09,1.1,1\n", "line 1: '12' is not a currency code"),
    (b"Date,USD\n2025-05-09,1.1\n2025-13-01,1.2\n", "line 3: '2025-13-01' is not a date"),
    (b"Date,USD\n2025-05-09,abc\n", "line 2: 'abc' is not a rate of USD"),
    (b"Date,USD\n2025-05-09,-1\n", "line 2: '-1' is not a rate of USD"),
    (b"\xff\xfe\x00", "not UTF-8"),
])
async def test_cli_refuses_a_file_that_is_not_ecb_rates_and_stores_nothing(
        app, database_url: str, tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    run = rates_import(database_url, tmp_path, bad)
    assert run.returncode == 1
    assert message in run.stderr
    assert await stored(app) == {}


def test_reads_the_zip_and_the_daily_file() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("eurofxref-hist.csv", ECB_HEAD.read_bytes())
    assert len(parse_ecb_csv(archive.getvalue())) == 5 * RATES_PER_DAY
    # eurofxref.csv, the latest day alone: a spelled-out date and spaces after the commas.
    daily = parse_ecb_csv(b"Date, USD, JPY, \n09 May 2025, 1.1252, 163.36, \n")
    assert [(r.currency, r.day, r.per_eur) for r in daily] == [
        ("USD", date(2025, 5, 9), Decimal("1.1252")), ("JPY", date(2025, 5, 9), Decimal("163.36"))]
    with pytest.raises(RatesFileError):
        parse_ecb_csv(b"PK\x03\x04 not really a zip")


class FakeEcb(BaseHTTPRequestHandler):
    """Serves the zipped history like www.ecb.europa.eu, or fails when told to."""

    status = 200
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        FakeEcb.requests.append(self.path)
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("eurofxref-hist.csv", ECB_HEAD.read_bytes())
        body = archive.getvalue() if FakeEcb.status == 200 else b"down for maintenance"
        self.send_response(FakeEcb.status)
        self.send_header("Content-Type", "application/zip" if FakeEcb.status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ecb() -> Iterator[str]:
    FakeEcb.status, FakeEcb.requests = 200, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeEcb)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/stats/eurofxref/eurofxref-hist.zip"
    server.shutdown()


async def _wait_for(predicate, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_background_refresh_fetches_the_rates_and_survives_a_failure(
        settings, ecb: str, caplog: pytest.LogCaptureFixture) -> None:
    refreshing = settings.model_copy(update={"rates_url": ecb, "rates_refresh_interval": 0.2})
    app = create_app(refreshing)
    caplog.set_level(logging.INFO, logger="clicktrail.rates")
    async with app.router.lifespan_context(app):
        async def count() -> int:
            async with app.state.sessionmaker() as session:
                return int(await session.scalar(select(func.count()).select_from(ExchangeRate)))

        await _wait_for(lambda: _at_least(count, 5 * RATES_PER_DAY))
        assert FakeEcb.requests[0] == "/stats/eurofxref/eurofxref-hist.zip"

        FakeEcb.status = 503
        fetched = len(FakeEcb.requests)

        async def failed() -> bool:
            return any("not refreshed" in r.getMessage() for r in caplog.records)

        await _wait_for(failed)
        assert len(FakeEcb.requests) > fetched
        failure = next(r for r in caplog.records if "not refreshed" in r.getMessage())
        assert failure.levelno == logging.WARNING and "503" in failure.getMessage()
        # Still serving, with the rates it had.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(app)), base_url="http://ct.test") as c:
            assert (await c.get("/healthz")).status_code == 200
        assert await count() == 5 * RATES_PER_DAY

        FakeEcb.status = 200  # and it recovers on the next round
        recovered = len(caplog.records)
        await _wait_for(lambda: _logged_after(caplog, recovered, "exchange rates refreshed"))


async def _at_least(count, n: int) -> bool:
    return await count() >= n


async def _logged_after(caplog: pytest.LogCaptureFixture, start: int, text: str) -> bool:
    return any(text in r.getMessage() for r in caplog.records[start:])
