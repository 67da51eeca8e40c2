"""Reading a request body with a size cap, without holding more than the cap in memory."""

from __future__ import annotations

from fastapi import HTTPException, Request


async def read_capped(request: Request, limit: int, what: str) -> bytes:
    """The whole body, or 413 as soon as it is known to be over `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, detail=f"the body is too large: send {what}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, detail=f"the body is too large: send {what}")
        chunks.append(chunk)
    return b"".join(chunks)
