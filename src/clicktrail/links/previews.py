"""Preview cards' uploaded images: storing one for a link, finding it for /{code}/preview.jpg."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from clicktrail.errors import Conflict
from clicktrail.links.card_image import CardImage
from clicktrail.links.models import Link, LinkPreviewImage


async def store_image(session: AsyncSession, link: Link, image: CardImage) -> Link:
    """The link's card shows this image from now on (replacing an uploaded or linked one)."""
    if link.preview_title is None:
        raise Conflict("the link has no preview card: give it a preview title first")
    await session.execute(delete(LinkPreviewImage).where(LinkPreviewImage.link_id == link.id))
    session.add(LinkPreviewImage(link_id=link.id, jpeg=image.jpeg, version=image.version))
    link.preview_image_version = image.version
    link.preview_image_url = None
    await session.flush()
    return link


async def image_of(session: AsyncSession, link_id: int) -> LinkPreviewImage | None:
    return await session.scalar(select(LinkPreviewImage).where(LinkPreviewImage.link_id == link_id))
