"""Accounts and API keys: argon2 password hashes, API keys stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.auth.models import ApiKey, User
from clicktrail.db import utcnow

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


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_user(session: AsyncSession, email: str, password: str, *, is_admin: bool = True) -> User:
    email = normalise_email(email)
    if "@" not in email or len(email) > 320:
        raise ValueError("enter a valid email address")
    if len(password) < 8:
        raise ValueError("the password needs at least 8 characters")
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise EmailTaken(email)
    user = User(email=email, password_hash=hash_password(password), is_admin=is_admin)
    session.add(user)
    await session.flush()
    return user


async def count_users(session: AsyncSession) -> int:
    return len((await session.scalars(select(User.id).limit(1))).all())


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(session: AsyncSession, name: str, user_id: int | None = None) -> tuple[ApiKey, str]:
    """Make a key; the plain key is returned once and never stored."""
    plain = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=plain[:10], key_hash=_digest(plain), user_id=user_id)
    session.add(key)
    await session.flush()
    return key, plain


async def authenticate_api_key(session: AsyncSession, plain: str) -> ApiKey | None:
    if not plain.startswith(API_KEY_PREFIX) or len(plain) > 200:
        return None
    key = await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == _digest(plain), ApiKey.revoked_at.is_(None))
    )
    if key is not None:
        await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=utcnow()))
    return key
