"""Cursor pagination shared by every list endpoint: `limit` and an opaque `cursor`."""

from __future__ import annotations

import base64
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, HTTPException, Query
from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    after: str | None  # the decoded cursor: the sort key of the last item already seen


def encode_cursor(value: object) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def _page_params(
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> PageParams:
    after = None
    if cursor:
        try:
            after = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        except ValueError:
            raise HTTPException(422, detail="invalid cursor") from None
    return PageParams(limit=limit, after=after)


def int_cursor(params: PageParams) -> int | None:
    if params.after is None:
        return None
    try:
        return int(params.after)
    except ValueError:
        raise HTTPException(422, detail="invalid cursor") from None


PageDep = Annotated[PageParams, Depends(_page_params)]
