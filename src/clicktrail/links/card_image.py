"""Card images: check that an upload is a PNG, JPEG or WebP image, and re-encode it as the
1200x630 JPEG under 600 KB that every chat app draws in full (WhatsApp drops larger ones)."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_JPEG_BYTES = 600 * 1024
CARD_SIZE = (1200, 630)  # the Open Graph size Facebook, WhatsApp and iMessage crop to
ACCEPTED_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
# A 5 MB file can still claim a huge canvas (a decompression bomb): refuse past 50 megapixels.
MAX_PIXELS = 50_000_000
_QUALITIES = (85, 75, 65, 55, 45)


class NotAnImage(ValueError):
    """The upload is not a readable PNG, JPEG or WebP image."""


@dataclass(frozen=True)
class CardImage:
    jpeg: bytes
    version: str  # a digest of the JPEG: it names this image in og:image URLs


def card_image(data: bytes) -> CardImage:
    """The upload re-encoded for a card: cropped to fill 1200x630 around its centre, no metadata."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format
                width, height = probe.size
                probe.verify()  # a truncated or corrupt file fails here, before any decoding
        if kind not in ACCEPTED_TYPES.values():
            raise NotAnImage(f"a {kind or 'file of unknown type'} is not a PNG, JPEG or WebP image")
        if width * height > MAX_PIXELS:
            raise NotAnImage(f"the image is {width}x{height}: at most {MAX_PIXELS // 1_000_000} megapixels")
        with Image.open(io.BytesIO(data)) as image:
            # A big JPEG decodes at a half, quarter or eighth of its size when that still covers
            # the card twice: a 40-megapixel photo costs a few MB of memory, not 120.
            image.draft("RGB", (CARD_SIZE[0] * 2, CARD_SIZE[1] * 2))
            image = ImageOps.exif_transpose(image)  # phones store photos sideways with a rotation tag
            image = _on_white(image)
            card = ImageOps.fit(image, CARD_SIZE, Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise NotAnImage("the file is not a readable PNG, JPEG or WebP image") from exc
    for quality in _QUALITIES:
        out = io.BytesIO()
        card.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
        if out.tell() <= MAX_JPEG_BYTES:
            break
    jpeg = out.getvalue()
    return CardImage(jpeg, hashlib.sha256(jpeg).hexdigest()[:16])


def _on_white(image: Image.Image) -> Image.Image:
    """JPEG has no transparency: a logo on a transparent PNG goes on white, not on black."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
