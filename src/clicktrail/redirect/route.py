"""`GET|HEAD /{code}`: the hot path, as raw ASGI in front of the FastAPI app.

A short-link tap goes through no router, no middleware, no dependency injection and no Request
object: this front door takes every single-segment GET/HEAD that the app does not serve itself
and passes everything else (and the lifespan) to the FastAPI app. It answers
from the link cache, and hands the hit to the recorder without waiting. Telling a person from a
preview (and parsing the user agent) happens in the recorder's batches, off this path; only a
link with a click limit classifies here, since the limit counts people only.

Branded short domains (redirect/hosts.py): a request whose `Host` is one is answered here in
full: `/` by the domain's root redirect, a code by its link on that domain (an unknown one by the
not-found redirect), a card's image by the app; nothing else (no API, web app or docs) is served
there. Any other host is the default domain. Without branded domains that costs one test of an
empty dict; with some, one dict lookup.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, unquote

from fastapi import FastAPI
from starlette.datastructures import State
from starlette.types import Receive, Scope, Send

from clicktrail.clicks.detect import classify
from clicktrail.clicks.ids import new_click_id
from clicktrail.clicks.recorder import Hit, Recorder
from clicktrail.clicks.visitors import COOKIE_MAX_AGE, COOKIE_NAME, VisitorHasher
from clicktrail.links.codes import RESERVED_SLUGS
from clicktrail.intake import REFERER_CHARS, USER_AGENT_CHARS, InputGuard, headers_too_large, send_json
from clicktrail.redirect import pages, preview
from clicktrail.redirect.cache import LinkCache
from clicktrail.redirect.destination import header_url
from clicktrail.redirect.hosts import Branded, HostMap

log = logging.getLogger("clicktrail.redirect")

_COOKIE_PREFIX = f"{COOKIE_NAME}=".encode()
# Served on a branded host besides its short links: probes of the installation's health.
_EVERY_HOST = frozenset({"/healthz", "/readyz"})


def _route_paths(routes: list, prefix: str = "") -> Iterator[str]:
    """Every path the app serves, including routes of included routers (which recent FastAPI
    keeps inside an include wrapper rather than copying onto the app)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from _route_paths(included.routes, prefix + getattr(context, "prefix", ""))
        elif (path := getattr(route, "path", None)) is not None:
            yield prefix + path


class ShortLinks:
    """The ASGI application that uvicorn serves: short links first, then the FastAPI app."""

    def __init__(self, app: FastAPI) -> None:
        settings = app.state.settings
        click_param: str = settings.click_id_param
        country_header: str | None = settings.country_header
        secure_cookie = settings.base_url.startswith("https://")
        self._base_url: str = settings.base_url
        self._scheme = settings.base_url.partition("://")[0] or "http"
        # Made with the app, filled by its lifespan: the same object for the app's whole life.
        self._hosts: HostMap = app.state.hosts
        self.app = app
        self._fastapi_app = app
        self._state: State = app.state
        self._click_param = click_param
        self._country_header = country_header.lower().encode() if country_header else None
        self._cookie_attrs = f"; Max-Age={COOKIE_MAX_AGE}; Path=/; HttpOnly; SameSite=Lax" + (
            "; Secure" if secure_cookie else ""
        )
        self._own_paths: frozenset[str] | None = None
        self._guarded_app = InputGuard(app)

    def _app_paths(self) -> frozenset[str]:
        # Single-segment paths the app serves itself (healthz, docs, ct.js, login, ...): they are
        # never short codes. Read from the routes once all are registered.
        if self._own_paths is None:
            self._own_paths = frozenset(
                path for path in _route_paths(self._fastapi_app.routes)
                if path.count("/") == 1 and "{" not in path
            )
        return self._own_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if headers_too_large(scope["headers"]):
                await send_json(send, 431, "the request headers are larger than 16 KiB")
                return
            if self._hosts.by_host and (branded := self._hosts.of_headers(scope["headers"])) is not None:
                await self._branded(scope, receive, send, branded)
                return
            if scope["method"] in ("GET", "HEAD"):
                path: str = scope["path"]
                if len(path) > 1 and path.count("/") == 1 and path not in self._app_paths():
                    await self._redirect(scope, receive, send, unquote(path[1:]))
                    return
        await self._guarded_app(scope, receive, send)

    async def _branded(self, scope: Scope, receive: Receive, send: Send, branded: Branded) -> None:
        """A request on a branded host: its short links and their card images, nothing else."""
        path: str = scope["path"]
        if scope["method"] in ("GET", "HEAD"):
            if path == "/":
                if branded.root_redirect:
                    await _found(send, branded.root_redirect)
                else:
                    await pages.not_found()(scope, receive, send)
                return
            if path in _EVERY_HOST:
                await self._guarded_app(scope, receive, send)
                return
            # The app's own paths and reserved words are no codes: 404, not the not-found redirect.
            if path.count("/") == 1 and path not in self._app_paths() and path[1:].lower() not in RESERVED_SLUGS:
                await self._redirect(scope, receive, send, unquote(path[1:]), branded)
                return
            if path.count("/") == 2 and path.endswith("/preview.jpg"):
                await self._guarded_app(scope, receive, send)  # the card router finds it on this host
                return
        if path == "/api" or path.startswith("/api/"):
            await send_json(send, 404, "not found")
        else:
            await pages.not_found()(scope, receive, send)

    async def _redirect(self, scope: Scope, receive: Receive, send: Send, code: str,
                        branded: Branded | None = None) -> None:
        state = self._state
        cache: LinkCache = state.link_cache
        try:
            link = await cache.get(branded.host if branded is not None else "", code)
        except Exception:
            log.exception("link lookup failed for %r", code)
            await pages.unavailable()(scope, receive, send)
            return
        if link is None:
            if branded is not None and branded.not_found_redirect:
                await _found(send, branded.not_found_redirect)
            else:
                await pages.not_found()(scope, receive, send)
            return
        now = time.time()
        if link.disabled or link.exhausted or (link.expires_ts is not None and now >= link.expires_ts):
            await pages.gone()(scope, receive, send)
            return

        user_agent = referrer = cookie = country = None
        for name, value in scope["headers"]:
            # Cut before anything caches, classifies or buffers them (API.md: 512 and 2,048).
            if name == b"user-agent":
                user_agent = value[:USER_AGENT_CHARS].decode("latin-1")
            elif name == b"referer":
                referrer = value[:REFERER_CHARS].decode("latin-1")
            elif name == b"cookie":
                cookie = value
            elif name == self._country_header:
                country = value.decode("ascii", "replace").upper() if len(value) == 2 else None
        user_agent = user_agent or ""
        is_head = scope["method"] == "HEAD"
        kind = app = None
        if link.max_clicks is not None:  # the limit counts people: classify now, not later
            kind, app = classify(user_agent)
            if is_head:
                kind = "bot"
            if kind == "click":
                try:
                    admitted = await cache.admit(link)
                except Exception:
                    log.exception("click limit check failed for link %s", link.id)
                    await pages.unavailable()(scope, receive, send)
                    return
                if not admitted:
                    await pages.gone()(scope, receive, send)
                    return
        if link.card is not None and kind is None:  # only links with a card: fetchers get it
            kind, app = preview.kind_for_card(user_agent, is_head)

        query = scope["query_string"]
        passed, is_qr = None, False
        if query:
            passed = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            is_qr = ("qr", "1") in passed
            passed = [(k, v) for k, v in passed if k != "qr"]

        visitor_cookie = None
        if cookie and (start := cookie.find(_COOKIE_PREFIX)) != -1:
            visitor_cookie = cookie[start + len(_COOKIE_PREFIX):start + len(_COOKIE_PREFIX) + 32].decode("latin-1")
        client = scope.get("client")
        client_ip = client[0] if client else ""
        visitor, new_visitor = state.visitors.visitor_id(visitor_cookie, client_ip, user_agent)

        click_id = new_click_id()
        recorder: Recorder = state.recorder
        recorder.record(Hit(
            click_id, link.id, link.campaign_id, link.channel, user_agent, referrer, visitor,
            country if country and country.isascii() and country.isalpha() else None,
            is_qr, is_head, now, kind, app, client_ip, query, link.workspace_id,
        ))
        if link.card is not None and kind != "click":
            base = f"{self._scheme}://{branded.host}" if branded is not None else self._base_url
            await preview.send_card(send, link.card, f"{base}/{code}", is_head)
            return
        headers = [
            (b"location", link.target.location(self._click_param, click_id, passed).encode("latin-1")),
            (b"cache-control", b"private, no-store"),
            (b"x-robots-tag", b"noindex"),
            (b"content-length", b"0"),
        ]
        if new_visitor:
            headers.append((b"set-cookie", f"{COOKIE_NAME}={visitor}{self._cookie_attrs}".encode()))
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


async def _found(send: Send, location: str) -> None:
    """302 to a branded domain's own page (its root or not-found redirect), recorded nowhere."""
    headers = [(b"location", header_url(location).encode("latin-1")), (b"cache-control", b"private, no-store"),
               (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 302, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
