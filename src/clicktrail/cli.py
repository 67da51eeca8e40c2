"""`clicktrail serve | migrate | user create | apikey create`."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail import migrate
from clicktrail.auth import service as auth
from clicktrail.db import create_engine, create_sessionmaker
from clicktrail.settings import Settings

T = TypeVar("T")


def _in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings.resolved_database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _ensure_first_admin(settings: Settings) -> None:
    """On a new installation, make the admin account and show its password once."""

    async def work(session: AsyncSession) -> tuple[str, str] | None:
        if await auth.count_users(session) or not await auth.claim_setup(session):
            return None
        password = secrets.token_urlsafe(12)
        user = await auth.create_user(session, "admin@localhost", password)
        return user.email, password

    made = _in_session(settings, work)
    if made:
        email, password = made
        print(
            "\nNo account existed, so one was made. Sign in with it and keep the password; it is not shown again:\n"
            f"  email:    {email}\n  password: {password}\n"
            "Add your own with: clicktrail user create --email you@example.com --password '...'\n",
            flush=True,
        )


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from clicktrail.serving import uvicorn_options

    settings = Settings()
    migrate.upgrade(settings.resolved_database_url)
    _ensure_first_admin(settings)
    settings.resolved_secret_key  # made now, once, before several workers race for it
    uvicorn.run(
        "clicktrail.app:app_factory",
        host=args.host,
        port=args.port,
        workers=args.workers,
        **uvicorn_options(settings.log_level),
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    migrate.upgrade(Settings().resolved_database_url)
    print("database is at the latest schema")
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    settings = Settings()
    migrate.upgrade(settings.resolved_database_url)
    async def work(session: AsyncSession):
        user = await auth.create_user(session, args.email, args.password, is_admin=not args.no_admin)
        await auth.claim_setup(session)  # an installation with an account is set up: /setup closes
        return user

    try:
        user = _in_session(settings, work)
    except auth.EmailTaken:
        print(f"error: a user with email {args.email} exists already", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"created user {user.email}{' (admin)' if user.is_admin else ''}")
    return 0


def cmd_apikey_create(args: argparse.Namespace) -> int:
    settings = Settings()
    migrate.upgrade(settings.resolved_database_url)
    _key, plain = _in_session(settings, lambda s: auth.create_api_key(s, args.name))
    print(f"API key {args.name!r} created. It is shown only this once:", file=sys.stderr)
    print(plain)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clicktrail", description="Short links and sales attribution.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="apply migrations and serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    user = sub.add_parser("user", help="manage accounts").add_subparsers(dest="action", required=True)
    create = user.add_parser("create", help="make an account (admin unless --no-admin)")
    create.add_argument("--email", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--no-admin", action="store_true")
    create.set_defaults(func=cmd_user_create)

    apikey = sub.add_parser("apikey", help="manage API keys").add_subparsers(dest="action", required=True)
    key_create = apikey.add_parser("create", help="make an API key and print it")
    key_create.add_argument("--name", required=True)
    key_create.set_defaults(func=cmd_apikey_create)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
