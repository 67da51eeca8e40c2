"""The in-process link cache of the redirect: short TTL, negative entries, invalidated on writes.

Writes invalidate this process's cache after they commit; on PostgreSQL they also NOTIFY, so
every other worker drops the entry too (see invalidation.py). On SQLite the TTL bounds staleness.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clicktrail.db import on_commit
from clicktrail.links.codes import CodeCodec
from clicktrail.redirect.destination import Target
from clicktrail.redirect.lookup import find_link_by_code
from clicktrail.redirect.preview import Card, card_of

NOTIFY_CHANNEL = "clicktrail_links"
MAX_LINKS = 50_000  # found links kept; each entry holds at most a 2,048-character destination
MAX_LINK_BYTES = 64 * 1024 * 1024
MAX_UNKNOWN = 10_000  # codes that found nothing: a stranger's scan of made-up codes only churns these
MAX_CODE_CHARS = 64  # no code or slug is longer: a longer path is not looked up or cached at all
_ENTRY_OVERHEAD = 400  # bytes of a CachedLink and its Target besides the strings


@dataclass(slots=True)
class CachedLink:
    id: int
    workspace_id: int
    campaign_id: int | None
    channel: str
    target: Target
    expires_ts: float | None
    max_clicks: int | None
    disabled: bool
    # The database said the click limit is reached: no further person gets through.
    exhausted: bool = False
    card: Card | None = None  # the preview card fetchers get instead of the redirect

    def size(self) -> int:
        return (_ENTRY_OVERHEAD + len(self.target.prefix) + len(self.target.fragment) + sum(map(len, self.target.keys))
                + (self.card.size() if self.card is not None else 0))


_ADMIT = text(
    "UPDATE links SET admitted_clicks = admitted_clicks + 1 "
    "WHERE id = :id AND max_clicks IS NOT NULL AND admitted_clicks < max_clicks RETURNING admitted_clicks"
)


class LinkCache:
    """Two bounded LRUs: found links (by entries and bytes) and unknown codes (by entries).
    An index from link id to its cached codes makes invalidation touch only that link."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        codec: CodeCodec,
        ttl: float,
        *,
        max_links: int = MAX_LINKS,
        max_bytes: int = MAX_LINK_BYTES,
        max_unknown: int = MAX_UNKNOWN,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._codec = codec
        self._ttl = ttl
        self._max_links, self._max_bytes, self._max_unknown = max_links, max_bytes, max_unknown
        self._links: OrderedDict[str, tuple[float, CachedLink]] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._codes_of: dict[int, set[str]] = {}
        self._bytes = 0
        self._loading: dict[str, asyncio.Future[CachedLink | None]] = {}

    def __len__(self) -> int:
        return len(self._links) + len(self._unknown)

    @property
    def bytes(self) -> int:
        return self._bytes

    async def get(self, code: str) -> CachedLink | None:
        if len(code) > MAX_CODE_CHARS:
            return None
        now = time.monotonic()
        entry = self._links.get(code)
        if entry is not None:
            if entry[0] > now:
                self._links.move_to_end(code)
                return entry[1]
        elif (unknown_until := self._unknown.get(code)) is not None and unknown_until > now:
            return None
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
        self._store(code, now + self._ttl, link)
        future.set_result(link)
        return link

    def _store(self, code: str, until: float, link: CachedLink | None) -> None:
        self._drop(code)
        if link is None:
            self._unknown[code] = until
            while len(self._unknown) > self._max_unknown:
                self._unknown.popitem(last=False)
            return
        self._links[code] = (until, link)
        self._codes_of.setdefault(link.id, set()).add(code)
        self._bytes += link.size() + len(code)
        while len(self._links) > self._max_links or self._bytes > self._max_bytes:
            self._drop(next(iter(self._links)))

    def _drop(self, code: str) -> None:
        self._unknown.pop(code, None)
        entry = self._links.pop(code, None)
        if entry is not None:
            link = entry[1]
            self._bytes -= link.size() + len(code)
            codes = self._codes_of.get(link.id)
            if codes is not None:
                codes.discard(code)
                if not codes:
                    del self._codes_of[link.id]

    async def _load(self, code: str) -> CachedLink | None:
        async with self._sessionmaker() as session:
            link = await find_link_by_code(session, self._codec, code)
        if link is None:
            return None
        utm = {f: v for f in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
               if (v := getattr(link, f))}
        return CachedLink(
            id=link.id,
            workspace_id=link.workspace_id,
            campaign_id=link.campaign_id,
            channel=link.channel,
            target=Target.build(link.destination_url, utm),
            expires_ts=link.expires_at.timestamp() if link.expires_at else None,
            max_clicks=link.max_clicks,
            disabled=link.disabled,
            exhausted=link.max_clicks is not None and link.admitted_clicks >= link.max_clicks,
            card=card_of(link),
        )

    async def admit(self, link: CachedLink) -> bool:
        """Count one more person through a limited link, atomically in the database, so the
        limit holds across every worker and host: the row is updated only while under it."""
        async with self._sessionmaker() as session, session.begin():
            admitted = (await session.execute(_ADMIT, {"id": link.id})).scalar()
        if admitted is None:
            link.exhausted = True
            return False
        return True

    def invalidate(self, link_id: int | None, code: str | None) -> None:
        if code is not None:
            self._drop(code)
        if link_id is not None:
            for cached in list(self._codes_of.get(link_id, ())):
                self._drop(cached)

    def clear(self) -> None:
        self._links.clear()
        self._unknown.clear()
        self._codes_of.clear()
        self._bytes = 0


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
