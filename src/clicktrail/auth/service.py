"""Accounts, web sessions and API keys: argon2 password hashes; session tokens, setup tokens and
API keys stored only as SHA-256 digests."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.auth.models import ApiKey, Installation, SetupToken, User, WebSession
from clicktrail.db import utcnow
from clicktrail.errors import violates_unique
from clicktrail.workspaces import tenancy
from clicktrail.workspaces.service import default_workspace

API_KEY_PREFIX = "ct_"
_hasher = PasswordHasher()


class EmailTaken(Exception):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# argon2 takes ~50 ms of CPU and 64 MiB per hash: off the event loop, a few at a time, so a
# burst of sign-ins can neither stall redirects nor exhaust memory.
_HASHING = asyncio.Semaphore(2)
_DUMMY_HASH = _hasher.hash("timing-equaliser-not-a-password")


async def hash_password_async(password: str) -> str:
    async with _HASHING:
        return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """Checks against a dummy hash when there is no account: the same time either way."""
    async with _HASHING:
        ok = await asyncio.to_thread(verify_password, password_hash or _DUMMY_HASH, password)
    return ok and password_hash is not None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def account_problem(email: str, password: str) -> str | None:
    if "@" not in email or len(email) > 320:
        return "enter a valid email address"
    if len(password) < 8:
        return "the password needs at least 8 characters"
    if len(password) > 1024:
        return "the password is longer than 1,024 characters"
    return None


async def create_user(session: AsyncSession, email: str, password: str, *, is_admin: bool = True) -> User:
    email = normalise_email(email)
    if problem := account_problem(email, password):
        raise ValueError(problem)
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise EmailTaken(email)
    user = User(email=email, password_hash=await hash_password_async(password), is_admin=is_admin)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # made by a concurrent request since the check above
        if violates_unique(exc, "users", "email"):
            raise EmailTaken(email) from None
        raise
    return user


async def claim_setup(session: AsyncSession) -> bool:
    """True for the one request that sets this installation up (first admin); False for every
    other, however many arrive at once: one conditional insert of the installation row."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(Installation).values(id=1, set_up_at=utcnow())
    claimed = await session.execute(statement.on_conflict_do_nothing(index_elements=["id"]).returning(Installation.id))
    return claimed.scalar() is not None


async def count_users(session: AsyncSession) -> int:
    return len((await session.scalars(select(User.id).limit(1))).all())


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(
    session: AsyncSession, name: str, user_id: int | None = None, scope: str = "write",
    workspace_id: int | None = None,
) -> tuple[ApiKey, str]:
    """Make a key in a workspace (default: the session's, else the first one); the plain key is
    returned once and never stored."""
    if scope not in ("read", "write"):
        raise ValueError("a key's scope is read or write")
    if workspace_id is None:
        workspace_id = tenancy.current(session) or (await default_workspace(session)).id
    plain = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=plain[:10], key_hash=token_digest(plain), user_id=user_id, scope=scope,
                 workspace_id=workspace_id)
    session.add(key)
    await session.flush()
    return key, plain


async def authenticate_api_key(session: AsyncSession, plain: str) -> ApiKey | None:
    if not plain.startswith(API_KEY_PREFIX) or len(plain) > 200:
        return None
    key = await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == token_digest(plain), ApiKey.revoked_at.is_(None))
    )
    if key is not None:
        await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=utcnow()))
    return key


async def create_first_admin(session: AsyncSession, email: str, password: str) -> User:
    """The installation's first account: an owner of the default workspace."""
    from clicktrail.workspaces.service import add_member

    user = await create_user(session, email, password, is_admin=True)
    await add_member(session, (await default_workspace(session)).id, user.id, "owner")
    return user


# --- web sessions and setup tokens ----------------------------------------------------------

SETUP_TOKEN_TTL = timedelta(hours=24)


async def start_session(session: AsyncSession, user: User) -> str:
    """A new signed-in browser; the token goes in its cookie and is never stored."""
    token = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=token_digest(token), user_id=user.id))
    await session.flush()
    return token


async def session_user(session: AsyncSession, token: str) -> User | None:
    if not token or len(token) > 100:
        return None
    row = await session.get(WebSession, token_digest(token))
    return await session.get(User, row.user_id) if row is not None else None


async def end_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.token_hash == token_digest(token)))


async def end_sessions(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(WebSession).where(WebSession.user_id == user_id))


async def change_password(session: AsyncSession, user: User, password: str) -> None:
    """A new password ends every session of the account at once."""
    if problem := account_problem(user.email, password):
        raise ValueError(problem)
    user.password_hash = await hash_password_async(password)
    await end_sessions(session, user.id)
    await session.flush()


async def remove_user(session: AsyncSession, user: User) -> None:
    """The account goes; its keys are revoked in every workspace (kept, for the record) and its
    sessions end."""
    await session.execute(
        update(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
        .execution_options(**{tenancy.ALL_WORKSPACES: True}))
    await end_sessions(session, user.id)
    await session.delete(user)
    await session.flush()


async def new_setup_token(session: AsyncSession) -> str:
    token = secrets.token_urlsafe(24)
    session.add(SetupToken(token_hash=token_digest(token), expires_at=utcnow() + SETUP_TOKEN_TTL))
    await session.flush()
    return token


async def setup_token_valid(session: AsyncSession, token: str | None) -> bool:
    if not token or len(token) > 100:
        return False
    row = await session.get(SetupToken, token_digest(token))
    return row is not None and row.expires_at > utcnow()


async def use_setup_token(session: AsyncSession, token: str) -> None:
    await session.execute(delete(SetupToken).where(SetupToken.token_hash == token_digest(token)))
