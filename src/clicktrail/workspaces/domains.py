"""Branded short domains (API.md "Branded short domains"): a workspace's own hosts for its links.

A host belongs to one workspace in the whole installation (the unique key on domains.host), so
the redirect finds a link by (Host, code) without knowing the workspace first. Changes reach
the redirect's in-memory map of hosts (redirect/hosts.py) on commit, and other workers by NOTIFY.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.db import SessionDep
from clicktrail.errors import Conflict, Invalid, NotFound, violates_unique
from clicktrail.links.destinations import destination_problem, host_problem
from clicktrail.links.models import Campaign, Link
from clicktrail.openapi import error_responses
from clicktrail.pagination import Page, PageDep, encode_cursor, int_cursor
from clicktrail.params import IdPath
from clicktrail.redirect.hosts import Branded, domains_changed
from clicktrail.workspaces import tenancy
from clicktrail.workspaces.models import Domain
from clicktrail.workspaces.subject import writes_need

_ALL = {tenancy.ALL_WORKSPACES: True}

RedirectUrl = Annotated[str | None, Field(
    default=None, min_length=1, max_length=2048, description="An absolute http(s) URL; null: none.")]


class DomainCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=253, description="A host name, such as go.example.com: no scheme, port or path.")
    root_redirect: RedirectUrl = Field(default=None, description="Where `/` on this host sends people (else 404).")
    not_found_redirect: RedirectUrl = Field(default=None, description="Where an unknown code sends people (else the 404 page).")


class DomainUpdate(BaseModel):
    """Fields present in the body are changed; `null` clears one. The host cannot change."""

    model_config = ConfigDict(extra="forbid")

    root_redirect: RedirectUrl = None
    not_found_redirect: RedirectUrl = None


class DomainOut(BaseModel):
    id: int
    host: str
    root_redirect: str | None
    not_found_redirect: str | None
    created_at: datetime


def clean_host(value: str) -> str | None:
    """A host as stored and compared: trimmed, lower case, ASCII (an IDN as punycode), no
    trailing dot; None when it cannot be written so."""
    value = value.strip().rstrip(".")
    try:
        ascii_host = value.encode("idna").decode("ascii") if not value.isascii() else value
    except UnicodeError:
        return None
    return ascii_host.lower() or None


def new_host_problem(given: str, host: str | None, base_url: str) -> str | None:
    """Why `given` cannot be a branded domain, or None."""
    if any(c in given for c in "/:@?#\\") or any(c.isspace() for c in given.strip()):
        return "a host name only, such as go.example.com: no scheme, port, path or spaces"
    if host is None or host_problem(host) or "." not in host:
        return "not a host name (such as go.example.com)"
    try:
        ipaddress.ip_address(host)
        return "a domain is a host name, not an IP address"
    except ValueError:
        pass
    if host.rsplit(".", 1)[1].isdigit():
        return "not a host name (such as go.example.com)"
    if host == (urlsplit(base_url).hostname or "").lower():
        return "that is this installation's own domain, which every workspace has already"
    return None


async def workspace_has_domain(session: AsyncSession, host: str) -> bool:
    """Whether `host` is one of the session's workspace's domains."""
    return bool(await session.scalar(select(exists().where(Domain.host == host))))


def _check_redirects(values: dict[str, str | None], host: str) -> None:
    for field, url in values.items():
        if url is None:
            continue
        if problem := destination_problem(url, []):
            raise Invalid(field, problem)
        if field == "not_found_redirect" and (urlsplit(url).hostname or "").lower() == host:
            raise Invalid(field, "an unknown code on this host would send people here again and again")


def _out(domain: Domain) -> DomainOut:
    return DomainOut(id=domain.id, host=domain.host, root_redirect=domain.root_redirect,
                     not_found_redirect=domain.not_found_redirect, created_at=domain.created_at)


async def _get(session: AsyncSession, domain_id: int) -> Domain:
    domain = await session.get(Domain, domain_id)
    if domain is None:  # another workspace's too: as if it did not exist
        raise NotFound("domain not found")
    return domain


router = APIRouter(prefix="/api/domains", tags=["domains"], dependencies=[writes_need("admin")])


@router.post("", status_code=201, responses=error_responses(409))
async def create_domain(data: DomainCreate, session: SessionDep, request: Request) -> DomainOut:
    """Add a host for the workspace's short links: point its DNS here (CNAME or A) through a proxy
    that passes `Host` on, then give links and campaigns `"domain": "<host>"`."""
    host = clean_host(data.host)
    if problem := new_host_problem(data.host, host, request.app.state.settings.base_url):
        raise Invalid("host", problem)
    assert host is not None
    _check_redirects({"root_redirect": data.root_redirect, "not_found_redirect": data.not_found_redirect}, host)
    # Any workspace's: a host is one workspace's in the whole installation.
    if await session.scalar(select(exists().where(Domain.host == host)).execution_options(**_ALL)):
        raise Conflict(f"the host {host} is already a domain here (this workspace's or another's)")
    domain = Domain(host=host, root_redirect=data.root_redirect, not_found_redirect=data.not_found_redirect)
    session.add(domain)
    try:
        await session.flush()
    except IntegrityError as exc:  # another request took it a moment ago
        if violates_unique(exc, "domains", "host"):
            raise Conflict(f"the host {host} is already a domain here (this workspace's or another's)") from None
        raise
    await domains_changed(session, request.app.state.hosts, put=Branded.of(domain))
    return _out(domain)


@router.get("")
async def list_domains(session: SessionDep, page: PageDep) -> Page[DomainOut]:
    query = select(Domain).order_by(Domain.id).limit(page.limit)
    if (after := int_cursor(page)) is not None:
        query = query.where(Domain.id > after)
    domains = list((await session.scalars(query)).all())
    more = len(domains) == page.limit
    return Page(items=[_out(d) for d in domains], next_cursor=encode_cursor(domains[-1].id) if more else None)


@router.get("/{domain_id}")
async def get_domain(domain_id: IdPath, session: SessionDep) -> DomainOut:
    return _out(await _get(session, domain_id))


@router.patch("/{domain_id}")
async def update_domain(domain_id: IdPath, data: DomainUpdate, session: SessionDep, request: Request) -> DomainOut:
    domain = await _get(session, domain_id)
    changes = data.model_dump(exclude_unset=True)
    _check_redirects(changes, domain.host)
    for field, value in changes.items():
        setattr(domain, field, value)
    await session.flush()
    await domains_changed(session, request.app.state.hosts, put=Branded.of(domain))
    return _out(domain)


@router.delete("/{domain_id}", status_code=204, responses=error_responses(409))
async def delete_domain(domain_id: IdPath, session: SessionDep, request: Request) -> Response:
    """Remove a domain no link or campaign uses (disabled links count: their codes are printed)."""
    domain = await _get(session, domain_id)
    used = select(exists().where(Link.domain == domain.host)).execution_options(**_ALL)
    if await session.scalar(used):
        raise Conflict(f"links use {domain.host}: it stays while they do")
    if await session.scalar(select(exists().where(Campaign.domain == domain.host))):
        raise Conflict(f"a campaign gives its links {domain.host}: it stays while it does")
    await session.delete(domain)
    await session.flush()
    await domains_changed(session, request.app.state.hosts, removed=domain.host)
    return Response(status_code=204)
