"""Order sources on the settings page, through the conversions service."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.errors import NotFound
from clicktrail.web.forms import Errors, field_errors

try:
    from clicktrail.conversions import service as conversions
    from clicktrail.conversions.pending import conversion_context
    from clicktrail.conversions.schemas import SourceCreate
except ImportError:  # the conversions service (issue 5) is not installed: the page says so
    conversions = None  # type: ignore[assignment]

READY = conversions is not None

PLATFORMS = [
    ("generic", "Your own backend (signed JSON)"),
    ("shopify", "Shopify"),
    ("woocommerce", "WooCommerce"),
    ("stripe", "Stripe"),
]


async def list_sources(session: AsyncSession, request: Request) -> list[Any]:
    if not READY:
        return []
    return await conversions.list_sources(session, conversion_context(request.app), 500, None)


async def create_source(session: AsyncSession, request: Request, values: dict[str, str]) -> tuple[Errors, Any]:
    """(errors by field, None), or ({}, the new source with its secret, shown this once)."""
    if not READY:
        return {"name": "Order sources need the conversions module, which this build does not have yet."}, None
    try:
        data = SourceCreate(name=values["name"], platform=values["platform"], secret=values.get("secret") or None)
    except ValidationError as exc:
        errors = field_errors(exc)
        if "secret" in errors:
            errors["secret"] = "A signing secret has at least 8 characters (or leave it empty)."
        return errors, None
    source = await conversions.create_source(session, conversion_context(request.app), data.name, data.platform, data.secret)
    return {}, source


async def rotate_secret(session: AsyncSession, request: Request, source_id: int) -> Any | None:
    if not READY:
        return None
    try:
        return await conversions.rotate_secret(session, conversion_context(request.app), source_id, None)
    except NotFound:
        return None
