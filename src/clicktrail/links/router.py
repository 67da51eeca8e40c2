"""HTTP API for campaigns and links."""

from __future__ import annotations

from fastapi import APIRouter

from clicktrail.auth.deps import ApiKeyDep
from clicktrail.db import SessionDep

router = APIRouter(prefix="/api", tags=["links"])


@router.get("/campaigns")
async def list_campaigns(session: SessionDep, _key: ApiKeyDep) -> dict:
    return {"items": [], "next_cursor": None}
