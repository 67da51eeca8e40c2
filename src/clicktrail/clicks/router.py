"""`GET /api/clicks` and `GET /api/clicks/{click_id}`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select

from clicktrail.auth.deps import writes_need
from clicktrail.clicks import partitions
from clicktrail.clicks.models import Click
from clicktrail.clicks.schemas import ClickOut
from clicktrail.db import SessionDep
from clicktrail.errors import NotFound
from clicktrail.pagination import Page, PageDep, encode_cursor
from clicktrail.params import IdFilter, KindFilter

router = APIRouter(prefix="/api", tags=["clicks"], dependencies=[writes_need("editor")])


@router.get("/clicks")
async def list_clicks(
    session: SessionDep,
    page: PageDep,
    link_id: IdFilter = None,
    campaign_id: IdFilter = None,
    kind: KindFilter = None,
) -> Page[ClickOut]:
    # Click ids sort by time, so the id is both the order and the cursor: newest first.
    query = select(Click).order_by(Click.click_id.desc()).limit(page.limit)
    if link_id is not None:
        query = query.where(Click.link_id == link_id)
    if campaign_id is not None:
        query = query.where(Click.campaign_id == campaign_id)
    if kind is not None:
        query = query.where(Click.kind == kind)
    if page.after is not None:
        query = query.where(Click.click_id < page.after)
    clicks = (await session.scalars(query)).all()
    more = len(clicks) == page.limit
    return Page(items=[ClickOut.of(c) for c in clicks], next_cursor=encode_cursor(clicks[-1].click_id) if more else None)


@router.get("/clicks/{click_id}")
async def get_click(click_id: Annotated[str, Path(max_length=32)], session: SessionDep) -> ClickOut:
    where = partitions.by_id(Click.click_id, Click.occurred_at, click_id, session.bind.dialect.name)
    click = await session.scalar(select(Click).where(*where))
    if click is None:
        raise NotFound("click not found")
    return ClickOut.of(click)
