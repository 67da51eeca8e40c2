"""Finding the link behind a short code: a hashids code (decoded to the id) or a vanity slug.

A code is looked for on one domain (`domain`: a branded host, '' for the default one): slugs are
unique per domain only, and a hashids code, though unique everywhere, leads somewhere only on its
own link's domain. `domain=None` looks on every domain (attribution reads codes from utm_content,
which names no domain).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.links.codes import IMPORTED_SLUG_RE, CodeCodec
from clicktrail.links.models import Link


async def find_link_by_code(
    session: AsyncSession, codec: CodeCodec, code: str, domain: str | None = None
) -> Link | None:
    decoded = codec.decode(code)
    if decoded is not None:
        link_id, nonce = decoded
        link = await session.get(Link, link_id)
        if link is not None and link.nonce == nonce and link.slug is None and domain in (None, link.domain):
            return link
    # Anything else is no slug: no query for it. (Imported codes may be shorter than vanity slugs.)
    if IMPORTED_SLUG_RE.fullmatch(code):
        query = select(Link).where(Link.slug == code)
        if domain is None:  # the same slug may be on several domains: the default one first
            return await session.scalar(query.order_by(Link.domain).limit(1))
        return await session.scalar(query.where(Link.domain == domain))
    return None
