"""The in-process link cache of the redirect: short TTL, negative entries, invalidated on writes.

Entries are keyed by (domain, code): the domain is a branded host, or '' for the installation's
default domain (redirect/hosts.py tells which a request's Host is). Writes invalidate this
process's cache after they commit; on PostgreSQL they also NOTIFY, so every other worker drops the
entry too (see invalidation.py). On SQLite the TTL bounds staleness.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TypeAlias
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clicktrail.db import on_commit
from clicktrail.links.codes import CodeCodec
from clicktrail.redirect.destination import Target
from clicktrail.redirect.lookup import find_link_by_code
from clicktrail.redirect.preview import Card, card_of

NOTIFY_CHANNEL = "clicktrail_links"
DOMAINS_CHANGED = "domains"  # the payload that makes every worker reload its branded hosts
ANY_DOMAIN = "*"  # in a payload: the code on every domain (no host is '*')
MAX_LINKS = 50_000  # found links kept; each entry holds at most a 2,048-character destination
MAX_LINK_BYTES = 64 * 1024 * 1024
MAX_UNKNOWN = 10_000  # codes that found nothing: a stranger's scan of made-up codes only churns these
MAX_CODE_CHARS = 64  # no code or slug is longer: a longer path is not looked up or cached at all
_ENTRY_OVERHEAD = 400  # bytes of a CachedLink and its Target besides the strings

Key: TypeAlias = "tuple[str, str]"  # (domain, code); domain '' is the default one


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
    """Two bounded LRUs: found links (by entries and bytes) and unknown codes (by entries), both
    keyed by (domain, code). An index from link id to its cached keys makes invalidation touch
    only that link. `hosts` names the branded hosts, for invalidating a code on every domain."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        codec: CodeCodec,
        ttl: float,
        *,
        max_links: int = MAX_LINKS,
        max_bytes: int = MAX_LINK_BYTES,
        max_unknown: int = MAX_UNKNOWN,
        hosts: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._codec = codec
        self._ttl = ttl
        self._max_links, self._max_bytes, self._max_unknown = max_links, max_bytes, max_unknown
        self._hosts = hosts
        self._links: OrderedDict[Key, tuple[float, CachedLink]] = OrderedDict()
        self._unknown: OrderedDict[Key, float] = OrderedDict()
        self._codes_of: dict[int, set[Key]] = {}
        self._bytes = 0
        self._loading: dict[Key, asyncio.Future[CachedLink | None]] = {}

    def __len__(self) -> int:
        return len(self._links) + len(self._unknown)

    @property
    def bytes(self) -> int:
        return self._bytes

    async def get(self, domain: str, code: str) -> CachedLink | None:
        """The link at `code` on `domain` (a branded host, '' for the default domain), or None."""
        if len(code) > MAX_CODE_CHARS:
            return None
        key = (domain, code)
        now = time.monotonic()
        entry = self._links.get(key)
        if entry is not None:
            if entry[0] > now:
                self._links.move_to_end(key)
                return entry[1]
        elif (unknown_until := self._unknown.get(key)) is not None and unknown_until > now:
            return None
        loading = self._loading.get(key)
        if loading is not None:  # one database query per code, however many taps arrive at once
            return await asyncio.shield(loading)
        future: asyncio.Future[CachedLink | None] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            link = await self._load(domain, code)
        except Exception as exc:
            # Database down: keep serving what we knew, so redirects keep answering.
            if entry is not None:
                future.set_result(entry[1])
                return entry[1]
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            self._loading.pop(key, None)
        self._store(key, now + self._ttl, link)
        future.set_result(link)
        return link

    def _store(self, key: Key, until: float, link: CachedLink | None) -> None:
        self._drop(key)
        if link is None:
            self._unknown[key] = until
            while len(self._unknown) > self._max_unknown:
                self._unknown.popitem(last=False)
            return
        self._links[key] = (until, link)
        self._codes_of.setdefault(link.id, set()).add(key)
        self._bytes += link.size() + len(key[0]) + len(key[1])
        while len(self._links) > self._max_links or self._bytes > self._max_bytes:
            self._drop(next(iter(self._links)))

    def _drop(self, key: Key) -> None:
        self._unknown.pop(key, None)
        entry = self._links.pop(key, None)
        if entry is not None:
            link = entry[1]
            self._bytes -= link.size() + len(key[0]) + len(key[1])
            keys = self._codes_of.get(link.id)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._codes_of[link.id]

    async def _load(self, domain: str, code: str) -> CachedLink | None:
        async with self._sessionmaker() as session:
            link = await find_link_by_code(session, self._codec, code, domain)
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

    def invalidate(self, link_id: int | None, domain: str | None, code: str | None) -> None:
        """Forget the link (every key it is cached under) and the code on `domain` (None: on
        every domain, for a writer that does not say which)."""
        if code is not None:
            if domain is not None:
                self._drop((domain, code))
            else:
                for host in ("", *self._hosts()):
                    self._drop((host, code))
        if link_id is not None:
            for cached in list(self._codes_of.get(link_id, ())):
                self._drop(cached)

    def clear(self) -> None:
        self._links.clear()
        self._unknown.clear()
        self._codes_of.clear()
        self._bytes = 0


Change: TypeAlias = "tuple[int | None, str | None] | tuple[int | None, str | None, str | None]"


def _triple(change: Change) -> tuple[int | None, str | None, str | None]:
    """(link id, domain, code); a pair (link id, code) names no domain: the code on every one."""
    if len(change) == 3:
        return change  # type: ignore[return-value]
    return change[0], None, change[1]  # type: ignore[misc]


def payload(link_id: int | None, domain: str | None, code: str | None) -> str:
    """What a NOTIFY says: `<link id>:<domain>:<code>` (neither a host nor a code has a ':')."""
    return f"{'' if link_id is None else link_id}:{ANY_DOMAIN if domain is None else domain}:{code or ''}"


def parse_payload(text_: str) -> tuple[int | None, str | None, str | None]:
    link_id, _, rest = text_.partition(":")
    domain, _, code = rest.partition(":")
    return (int(link_id) if link_id.isdigit() else None, None if domain == ANY_DOMAIN else domain, code or None)


async def links_changed(session: AsyncSession, cache: LinkCache | None, changes: Iterable[Change]) -> None:
    """Call inside a write: other workers hear of it on commit (NOTIFY), and so does this one.
    Each change is (link id, domain, code) — the domain a branded host or '' — or (link id, code)
    when the writer does not know the domain (then the code is dropped on every domain)."""
    triples = [_triple(c) for c in changes]
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        for link_id, domain, code in triples:
            await session.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": NOTIFY_CHANNEL, "payload": payload(link_id, domain, code)},
            )
    if cache is not None:
        invalidate: Callable[[], None] = lambda: [cache.invalidate(*t) for t in triples]  # noqa: E731
        on_commit(session, invalidate)
