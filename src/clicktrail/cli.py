"""`clicktrail serve | migrate | user create | user password | workspace create | apikey create |
customer erase | rates import`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail import migrate
from clicktrail.auth import service as auth
from clicktrail.auth.models import User
from clicktrail.reports import rates
from clicktrail.db import create_engine, create_sessionmaker
from clicktrail.workspaces.service import add_member, create_workspace, default_workspace, workspace_by_slug
from clicktrail.settings import Settings, served_url

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


def _ensure_first_admin(settings: Settings, base_url: str) -> None:
    """On a new installation: on a terminal, make the admin account and show its password once;
    anywhere else (Docker, systemd: output ends up in logs) make no account and log a one-time
    setup link instead, so no password is ever written to a log and no stranger who reaches
    /setup first can become the admin."""
    on_terminal = sys.stdin.isatty() and sys.stdout.isatty()

    async def work(session: AsyncSession) -> tuple[str, str] | None:
        if await auth.count_users(session):
            return None
        if not on_terminal:
            return "link", await auth.new_setup_token(session)
        if not await auth.claim_setup(session):
            return None
        password = secrets.token_urlsafe(12)
        user = await auth.create_first_admin(session, "admin@localhost", password)
        return user.email, password

    made = _in_session(settings, work)
    if made is None:
        return
    if made[0] == "link":
        ttl = int(auth.SETUP_TOKEN_TTL.total_seconds() // 3600)
        print(f"\nNo account exists yet. Make the admin account within {ttl} hours at this one-time link:\n"
              f"  {base_url}/setup?token={made[1]}\n"
              "(or run: clicktrail user create --email you@example.com --password '...')\n", flush=True)
        return
    email, password = made
    print(
        "\nNo account existed, so one was made. Sign in with it and keep the password; it is not shown again:\n"
        f"  email:    {email}\n  password: {password}\n"
        "Change it in Settings, or with: clicktrail user password --email admin@localhost\n",
        flush=True,
    )


def proxy_options(settings: Settings) -> dict[str, object]:
    """uvicorn's options for reverse proxies (its ProxyHeadersMiddleware, in every worker): the
    client address and scheme come from X-Forwarded-For/-Proto only when the peer is one of
    CLICKTRAIL_FORWARDED_ALLOW_IPS (IPs or CIDRs)."""
    return {"forwarded_allow_ips": settings.forwarded_allow_ips}  # proxy_headers: on (uvicorn_options)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from clicktrail.serving import uvicorn_options

    # The workers read their settings from the environment: tell them where they are served.
    os.environ["CLICKTRAIL_SERVED_URL"] = served_url(args.host, args.port)
    settings = Settings()
    for warning in _serve_warnings(settings, args.host):
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    print(f"Short links, QR codes and webhook URLs use {settings.base_url}", flush=True)
    migrate.upgrade(settings.resolved_database_url)
    _ensure_first_admin(settings, settings.base_url)
    settings.resolved_secret_key  # made now, once, before several workers race for it
    uvicorn.run(
        "clicktrail.app:app_factory",
        host=args.host,
        port=args.port,
        workers=args.workers,
        **uvicorn_options(settings.log_level),
        **proxy_options(settings),
    )
    return 0


def _serve_warnings(settings: Settings, host: str) -> list[str]:
    warnings = [settings.base_url_warning] if settings.base_url_warning else []
    if host in ("0.0.0.0", "::") and "base_url" not in settings.model_fields_set:
        warnings.append(
            f"serving on every address ({host}) without CLICKTRAIL_BASE_URL: links use {settings.base_url}, "
            "which other devices cannot reach. Set CLICKTRAIL_BASE_URL to the address people open."
        )
    return warnings


def cmd_migrate(args: argparse.Namespace) -> int:
    migrate.upgrade(Settings().resolved_database_url)
    print("database is at the latest schema")
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    settings = Settings()
    migrate.upgrade(settings.resolved_database_url)
    async def work(session: AsyncSession):
        user = await auth.create_user(session, args.email, args.password, is_admin=not args.no_admin)
        # A member of the first workspace: its owner, or an editor with --no-admin.
        await add_member(session, (await default_workspace(session)).id, user.id,
                         "editor" if args.no_admin else "owner")
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


def cmd_user_password(args: argparse.Namespace) -> int:
    settings = Settings()
    migrate.upgrade(settings.resolved_database_url)
    password = args.password
    if password is None:
        password = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != password:
            print("error: the two passwords differ", file=sys.stderr)
            return 1

    async def work(session: AsyncSession) -> str | None:
        user = await session.scalar(select(User).where(User.email == auth.normalise_email(args.email)))
        if user is None:
            return None
        await auth.change_password(session, user, password)
        return user.email

    try:
        email = _in_session(settings, work)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if email is None:
        print(f"error: no account with email {args.email}", file=sys.stderr)
        return 1
    print(f"changed the password of {email}; every session of the account is signed out")
    return 0


class _Refused(Exception):
    """A CLI command cannot do what was asked: its message goes to stderr, exit status 1."""


def _refusing(run: Callable[[], int]) -> int:
    try:
        return run()
    except _Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def cmd_workspace_create(args: argparse.Namespace) -> int:
    settings = Settings()
    migrate.upgrade(settings.resolved_database_url)

    async def work(session: AsyncSession) -> str:
        owner = None
        if args.owner is not None:
            owner = await session.scalar(select(User).where(User.email == auth.normalise_email(args.owner)))
            if owner is None:
                raise _Refused(f"no account with email {args.owner} (make it with `clicktrail user create`)")
        try:
            workspace = await create_workspace(session, args.name, owner.id if owner is not None else None)
        except ValueError as exc:
            raise _Refused(str(exc)) from None
        return workspace.slug

    def run() -> int:
        slug = _in_session(settings, work)
        owned = f", owned by {auth.normalise_email(args.owner)}" if args.owner else ""
        print(f"created workspace {args.name.strip()!r}{owned}; its slug (for apikey create --workspace):",
              file=sys.stderr)
        print(slug)
        return 0

    return _refusing(run)


def cmd_apikey_create(args: argparse.Namespace) -> int:
    settings = Settings()
    migrate.upgrade(settings.resolved_database_url)

    async def work(session: AsyncSession) -> tuple[str, str]:
        if args.workspace is None:
            workspace = await default_workspace(session)
        elif (workspace := await workspace_by_slug(session, args.workspace)) is None:
            raise _Refused(f"no workspace with slug {args.workspace!r}")
        _key, plain = await auth.create_api_key(session, args.name, scope=args.scope, workspace_id=workspace.id)
        return workspace.slug, plain

    def run() -> int:
        slug, plain = _in_session(settings, work)
        print(f"API key {args.name!r} ({args.scope}) created in workspace {slug!r}. It is shown only this once:",
              file=sys.stderr)
        print(plain)
        return 0

    return _refusing(run)


def cmd_customer_erase(args: argparse.Namespace) -> int:
    from clicktrail.conversions import erasure
    from clicktrail.conversions.service import ConversionContext
    from clicktrail.links.service import LinkContext

    # `--ref -` reads it from standard input, so that it stays out of shell history and `ps`.
    ref = sys.stdin.readline().strip() if args.ref == "-" else args.ref.strip()
    if not ref:
        print("error: --ref is empty", file=sys.stderr)
        return 2
    settings = Settings()
    migrate.upgrade(settings.resolved_database_url)
    ctx = ConversionContext.from_settings(settings, LinkContext.from_settings(settings).codec)
    erased = _in_session(settings, lambda s: erasure.erase_customer(s, ctx.customer_hash(ref)))
    print(f"erased: {erased.identify_links_removed} identify links removed, {erased.orders_detached} orders detached")
    return 0


def cmd_rates_import(args: argparse.Namespace) -> int:
    settings = Settings()
    try:
        with open(args.file, "rb") as f:
            found = rates.parse_ecb_csv(f.read())
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    except rates.RatesFileError as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 1
    migrate.upgrade(settings.resolved_database_url)
    stored = _in_session(settings, lambda s: rates.store_rates(s, found))
    days = sorted({r.day for r in found})
    span = f", {days[0].isoformat()} to {days[-1].isoformat()}" if days else ""
    print(f"imported {stored} rates of {len(rates.currencies_of(found))} currencies{span}")
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
    password = user.add_parser("password", help="set an account's password (asks for it without --password)")
    password.add_argument("--email", required=True)
    password.add_argument("--password")
    password.set_defaults(func=cmd_user_password)

    workspace = sub.add_parser("workspace", help="manage workspaces").add_subparsers(dest="action", required=True)
    ws_create = workspace.add_parser("create", help="make a workspace and print its slug")
    ws_create.add_argument("--name", required=True)
    ws_create.add_argument("--owner", metavar="EMAIL", help="an existing account to make its owner")
    ws_create.set_defaults(func=cmd_workspace_create)

    apikey = sub.add_parser("apikey", help="manage API keys").add_subparsers(dest="action", required=True)
    key_create = apikey.add_parser("create", help="make an API key and print it")
    key_create.add_argument("--name", required=True)
    key_create.add_argument("--scope", choices=["read", "write"], default="write",
                            help="read: GET only; write (default): everything")
    key_create.add_argument("--workspace", metavar="SLUG", help="the workspace it acts in (default: the first)")
    key_create.set_defaults(func=cmd_apikey_create)

    customer = sub.add_parser("customer", help="customers' data").add_subparsers(dest="action", required=True)
    erase = customer.add_parser("erase", help="remove what links a customer to clicks; detach their orders")
    erase.add_argument("--ref", required=True, help="their email or shop customer id ('-': read it from stdin)")
    erase.set_defaults(func=cmd_customer_erase)
    rate = sub.add_parser("rates", help="exchange rates").add_subparsers(dest="action", required=True)
    rate_import = rate.add_parser("import", help="load the ECB's reference-rate CSV (eurofxref-hist.csv, or its zip)")
    rate_import.add_argument("file")
    rate_import.set_defaults(func=cmd_rates_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
