"""What the service accepts from the network before any route sees it.

Anyone on the internet can send anything, so the limits are enforced once, at the door, in raw
ASGI: request headers over 16 KiB in total are refused with 431, and the JSON and form bodies of
the API, the web app and the webhooks are read (at most 1 MiB) and checked once for what no
database column can take: bytes that are not UTF-8, NUL characters, lone UTF-16 surrogates, and
numbers that overflow to infinity. Such input answers 422 with a JSON `{"detail"}` and never
reaches a route, so no route has to remember it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from decimal import Decimal
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024
USER_AGENT_CHARS = 512
REFERER_CHARS = 2048


def headers_too_large(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    total = 0
    for name, value in headers:
        total += len(name) + len(value) + 4  # ": " and CRLF, as on the wire
        if total > MAX_HEADER_BYTES:
            return True
    return False


async def send_json(send: Send, status: int, detail: object, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    *(headers or [])],
    })
    await send({"type": "http.response.body", "body": body})


class BadText(ValueError):
    pass


def _check_text(value: str) -> None:
    if "\x00" in value:
        raise BadText("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadText("text must not contain lone surrogates (invalid Unicode)") from None


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise BadText(f"the number {text[:40]} is out of range")
    return number


def _no_constants(name: str) -> None:
    raise BadText(f"{name} is not a number JSON allows")


def _walk(value: object) -> None:
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _walk(item)
    elif isinstance(value, list):
        for item in value:
            _walk(item)
    elif isinstance(value, Decimal) and not value.is_finite():
        raise BadText("numbers must be finite")


def json_problem(body: bytes) -> str | None:
    """Why this JSON body cannot be taken, or None (malformed JSON is left to the route)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not valid UTF-8"
    try:
        _walk(json.loads(text, parse_float=_finite_float, parse_constant=_no_constants))
    except BadText as exc:
        return str(exc)
    except (ValueError, RecursionError):
        return None  # not JSON at all: the route answers that in its own words
    return None


def form_problem(body: bytes) -> str | None:
    try:
        text = body.decode("utf-8")
        for key, value in parse_qsl(text, keep_blank_values=True, errors="strict"):
            _check_text(key)
            _check_text(value)
    except UnicodeError:
        return "the form is not valid UTF-8"
    except BadText as exc:
        return str(exc)
    return None


def query_problem(query: bytes) -> str | None:
    if b"%00" not in query and b"\x00" not in query:
        try:
            unquote_to_bytes(query).decode("utf-8")
        except UnicodeDecodeError:
            return "the query string is not valid UTF-8"
        return None
    return "the query string must not contain NUL characters"


class InputGuard:
    """ASGI middleware in front of the FastAPI app (the redirect has its own, cheaper checks)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if problem := query_problem(scope.get("query_string", b"")):
            await send_json(send, 422, problem)
            return
        content_type = b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.split(b";", 1)[0].strip().lower()
        if content_type == b"application/json" or content_type.endswith(b"+json"):
            check = json_problem
        elif content_type == b"application/x-www-form-urlencoded":
            check = form_problem
        else:
            await self.app(scope, receive, send)
            return
        body, complete = await _read(receive)
        if body is None:
            await send_json(send, 413, f"the body is larger than {MAX_BODY_BYTES // 1024} KiB")
            return
        if complete and (problem := check(body)):
            await send_json(send, 422, problem)
            return
        await self.app(scope, _replay(body, complete, receive), send)


async def _read(receive: Receive) -> tuple[bytes | None, bool]:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None, False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if complete:
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}
        return await receive()

    return replay
