"""Webhook signature schemes, each checked in constant time over the raw body bytes.

- generic (ours) and Stripe: header `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`;
  several `v1` entries may be present (Stripe sends one per active secret while a secret is
  rolled): any match is enough; other schemes (`v0`) are ignored. The timestamp must be within
  `TOLERANCE` seconds of now, either way.
- Shopify (`X-Shopify-Hmac-Sha256`) and WooCommerce (`X-WC-Webhook-Signature`): base64 of the
  binary HMAC-SHA256(secret, body). No timestamp in these schemes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

TOLERANCE = 300  # seconds: 5 minutes, as stripe-python's DEFAULT_TOLERANCE

# The header each platform signs with (lower case, as ASGI gives them).
SIGNATURE_HEADERS = {
    "generic": "clicktrail-signature",
    "stripe": "stripe-signature",
    "shopify": "x-shopify-hmac-sha256",
    "woocommerce": "x-wc-webhook-signature",
}


class BadSignature(Exception):
    """Missing, malformed, stale or wrong: the request is answered 401 and nothing is stored."""


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def sign_timestamped(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The `t=..,v1=..` header for a body (ours and Stripe's scheme)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_hmac(secret, str(t).encode() + b'.' + body).hex()}"


def sign_base64(secret: str, body: bytes) -> str:
    """The Shopify / WooCommerce header value for a body."""
    return base64.b64encode(_hmac(secret, body)).decode()


def verify_timestamped(secret: str, body: bytes, header: str | None, now: float | None = None) -> None:
    if not header:
        raise BadSignature("signature header missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for element in header.split(","):
        prefix, sep, value = element.strip().partition("=")
        if not sep:
            continue
        if prefix == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise BadSignature("signature timestamp is not a number") from None
        elif prefix == "v1":
            candidates.append(value.strip())
    if timestamp is None or not candidates:
        raise BadSignature("signature header needs t= and v1=")
    expected = _hmac(secret, str(timestamp).encode() + b"." + body).hex()
    # Compare against every candidate (no early exit), each in constant time.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode(), candidate.lower().encode())
    if not matched:
        raise BadSignature("signature does not match")
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE:
        raise BadSignature("signature timestamp is outside the 5 minute tolerance")


def verify_base64(secret: str, body: bytes, header: str | None) -> None:
    if not header:
        raise BadSignature("signature header missing")
    expected = base64.b64encode(_hmac(secret, body))
    if not hmac.compare_digest(expected, header.strip().encode()):
        raise BadSignature("signature does not match")


def verify(platform: str, secret: str, body: bytes, headers: dict[str, str]) -> None:
    """Check a delivery for a source of `platform`; a delivery signed the way another platform
    signs (and not this one's way) is refused with a message that says so."""
    header = headers.get(SIGNATURE_HEADERS[platform])
    if header is None:
        foreign = [p for p, h in SIGNATURE_HEADERS.items() if p != platform and h in headers]
        if foreign:
            raise BadSignature(f"this source receives {platform} webhooks, not {foreign[0]} ones")
    if platform in ("generic", "stripe"):
        verify_timestamped(secret, body, header)
    else:
        verify_base64(secret, body, header)
