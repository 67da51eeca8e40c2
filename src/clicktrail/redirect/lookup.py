"""Finding the link behind a short code: a hashids code (decoded to the id) or a vanity slug."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.links.codes import IMPORTED_SLUG_RE, CodeCodec
from clicktrail.links.models import Link


async def find_link_by_code(session: AsyncSession, codec: CodeCodec, code: str) -> Link | None:
    decoded = codec.decode(code)
    if decoded is not None:
        link_id, nonce = decoded
        link = await session.get(Link, link_id)
        if link is not None and link.nonce == nonce and link.slug is None:
            return link
    # Anything else is no slug: no query for it. (Imported codes may be shorter than vanity slugs.)
    if IMPORTED_SLUG_RE.fullmatch(code):
        return await session.scalar(select(Link).where(Link.slug == code))
    return None
