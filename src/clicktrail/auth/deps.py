"""The `Authorization: Bearer <api key>` guard for the JSON API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from clicktrail.auth.models import ApiKey
from clicktrail.auth.service import authenticate_api_key
from clicktrail.db import SessionDep


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def require_api_key(request: Request, session: SessionDep) -> ApiKey:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    key = await authenticate_api_key(session, token.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if key.scope != "write" and request.method not in READ_METHODS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this API key may only read")
    return key


ApiKeyDep = Annotated[ApiKey, Depends(require_api_key)]
