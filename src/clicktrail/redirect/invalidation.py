"""Cross-worker cache invalidation on PostgreSQL: LISTEN for the NOTIFY that link and domain
writes send. A link's payload names (link id, domain, code); `domains` reloads the branded hosts."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from clicktrail.redirect.cache import DOMAINS_CHANGED, NOTIFY_CHANNEL, LinkCache, parse_payload
from clicktrail.redirect.hosts import HostMap

log = logging.getLogger("clicktrail.redirect")


class Listener:
    def __init__(self, engine: AsyncEngine, cache: LinkCache, hosts: HostMap | None = None,
                 sessionmaker: async_sessionmaker[AsyncSession] | None = None) -> None:
        url = engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._cache = cache
        self._hosts = hosts
        self._sessionmaker = sessionmaker
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

    def _reload_hosts(self) -> None:
        if self._hosts is not None and self._sessionmaker is not None:
            self._hosts.reload_soon(self._sessionmaker)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload == DOMAINS_CHANGED:
            self._reload_hosts()
            return
        self._cache.invalidate(*parse_payload(payload))

    async def _run(self) -> None:
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=10)
                await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
                # Notifications sent while we were away are lost: forget everything once.
                self._cache.clear()
                self._reload_hosts()
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
