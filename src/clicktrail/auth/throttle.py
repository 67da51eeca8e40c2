"""Sign-in throttling: every try counts before the password is checked, in one atomic statement.

Two counters per try, both raised by a single upsert each (no read-then-write race between
requests or workers): the account as seen from this client, and the client alone. The account
key includes the client, so a stranger guessing a known email from elsewhere cannot lock its
owner out; the client key stops one client from spraying many accounts. A try made while a key
must wait is refused without a password check (and still counted). Unknown emails are
counted exactly like known ones, so the answers never tell which accounts exist. A successful
sign-in clears the account key.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.db import utcnow

# Tries in a row that are free; after that each one doubles the wait, up to 15 minutes.
FREE_TRIES = 3
MAX_WAIT = timedelta(minutes=15)
# A client may fail this many times (any accounts) before it must wait out the window.
CLIENT_TRIES = 30
CLIENT_WINDOW = timedelta(minutes=15)

# One statement counts every try, refused ones included, so no burst of parallel tries goes
# uncounted; a counter idle for longer than the longest wait starts again from one.
_COUNT = text(
    "INSERT INTO sign_in_throttles (key, failures, last_failed_at) VALUES (:key, 1, :now) "
    "ON CONFLICT (key) DO UPDATE SET "
    "failures = CASE WHEN sign_in_throttles.last_failed_at < :stale THEN 1 ELSE sign_in_throttles.failures + 1 END, "
    "last_failed_at = :now "
    "RETURNING failures, blocked_until"
)
# Only ever lengthens a wait, so concurrent failures settle on the longest.
_BLOCK = text(
    "UPDATE sign_in_throttles SET blocked_until = :until "
    "WHERE key = :key AND (blocked_until IS NULL OR blocked_until < :until)"
)


@dataclass(frozen=True)
class Keys:
    account: str
    client: str


def keys(secret: str, email: str, client_ip: str) -> Keys:
    """Keyed hashes: the table holds no email and no address."""
    def digest(value: str) -> str:
        return hmac.new(secret.encode(), value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:40]

    client = digest(f"client\x00{client_ip}")
    return Keys(account="account:" + digest(f"account\x00{email}\x00{client_ip}"), client="client:" + client)


def _account_wait(failures: int) -> timedelta:
    extra = failures - FREE_TRIES
    if extra <= 0:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(extra, 20)), MAX_WAIT)


@dataclass
class Try:
    keys: Keys
    failures: int  # of the account key, this try included
    client_failures: int
    wait_seconds: int  # > 0: refused without checking the password


async def count_try(session: AsyncSession, k: Keys, now: datetime | None = None) -> Try:
    """Count this try against both keys (committed with the request, whatever the answer)."""
    now = now or utcnow()
    params = {"now": _param(session, now), "stale": _param(session, now - 2 * max(MAX_WAIT, CLIENT_WINDOW))}
    counts = []
    wait = 0.0
    for key in (k.account, k.client):
        failures, blocked_until = (await session.execute(_COUNT, {"key": key, **params})).one()
        counts.append(failures)
        if blocked_until is not None:
            blocked_until = _aware(blocked_until)
            wait = max(wait, (blocked_until - now).total_seconds())
    return Try(k, counts[0], counts[1], max(0, int(wait + 0.999)))


async def failed(session: AsyncSession, attempt: Try, now: datetime | None = None) -> None:
    """The password was wrong: make the keys wait as their counts say."""
    now = now or utcnow()
    waits = ((attempt.keys.account, _account_wait(attempt.failures)),
             (attempt.keys.client, CLIENT_WINDOW if attempt.client_failures >= CLIENT_TRIES else timedelta(0)))
    for key, wait in waits:
        if wait:
            await session.execute(_BLOCK, {"key": key, "until": _param(session, now + wait)})


async def succeeded(session: AsyncSession, attempt: Try) -> None:
    from clicktrail.auth.models import SignInThrottle

    await session.execute(delete(SignInThrottle).where(SignInThrottle.key == attempt.keys.account))


def _aware(moment: datetime) -> datetime:
    if isinstance(moment, str):  # SQLite through text(): an ISO string
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _param(session: AsyncSession, moment: datetime) -> object:
    # text() bypasses the UTCDateTime type: SQLite stores naive UTC, PostgreSQL an aware time.
    moment = moment.astimezone(timezone.utc)
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores it: compares as text
    return moment
