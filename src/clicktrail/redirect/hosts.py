"""Branded short domains as the redirect sees them: every branded host, in memory.

The front door asks this map which domain a request's `Host` names, on every request: one dict
lookup, never a query. A host that is no branded domain is the installation's default domain
(''). The map is loaded at start, changed in place by this process's own domain writes as they
commit, reloaded when another worker's write says so (NOTIFY, see invalidation.py) and, on SQLite
(no NOTIFY), now and then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clicktrail.db import on_commit
from clicktrail.redirect.cache import DOMAINS_CHANGED, NOTIFY_CHANNEL
from clicktrail.workspaces import tenancy
from clicktrail.workspaces.models import Domain

log = logging.getLogger("clicktrail.redirect")

_NOT_BRANDED_KEPT = 1024


@dataclass(frozen=True, slots=True)
class Branded:
    host: str  # lower-case, ASCII (punycode), no port
    workspace_id: int
    root_redirect: str | None
    not_found_redirect: str | None

    @classmethod
    def of(cls, domain: Domain) -> Branded:
        return cls(domain.host, domain.workspace_id, domain.root_redirect, domain.not_found_redirect)


class HostMap:
    """Branded hosts by the bytes of the `Host` header that names them."""

    def __init__(self) -> None:
        self.by_host: dict[bytes, Branded] = {}  # read on every request; replaced whole by _set
        # Host headers seen that name no branded domain as sent (a port, capitals): the default
        # domain's own traffic, so it is not normalised again on every request. Bounded: anyone
        # may send any Host; forgotten whenever the branded hosts change.
        self._not_branded: set[bytes] = set()
        self._reloading: asyncio.Task[None] | None = None
        self._again = False

    def _set(self, by_host: dict[bytes, Branded]) -> None:
        # One assignment: a request never sees a half-built map.
        self._not_branded = set()
        self.by_host = by_host

    def __len__(self) -> int:
        return len(self.by_host)

    def hosts(self) -> Iterable[str]:
        return [b.host for b in self.by_host.values()]

    def of_header(self, value: bytes) -> Branded | None:
        """The branded domain a `Host` header names, or None for the default domain. Browsers send
        the host as typed in lower case without the default port: one lookup; anything else
        (a port, capitals, a trailing dot) is normalised and looked up once more."""
        by_host = self.by_host
        found = by_host.get(value)
        if found is None and by_host and value not in self._not_branded:
            found = by_host.get(value.partition(b":")[0].rstrip(b".").lower())
            if found is None and len(self._not_branded) < _NOT_BRANDED_KEPT:
                self._not_branded.add(value)
        return found

    def of_headers(self, headers: Iterable[tuple[bytes, bytes]]) -> Branded | None:
        for name, value in headers:
            if name == b"host":
                return self.of_header(value)
        return None

    def branded(self, host: str | None) -> Branded | None:
        return self.of_header(host.encode("latin-1", "replace")) if host else None

    def put(self, branded: Branded) -> None:
        self._set({**self.by_host, branded.host.encode(): branded})

    def remove(self, host: str) -> None:
        self._set({k: v for k, v in self.by_host.items() if v.host != host})

    async def load(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        async with sessionmaker() as session:
            rows = (await session.scalars(
                select(Domain).execution_options(**{tenancy.ALL_WORKSPACES: True}))).all()
        self._set({d.host.encode(): Branded.of(d) for d in rows})

    def reload_soon(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Reload in the background (from a NOTIFY callback); writes arriving during a reload
        cause one more, never a pile of them."""
        if self._reloading is not None and not self._reloading.done():
            self._again = True
            return
        self._reloading = asyncio.get_running_loop().create_task(self._reload(sessionmaker))

    async def _reload(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        while True:
            self._again = False
            try:
                await self.load(sessionmaker)
            except Exception as exc:  # the database away: keep the map we have; the next notice retries
                log.warning("reloading the branded domains failed: %s", exc)
                return
            if not self._again:
                return


async def domains_changed(
    session: AsyncSession, hosts: HostMap | None, *, put: Branded | None = None, removed: str | None = None
) -> None:
    """Call inside a domain write: this process's map changes on commit, other workers reload
    theirs (NOTIFY on PostgreSQL; on SQLite their periodic reload finds it)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:channel, :payload)"),
                              {"channel": NOTIFY_CHANNEL, "payload": DOMAINS_CHANGED})
    if hosts is not None:
        on_commit(session, lambda: hosts.put(put) if put is not None else hosts.remove(removed or ""))
