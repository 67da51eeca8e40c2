"""The background sender: claims due deliveries, sends each as one HTTP request, records the
try and schedules the next.

At-least-once, never twice in normal running: a claim is one UPDATE that takes due rows
(`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two senders never take the same row; SQLite runs one
writer at a time) and leases them for `outbound_lease` seconds under a claim token. A sender
that dies mid-try leaves the lease to run out, and the row is tried again, with the same event
id, so the receiver can deduplicate. A try's outcome is written only under its own claim token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import httpx
from fastapi import FastAPI
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clicktrail.db import utcnow
from clicktrail.outbound import addresses, ga4, meta, tiktok, wakeup, webhooks
from clicktrail.outbound.models import Delivery, Destination, OutboxEvent
from clicktrail.outbound.outgoing import Job, Outgoing, Skip
from clicktrail.outbound.service import OutboundContext
from clicktrail.settings import Settings

log = logging.getLogger("clicktrail.outbound")

MAX_REDIRECTS = 3
BATCH = 100
CONCURRENCY = 8  # more makes httpcore's pool bookkeeping (quadratic in waiting requests) the bottleneck
GATHER = 0.02  # seconds a woken sender waits for more commits
PRUNE_EVERY = 3600.0  # seconds between trims of the deliveries log
ANSWER_BYTES = 200  # of a failed answer's body, kept in the deliveries log


@dataclass(frozen=True)
class Policy:
    timeout: float
    retry_base: float
    retry_max_delay: float
    retry_window: timedelta
    circuit_failures: int
    circuit_pause: timedelta
    lease: timedelta
    log_kept: timedelta

    @classmethod
    def from_settings(cls, s: Settings) -> Policy:
        return cls(s.outbound_timeout, s.outbound_retry_base, s.outbound_retry_max_delay,
                   timedelta(seconds=s.outbound_retry_window), s.outbound_circuit_failures,
                   timedelta(seconds=s.outbound_circuit_pause), timedelta(seconds=s.outbound_lease),
                   timedelta(days=s.outbound_log_days))

    def backoff(self, attempts: int) -> float:
        """Seconds before try `attempts + 1`: doubling from retry_base, capped, with full jitter
        over its upper half so a burst of failures does not come back as one burst."""
        delay = min(self.retry_max_delay, self.retry_base * 2 ** max(0, attempts - 1))
        return random.uniform(delay / 2, delay)


@dataclass(frozen=True)
class Claimed:
    """A leased delivery: what the adapter needs, and what recording its outcome needs."""

    job: Job
    destination_id: int
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None = None
    error: str | None = None
    skipped: bool = False


def build(job: Job, ctx: OutboundContext, *, test: bool = False) -> Outgoing | Skip:
    if job.kind == "webhook":
        return webhooks.build(job)
    if job.kind == "ga4":
        return ga4.build(job, ctx.endpoints, debug=test)
    if job.kind == "meta":
        return meta.build(job, ctx.endpoints)
    return tiktok.build(job, ctx.endpoints)


async def send(client: httpx.AsyncClient, outgoing: Outgoing, allow_private: bool, timeout: float) -> Outcome:
    """One try: every hop's address checked and pinned; 2xx is delivered, anything else is not."""
    url = outgoing.url
    try:
        async with asyncio.timeout(timeout):
            for _hop in range(MAX_REDIRECTS + 1):
                target = await addresses.resolve(url, allow_private)
                request = client.build_request(
                    outgoing.method, target.pinned_url, content=outgoing.body,
                    headers={**outgoing.headers, "Host": _host_header(url)},
                    extensions={"sni_hostname": target.host},
                )
                response = await client.send(request, stream=True)
                try:
                    # What a receiver answers is read only as far as the log shows it: a
                    # destination cannot fill the sender's memory with an endless body.
                    head = await _first_bytes(response, ANSWER_BYTES)
                finally:
                    await response.aclose()
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.is_success:
                    return Outcome(True, response.status_code)
                text = head.decode("utf-8", errors="replace")
                return Outcome(False, response.status_code, f"answered {response.status_code}: {text}")
            return Outcome(False, None, f"more than {MAX_REDIRECTS} redirects")
    except addresses.UnsafeURL as exc:
        return Outcome(False, None, f"refused: {exc}")
    except TimeoutError:
        return Outcome(False, None, f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:300])


async def send_test(job: Job, ctx: OutboundContext, policy: Policy) -> Outcome:
    """"Send a test event": one try now, outside the outbox, with the answer for the person."""
    outgoing = build(job, ctx, test=True)
    assert not isinstance(outgoing, Skip)  # a test order is always fresh
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=policy.timeout) as client:
        return await send(client, outgoing, ctx.allow_private, policy.timeout)


async def _first_bytes(response: httpx.Response, limit: int) -> bytes:
    head = b""
    async for chunk in response.aiter_bytes():
        head += chunk
        if len(head) >= limit:
            break
    return head[:limit]


def _host_header(url: str) -> str:
    return httpx.URL(url).netloc.decode()


class Sender:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ctx: OutboundContext, policy: Policy,
                 interval: float) -> None:
        self._sessionmaker = sessionmaker
        self._ctx = ctx
        self._policy = policy
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._wake = asyncio.Event()

    @classmethod
    def for_app(cls, app: FastAPI) -> Sender:
        settings: Settings = app.state.settings
        return cls(app.state.sessionmaker, outbound_context(app), Policy.from_settings(settings),
                   settings.outbound_send_interval)

    def start(self) -> None:
        wakeup.register(self._wake)
        self._task = asyncio.create_task(self._run(), name="clicktrail-outbound-sender")

    async def stop(self) -> None:
        wakeup.unregister(self._wake)
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # No redirects followed by httpx (each hop is checked here), no proxies from the
            # environment, no connection reuse across checks (each request is pinned anew).
            self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=self._policy.timeout)
        return self._client

    async def run_once(self) -> int:
        """Claim what is due, send it, record it. Returns how many tries were made."""
        token = secrets.token_hex(16)
        claimed = await self._claim(token)
        if not claimed:
            return 0
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(c: Claimed) -> tuple[Claimed, Outcome]:
            async with limit:
                return c, await self._try(c.job)

        results = await asyncio.gather(*(one(c) for c in claimed))
        await self._record(token, results)
        return len(results)

    async def _try(self, job: Job) -> Outcome:
        try:
            outgoing = build(job, self._ctx)
        except Exception as exc:  # a payload an adapter cannot turn into a request: retrying will not help
            log.exception("building delivery %s failed", job.delivery_id)
            return Outcome(False, None, f"could not build the request: {exc}"[:300])
        if isinstance(outgoing, Skip):
            return Outcome(False, None, outgoing.reason, skipped=True)
        return await send(self._http(), outgoing, self._ctx.allow_private, self._policy.timeout)

    async def _claim(self, token: str) -> list[Claimed]:
        now = utcnow()
        due = (
            select(Delivery.id)
            .join(Destination, Destination.id == Delivery.destination_id)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now,
                   or_(Destination.paused_until.is_(None), Destination.paused_until <= now))
            .order_by(Delivery.next_attempt_at)
            .limit(BATCH)
            .with_for_update(of=Delivery, skip_locked=True)
            .scalar_subquery()
        )
        async with self._sessionmaker() as session:
            claimed = (await session.execute(
                update(Delivery).where(Delivery.id.in_(due))
                .values(claim=token, next_attempt_at=now + self._policy.lease)
                .returning(Delivery.id)
            )).scalars().all()
            if not claimed:
                await session.commit()
                return []
            rows = (await session.execute(
                select(Delivery.id, Delivery.action, Delivery.email_sha256, Delivery.destination_id, Delivery.attempts,
                       Delivery.created_at, OutboxEvent.event_id, OutboxEvent.type, OutboxEvent.body,
                       OutboxEvent.signals, Destination.kind, Destination.url, Destination.account_id,
                       Destination.secret_sealed, Destination.previous_secret_sealed,
                       Destination.previous_secret_until)
                .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
                .join(Destination, Destination.id == Delivery.destination_id)
                .where(Delivery.id.in_(claimed))
            )).all()
            await session.commit()
        return [
            Claimed(Job(delivery_id=r.id, event_id=r.event_id, type=r.type, action=r.action, body=r.body,
                        signals=json.loads(r.signals), kind=r.kind, url=r.url, account_id=r.account_id,
                        secret=self._ctx.sealer.open(r.secret_sealed), email_sha256=r.email_sha256,
                        previous_secret=self._ctx.sealer.open(r.previous_secret_sealed)
                        if r.previous_secret_sealed and r.previous_secret_until and r.previous_secret_until > now
                        else None),
                    r.destination_id, r.attempts, r.created_at)
            for r in rows
        ]

    async def _record(self, token: str, results: list[tuple[Claimed, Outcome]]) -> None:
        now = utcnow()
        delivered: dict[int | None, list[Claimed]] = {}
        async with self._sessionmaker() as session:
            for c, outcome in results:
                if outcome.delivered:
                    delivered.setdefault(outcome.status_code, []).append(c)
                else:
                    await self._record_failure(session, token, c, outcome, now)
            # Successes in one statement per status code: the common case costs one write.
            for code, group in delivered.items():
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_([c.job.delivery_id for c in group]), Delivery.claim == token)
                    .values(status="delivered", delivered_at=now, attempts=Delivery.attempts + 1, last_attempt_at=now,
                            last_status_code=code, last_error=None, email_sha256=None, claim=None)
                )
            succeeded = {c.destination_id for group in delivered.values() for c in group}
            if succeeded:  # one success closes a circuit (written only where there is one to close)
                await session.execute(
                    update(Destination)
                    .where(Destination.id.in_(succeeded),
                           or_(Destination.consecutive_failures > 0, Destination.paused_until.is_not(None)))
                    .values(consecutive_failures=0, paused_until=None)
                )
            await session.commit()

    async def _record_failure(self, session: AsyncSession, token: str, c: Claimed, outcome: Outcome,
                              now: datetime) -> None:
        values: dict[str, Any] = dict(claim=None, attempts=Delivery.attempts + 1, last_attempt_at=now,
                                      last_status_code=outcome.status_code, last_error=outcome.error)
        if outcome.skipped:
            values.update(status="skipped", email_sha256=None)
        else:
            retry_at = now + timedelta(seconds=self._policy.backoff(c.attempts + 1))
            if retry_at - c.created_at > self._policy.retry_window:
                values.update(status="failed", email_sha256=None)
            else:
                values.update(next_attempt_at=retry_at)
        mine = and_(Delivery.id == c.job.delivery_id, Delivery.claim == token)
        changed = (await session.execute(update(Delivery).where(mine).values(**values))).rowcount
        if not changed or outcome.skipped:  # not ours any more (the lease ran out), or not a failure
            return
        await session.execute(
            update(Destination).where(Destination.id == c.destination_id)
            .values(consecutive_failures=Destination.consecutive_failures + 1, last_error=(outcome.error or "")[:500])
        )
        # The circuit: past the threshold, the destination rests; after the pause each failure
        # (the count is still over) puts it back to rest, and one success closes it.
        await session.execute(
            update(Destination)
            .where(Destination.id == c.destination_id,
                   Destination.consecutive_failures >= self._policy.circuit_failures)
            .values(paused_until=now + self._policy.circuit_pause)
        )

    async def prune(self) -> int:
        """Drop the events older than the log keeps whose every delivery has ended (their
        deliveries go with them). An event with a delivery still pending stays, and so does one
        that carried a purchase: its delivery row is what makes a platform get it once, however
        late the order changes again. Returns how many went."""
        cutoff = utcnow() - self._policy.log_kept
        unfinished = select(Delivery.id).where(
            Delivery.event_id == OutboxEvent.id, or_(Delivery.status == "pending", Delivery.action == "purchase"))
        async with self._sessionmaker() as session:
            gone = (await session.execute(
                delete(OutboxEvent).where(OutboxEvent.created_at < cutoff, ~unfinished.exists())
            )).rowcount
            await session.commit()
        return gone

    async def _run(self) -> None:
        busy, pruned_at = 0, 0.0
        while True:
            if time.monotonic() - pruned_at > PRUNE_EVERY:
                pruned_at = time.monotonic()
                with suppress(Exception):  # the log is trimmed next time instead
                    await self.prune()
            if busy < BATCH:  # a full batch means more is due: go on at once
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval)
                    await asyncio.sleep(GATHER)  # woken: let the orders committing now join this batch
                self._wake.clear()
            try:
                busy = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away for a while: try again next time
                log.exception("sending outbound deliveries failed")
                busy = 0


def outbound_context(app: FastAPI) -> OutboundContext:
    ctx = getattr(app.state, "outbound", None)
    if ctx is None:
        ctx = OutboundContext.from_settings(app.state.settings)
        app.state.outbound = ctx
    return ctx
