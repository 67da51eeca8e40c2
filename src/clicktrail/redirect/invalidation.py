"""Cross-worker cache invalidation on PostgreSQL: LISTEN for the NOTIFY that link writes send."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from clicktrail.redirect.cache import NOTIFY_CHANNEL, LinkCache

log = logging.getLogger("clicktrail.redirect")


class Listener:
    def __init__(self, engine: AsyncEngine, cache: LinkCache) -> None:
        url = engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._cache = cache
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="clicktrail-link-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        link_id, _, code = payload.partition(":")
        self._cache.invalidate(int(link_id) if link_id.isdigit() else None, code or None)

    async def _run(self) -> None:
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=10)
                await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
                # Notifications sent while we were away are lost: forget everything once.
                self._cache.clear()
                while not conn.is_closed():
                    await asyncio.sleep(2)
                    await conn.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: the TTL covers us until we are back
                log.warning("link invalidation listener lost its connection: %s", exc)
            finally:
                if conn is not None and not conn.is_closed():
                    await conn.close()
            await asyncio.sleep(1)
