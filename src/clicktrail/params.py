"""Path and query parameter types shared by every router, with the limits of the columns behind
them, so that no id out of range or empty filter reaches a query (API.md "Errors")."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator, Field

from clicktrail.vocabulary import Channel

MAX_ID = 2**31 - 1  # INTEGER primary keys on PostgreSQL


def blank_is_none(value: Any) -> Any:
    # `?campaign_id=&channel=` is how forms and API.md write "no filter".
    return None if value == "" else value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# An id in the path that cannot name a row answers 404 (errors.py), like one that names none.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdFilter = Annotated[Id | None, BeforeValidator(blank_is_none), Query()]
ChannelFilter = Annotated[Channel | None, BeforeValidator(blank_is_none), Query()]
KindFilter = Annotated[Literal["click", "preview", "bot"] | None, BeforeValidator(blank_is_none), Query()]

FIRST_YEAR, LAST_YEAR = 1900, 2999


def year_problem(value: date | datetime) -> str | None:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        return f"dates must be within the years {FIRST_YEAR} to {LAST_YEAR}"
    return None


def _moment(value: datetime) -> datetime:
    # Checked before any conversion: year 1 at +14:00 would overflow on the way to UTC.
    if problem := year_problem(value):
        raise ValueError(problem)
    # A time without a zone is taken as UTC rather than refused.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


Moment = Annotated[datetime, AfterValidator(_moment)]


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


NonBlank = Annotated[str, AfterValidator(_text)]
