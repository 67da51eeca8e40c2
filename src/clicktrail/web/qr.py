"""QR codes of short links (segno: pure Python, SVG and PNG without an imaging library)."""

from __future__ import annotations

import io

import segno

MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png"}


def qr_url(short_url: str) -> str:
    # ?qr=1 lets the redirect tell a scan from a tap; it is not passed on to the shop.
    return f"{short_url}?qr=1"


def render_qr(short_url: str, kind: str, scale: int = 8) -> bytes:
    qr = segno.make(qr_url(short_url), error="m", micro=False)
    buffer = io.BytesIO()
    qr.save(buffer, kind=kind, scale=scale, border=4)
    return buffer.getvalue()
