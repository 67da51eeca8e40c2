"""The in-process link cache of the redirect: short TTL, negative entries, invalidated on writes.

Writes invalidate this process's cache after they commit; on PostgreSQL they also NOTIFY, so
every other worker drops the entry too (see invalidation.py). On SQLite the TTL bounds staleness.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clicktrail.db import on_commit
from clicktrail.links.codes import CodeCodec
from clicktrail.redirect.destination import Target
from clicktrail.redirect.lookup import find_link_by_code

NOTIFY_CHANNEL = "clicktrail_links"
MAX_ENTRIES = 100_000


@dataclass(slots=True)
class CachedLink:
    id: int
    campaign_id: int | None
    channel: str
    target: Target
    expires_ts: float | None
    max_clicks: int | None
    click_count: int  # person clicks written to the database, as far as this process knows
    disabled: bool


class LinkCache:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], codec: CodeCodec, ttl: float) -> None:
        self._sessionmaker = sessionmaker
        self._codec = codec
        self._ttl = ttl
        self._entries: dict[str, tuple[float, CachedLink | None]] = {}
        self._loading: dict[str, asyncio.Future[CachedLink | None]] = {}
        # Person clicks answered by this process and not yet written: they count toward max_clicks.
        self.pending_clicks: Counter[int] = Counter()

    async def get(self, code: str) -> CachedLink | None:
        entry = self._entries.get(code)
        now = time.monotonic()
        if entry is not None and entry[0] > now:
            return entry[1]
        loading = self._loading.get(code)
        if loading is not None:  # one database query per code, however many taps arrive at once
            return await asyncio.shield(loading)
        future: asyncio.Future[CachedLink | None] = asyncio.get_running_loop().create_future()
        self._loading[code] = future
        try:
            link = await self._load(code)
        except Exception as exc:
            # Database down: keep serving what we knew, so redirects keep answering.
            if entry is not None:
                future.set_result(entry[1])
                return entry[1]
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            self._loading.pop(code, None)
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[code] = (now + self._ttl, link)
        future.set_result(link)
        return link

    async def _load(self, code: str) -> CachedLink | None:
        async with self._sessionmaker() as session:
            link = await find_link_by_code(session, self._codec, code)
        if link is None:
            return None
        utm = {f: v for f in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
               if (v := getattr(link, f))}
        return CachedLink(
            id=link.id,
            campaign_id=link.campaign_id,
            channel=link.channel,
            target=Target.build(link.destination_url, utm),
            expires_ts=link.expires_at.timestamp() if link.expires_at else None,
            max_clicks=link.max_clicks,
            click_count=link.click_count,
            disabled=link.disabled,
        )

    def invalidate(self, link_id: int | None, code: str | None) -> None:
        if code is not None:
            self._entries.pop(code, None)
        if link_id is not None:
            for key in [k for k, (_exp, link) in self._entries.items() if link is not None and link.id == link_id]:
                del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()

    def clicks_written(self, per_link: Iterable[tuple[int, int]]) -> None:
        """The recorder wrote these person clicks: move them from pending to the cached count."""
        for link_id, n in per_link:
            self.pending_clicks[link_id] -= n
            if self.pending_clicks[link_id] <= 0:
                del self.pending_clicks[link_id]
            for _exp, link in self._entries.values():
                if link is not None and link.id == link_id:
                    link.click_count += n

    def used_up(self, link: CachedLink) -> bool:
        return link.max_clicks is not None and link.click_count + self.pending_clicks[link.id] >= link.max_clicks


async def links_changed(
    session: AsyncSession, cache: LinkCache | None, changes: Iterable[tuple[int, str | None]]
) -> None:
    """Call inside a write: other workers hear of it on commit (NOTIFY), and so does this one."""
    changes = list(changes)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        for link_id, code in changes:
            await session.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": NOTIFY_CHANNEL, "payload": f"{link_id}:{code or ''}"},
            )
    if cache is not None:
        invalidate: Callable[[], None] = lambda: [cache.invalidate(i, c) for i, c in changes]  # noqa: E731
        on_commit(session, invalidate)
