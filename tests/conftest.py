"""Test set-up: every database test runs on SQLite, and on PostgreSQL too when
CLICKTRAIL_TEST_POSTGRES_URL is set (then an unreachable server is an error, never a skip).

Each engine gets one database per session, built by the real Alembic migrations. Tests are
isolated by starting from an empty copy: SQLite copies the migrated file, PostgreSQL truncates
every table. (A rolled-back outer transaction would not cover the click recorder, which writes
from its own connections in the background.)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from clicktrail import migrate
from clicktrail.app import asgi_app, create_app
from clicktrail.auth import service as auth
from clicktrail.clicks import recorder
from clicktrail.models import Base
from clicktrail.settings import Settings, async_database_url

POSTGRES_ENV = "CLICKTRAIL_TEST_POSTGRES_URL"
POSTGRES_URL = os.environ.get(POSTGRES_ENV, "")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
BASE_URL = "http://ct.test"


def _plain_pg(url: str) -> str:
    """asyncpg.connect wants postgresql://, without SQLAlchemy's +driver."""
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}"


def _with_database(url: str, name: str) -> str:
    base, _, _old = url.rpartition("/")
    return f"{base}/{name}"


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(_plain_pg(POSTGRES_URL), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class Backend:
    name: str
    tmp: Path
    template_url: str = ""  # sync-style URL given to migrations
    pg_database: str = ""

    def new_database(self) -> str:
        """A brand-new, empty database (no migrations run); returns its async URL."""
        if self.name == "sqlite":
            return async_database_url(f"sqlite:///{self.tmp / f'fresh-{uuid.uuid4().hex}.db'}")
        name = f"clicktrail_test_{uuid.uuid4().hex[:12]}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return async_database_url(_with_database(POSTGRES_URL, name))

    def drop_created(self) -> None:
        for name in getattr(self, "_created", []):
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def __post_init__(self) -> None:
        self._created: list[str] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    if not POSTGRES_URL:
        return
    try:
        asyncio.run(_pg_admin("SELECT 1"))
    except Exception as exc:  # any failure: the suite was asked for Postgres and cannot have it
        raise pytest.UsageError(f"{POSTGRES_ENV} is set but PostgreSQL does not answer: {exc!r}") from exc


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = Backend(request.param, tmp_path_factory.mktemp(request.param))
    b.template_url = b.new_database()
    migrate.upgrade(b.template_url)
    yield b
    b.drop_created()


@pytest.fixture
async def database_url(backend: Backend, tmp_path: Path) -> AsyncIterator[str]:
    """An empty, fully migrated database for one test."""
    if backend.name == "sqlite":
        template = Path(backend.template_url.split(":///", 1)[1])
        target = tmp_path / "clicktrail.db"
        shutil.copyfile(template, target)
        yield async_database_url(f"sqlite:///{target}")
        return
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    conn = await asyncpg.connect(_plain_pg(backend.template_url.replace("+asyncpg", "")))
    try:
        await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    yield backend.template_url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key="test-secret-key-not-for-production",
        base_url=BASE_URL,
        rates_url="",  # no fetching from the ECB in tests (tests/test_rates.py serves its own)
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(app)), base_url=BASE_URL) as c:
        yield c


@pytest.fixture
async def api_key(app: FastAPI) -> str:
    async with app.state.sessionmaker() as session:
        _key, plain = await auth.create_api_key(session, "tests")
        await session.commit()
    return plain


@pytest.fixture
async def api(app: FastAPI, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends a valid API key."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi_app(app)),
        base_url=BASE_URL,
        headers={"Authorization": f"Bearer {api_key}"},
    ) as c:
        yield c


_BACKEND_OF: dict[str, str] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Postgres-only tests (COPY, LISTEN/NOTIFY, killing connections) have no SQLite variant.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "backend" in callspec.params:
            _BACKEND_OF[item.nodeid] = callspec.params["backend"]
    keep = [
        item
        for item in items
        if not (item.get_closest_marker("postgres_only") and _BACKEND_OF.get(item.nodeid) == "sqlite")
    ]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts: Counter[tuple[str, str]] = Counter()
    for outcome in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") != "call" and outcome != "error":
                continue
            name = _BACKEND_OF.get(getattr(report, "nodeid", ""))
            if name:
                counts[(name, outcome)] += 1
    lines = []
    for name in ("sqlite", "postgres"):
        if name == "postgres" and not POSTGRES_URL:
            lines.append(f"postgres: not run ({POSTGRES_ENV} unset)")
            continue
        lines.append(
            f"{name}: {counts[(name, 'passed')]} database tests passed, "
            f"{counts[(name, 'failed')] + counts[(name, 'error')]} failed"
        )
    terminalreporter.write_sep("=", "database tests per engine")
    for line in lines:
        terminalreporter.write_line(line)


def click_row(**values) -> tuple:
    """A clicks row in the recorder's column order (what its batches hold), for
    `app.state.recorder.write`: clicks written the way real ones are, roll-ups included."""
    defaults = {"app": None, "device": "mobile", "os": None, "browser": None, "referrer_host": None,
                "country": None, "user_agent": None, "is_qr": False, "ad_click_ids": None,
                "workspace_id": 1}  # the first workspace: the `api` fixture's key works in it
    return tuple({**defaults, **values}[c] for c in recorder.COLUMNS)
