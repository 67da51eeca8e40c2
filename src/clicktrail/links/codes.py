"""Short codes: hashids over (link id, per-link nonce) with the installation's secret salt.

Decoding gives the primary key, so the redirect needs no extra index; the nonce is checked
against the row, so a made-up or altered code finds nothing and codes cannot be enumerated.
"""

from __future__ import annotations

import re
import secrets

from hashids import Hashids

NONCE_BITS = 24  # one guess in 16.7 million per link id: codes stay short (about 8 characters)
SLUG_RE = re.compile(r"[A-Za-z0-9_-]{3,64}")  # always fullmatch: "$" would let a trailing newline in
# Codes brought over from another shortener are kept even when shorter (YOURLS counts up from "1").
IMPORTED_SLUG_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # fullmatch too
MAX_ID = 2**31 - 1  # the links.id column (INTEGER on PostgreSQL)
RESERVED_SLUGS = frozenset(
    {
        "api", "app", "static", "webhooks", "webhook", "login", "logout", "setup", "healthz",
        "readyz", "metrics", "docs", "redoc", "openapi.json", "admin", "settings", "campaigns",
        "links", "clicks", "orders", "reports", "ct.js", "favicon.ico", "robots.txt", "assets",
        "dashboard", "account", "signin", "signout", "users", "sources", "qr",
        "members", "invite", "workspace", "workspaces", "keys", "domains",
    }
)


class CodeCodec:
    def __init__(self, secret: str) -> None:
        self._hashids = Hashids(salt=secret, min_length=6)

    def encode(self, link_id: int, nonce: int) -> str:
        return self._hashids.encode(link_id, nonce)

    def decode(self, code: str) -> tuple[int, int] | None:
        if len(code) > 32 or not code.isascii() or not code.isalnum():
            return None
        numbers = self._hashids.decode(code)
        if len(numbers) != 2 or not 0 < numbers[0] <= MAX_ID or self._hashids.encode(*numbers) != code:
            return None
        return numbers[0], numbers[1]


def new_nonce() -> int:
    return secrets.randbits(NONCE_BITS)


def slug_problem(slug: str, imported: bool = False) -> str | None:
    """Why a vanity slug (or, `imported`, another shortener's code) cannot be used, or None."""
    if imported and not IMPORTED_SLUG_RE.fullmatch(slug):
        return f"the code '{slug[:80]}' is not 1 to 64 letters, digits, '-' or '_'"
    if not imported and not SLUG_RE.fullmatch(slug):
        return "a slug is 3 to 64 letters, digits, '-' or '_'"
    if slug.lower() in RESERVED_SLUGS:
        return f"'{slug}' is reserved"
    return None
