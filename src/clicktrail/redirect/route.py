"""`GET|HEAD /{code}`: the hot path. A plain Starlette endpoint, answered from the link cache;
the hit is handed to the recorder and never waited on."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.datastructures import State
from starlette.routing import Route

from clicktrail.clicks.detect import classify
from clicktrail.clicks.ids import new_click_id
from clicktrail.clicks.recorder import Hit, Recorder
from clicktrail.clicks.visitors import COOKIE_MAX_AGE, COOKIE_NAME, VisitorHasher
from clicktrail.redirect import pages
from clicktrail.redirect.cache import LinkCache

log = logging.getLogger("clicktrail.redirect")


def redirect_route(
    state: State,
    *,
    click_param: str,
    country_header: str | None,
    secure_cookie: bool,
) -> Route:
    country_header = country_header.lower() if country_header else None

    async def redirect(request: Request) -> Response:
        # Made by the lifespan, which owns them; looked up per request (three dict reads).
        cache: LinkCache = state.link_cache
        recorder: Recorder = state.recorder
        visitors: VisitorHasher = state.visitors
        code = request.path_params["code"]
        try:
            link = await cache.get(code)
        except Exception:
            log.exception("link lookup failed for %r", code)
            return pages.unavailable()
        if link is None:
            return pages.not_found()
        now = time.time()
        if link.disabled or (link.expires_ts is not None and now >= link.expires_ts) or cache.used_up(link):
            return pages.gone()

        headers = request.headers
        user_agent = headers.get("user-agent", "")
        kind, app = classify(user_agent)
        if request.method == "HEAD":
            kind = "bot"  # a HEAD is a probe (link checkers, unfurl pre-flights), never a person

        passed = parse_qsl(request.url.query, keep_blank_values=True) if request.url.query else None
        is_qr = False
        if passed:
            is_qr = any(k == "qr" and v == "1" for k, v in passed)
            passed = [(k, v) for k, v in passed if k != "qr"]

        visitor, new_visitor = None, False
        if kind == "click":
            ip = request.client.host if request.client else ""
            visitor, new_visitor = visitors.visitor_id(request.cookies.get(COOKIE_NAME), ip, user_agent)
            cache.pending_clicks[link.id] += 1

        country = headers.get(country_header) if country_header else None
        click_id = new_click_id()
        recorder.record(
            Hit(click_id, link.id, link.campaign_id, kind, link.channel, app, user_agent,
                headers.get("referer"), visitor,
                country.upper() if country and len(country) == 2 and country.isalpha() else None,
                is_qr, now)
        )
        response = Response(
            status_code=302,
            headers={
                "location": link.target.location(click_param, click_id, passed),
                "cache-control": "private, no-store",
                "x-robots-tag": "noindex",
            },
        )
        if new_visitor:
            response.set_cookie(COOKIE_NAME, visitor, max_age=COOKIE_MAX_AGE, httponly=True,
                                samesite="lax", secure=secure_cookie)
        return response

    return Route("/{code}", redirect, methods=["GET", "HEAD"], include_in_schema=False)
