"""The data directory, the SQLite file (with its -wal and -shm) and the click spool are readable
by their owner only (API.md, Data lifecycle), on a new installation and on one an earlier version
left with the default modes."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from pathlib import Path

import httpx

from clicktrail import migrate
from clicktrail.app import asgi_app, create_app
from clicktrail.clicks.ids import new_click_id
from clicktrail.clicks.recorder import Hit, Recorder
from clicktrail.db import create_engine
from clicktrail.settings import Settings

from conftest import BASE_URL


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _serve_once(data_dir: Path) -> None:
    settings = Settings(_env_file=None, data_dir=data_dir, base_url=BASE_URL)
    migrate.upgrade(settings.resolved_database_url)
    asyncio.run(_ask_ready(settings, data_dir))


async def _ask_ready(settings: Settings, data_dir: Path) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(app)), base_url=BASE_URL) as c:
            assert (await c.get("/readyz")).status_code == 200
        db = data_dir / "clicktrail.db"
        for companion in (db.with_name("clicktrail.db-wal"), db.with_name("clicktrail.db-shm")):
            assert mode(companion) == 0o600, companion  # while open: SQLite gives them the file's mode


def test_a_new_installation_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the usual default: files 0644, directories 0755
    try:
        data_dir = tmp_path / "clicktrail-data"
        _serve_once(data_dir)
    finally:
        os.umask(old_umask)
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "clicktrail.db") == 0o600
    assert mode(data_dir / "secret_key") == 0o600
    assert mode(data_dir / "spool") == 0o700


def test_an_existing_world_readable_installation_is_tightened(tmp_path: Path) -> None:
    data_dir = tmp_path / "clicktrail-data"
    data_dir.mkdir(mode=0o755)
    db = data_dir / "clicktrail.db"
    db.touch(mode=0o644)
    db.chmod(0o644)
    (data_dir / "clicktrail.db-wal").touch()
    (data_dir / "clicktrail.db-wal").chmod(0o644)
    _serve_once(data_dir)
    assert mode(data_dir) == 0o700 and mode(db) == 0o600


async def test_spooled_clicks_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    broken = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    spool = tmp_path / "spool"
    old_umask = os.umask(0o022)
    try:
        recorder = Recorder(broken, spool)
        recorder.record(Hit(new_click_id(), 1, None, "sms", "Mozilla/5.0 (iPhone)", None, None, None, False, False,
                            time.time()))
        await recorder.flush()
    finally:
        os.umask(old_umask)
        await broken.dispose()
    assert recorder.stats.spooled == 1
    [file] = list(spool.glob("clicks-*.jsonl"))
    assert mode(spool) == 0o700 and mode(file) == 0o600
