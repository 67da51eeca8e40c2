"""`GET /{code}/preview.jpg`: a card's uploaded image, public (chat apps fetch it) and long cached."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from clicktrail.db import SessionDep
from clicktrail.links import previews
from clicktrail.redirect.lookup import find_link_by_code

router = APIRouter(tags=["links"])

YEAR = 365 * 24 * 3600


@router.get("/{code}/preview.jpg", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
async def preview_image(code: str, request: Request, session: SessionDep, v: str | None = None) -> Response:
    """The image of the link's preview card, a 1200x630 JPEG. Cards name it with `?v=<version>`:
    that URL never changes content, so it may be cached for a year."""
    # On the link's own domain only: a branded host's, else the default one's.
    branded = request.app.state.hosts.branded(request.headers.get("host"))
    link = await find_link_by_code(session, request.app.state.link_context.codec, code,
                                   branded.host if branded is not None else "")
    image = await previews.image_of(session, link.id) if link is not None else None
    if image is None:
        return Response('{"detail":"no preview image"}', 404, media_type="application/json")
    etag = f'"{image.version}"'
    cache = f"public, max-age={YEAR}, immutable" if v == image.version else "public, max-age=86400"
    headers = {"Cache-Control": cache, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(image.jpeg, media_type="image/jpeg", headers=headers)


# Fetchers probe an image with HEAD before drawing it; the same answer, once in the API document.
router.add_api_route("/{code}/preview.jpg", preview_image, methods=["HEAD"], include_in_schema=False)
