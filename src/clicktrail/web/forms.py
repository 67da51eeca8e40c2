"""Turning a posted form into a validated model, with one message per field for the page."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from clicktrail.errors import Invalid

Errors = dict[str, str]

_MESSAGES = {
    "missing": "This is required.",
    "string_too_short": "This is required.",
    "literal_error": "Pick one from the list.",
    "greater_than_equal": "Enter a whole number of at least {ge}.",
    "int_parsing": "Enter a whole number.",
    "datetime_from_date_parsing": "Enter a date and time.",
    "datetime_parsing": "Enter a date and time.",
}


def field_errors(exc: ValidationError, prefix: str = "") -> Errors:
    errors: Errors = {}
    for err in exc.errors():
        loc = [str(part) for part in err["loc"] if not isinstance(part, int)] or ["form"]
        field = prefix + loc[0]
        template = _MESSAGES.get(err["type"])
        if err["type"] == "string_too_short" and (err.get("ctx") or {}).get("min_length", 1) > 1:
            template = None
        try:
            message = template.format(**(err.get("ctx") or {})) if template else err["msg"]
        except (KeyError, IndexError):
            message = err["msg"]
        if field == "channels" and err["type"] == "literal_error":
            message = "Pick channels from the list."
        errors.setdefault(field, message.removeprefix("Value error, "))
    return errors


def invalid_error(exc: Invalid) -> Errors:
    field = next((str(p) for p in reversed(exc.loc) if isinstance(p, str) and p != "body"), "form")
    return {field: exc.message[:1].upper() + exc.message[1:]}


def missing_scheme(url: str) -> str | None:
    """The plain-words message for the commonest slip, a URL typed without https://."""
    if url and "://" not in url and not url.lower().startswith(("http:", "https:")):
        return f"Add https:// in front: https://{url}?"
    return None


def text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: Any, name: str) -> str | None:
    return text(form, name) or None


def parse_referral_csv(content: str, limit: int = 1000) -> tuple[list[dict[str, str | None]], str | None]:
    """Rows of `referrer,coupon_code` (a header line is skipped) → (rows, problem)."""
    rows: list[dict[str, str | None]] = []
    reader: Iterable[list[str]] = csv.reader(io.StringIO(content.lstrip("\ufeff")))
    for number, cells in enumerate(reader, start=1):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower() in ("referrer", "name"):
            continue
        if len(cells) > 2:
            return [], f"Line {number}: expected referrer,coupon_code but found {len(cells)} columns."
        referrer = cells[0]
        coupon = cells[1] if len(cells) > 1 and cells[1] else None
        if not referrer:
            return [], f"Line {number}: the referrer is empty."
        rows.append({"referrer": referrer, "coupon_code": coupon})
        if len(rows) > limit:
            return [], f"At most {limit:,} referral links at once."
    if not rows:
        return [], "No rows found: one line per referrer, as referrer,coupon_code."
    return rows, None
