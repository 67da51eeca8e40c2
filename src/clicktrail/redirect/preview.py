"""The card a link with a preview answers chat apps' preview fetchers (and other bots).

Only links with a card classify in the redirect for it: `classify` is one cached dictionary
lookup per user agent, and every other link redirects exactly as before. People still get the
302; fetchers get a small page of Open Graph and Twitter tags whose `og:url` is the short URL,
so the card names the link that was shared, and a tap on it comes back here.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from starlette.types import Send

from clicktrail.clicks.detect import classify
from clicktrail.links.models import Link


@dataclass(frozen=True, slots=True)
class Card:
    title: str
    description: str | None
    image_url: str | None  # an image hosted elsewhere
    image_version: str | None  # an uploaded image, served at <short URL>/preview.jpg?v=<version>

    def size(self) -> int:
        """Characters held, for the link cache's byte bound."""
        return len(self.title) + len(self.description or "") + len(self.image_url or "") + len(self.image_version or "")


def card_of(link: Link) -> Card | None:
    if link.preview_title is None:
        return None
    return Card(link.preview_title, link.preview_description, link.preview_image_url, link.preview_image_version)


def kind_for_card(user_agent: str, is_head: bool) -> tuple[str, str | None]:
    """Kind of hit and app, as the recorder would find them (HEAD requests are bots)."""
    kind, app = classify(user_agent)
    return ("bot" if is_head else kind), app


_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    # Each fetch is a share signal: no shared cache may answer for us, and the answer varies by agent.
    (b"cache-control", b"private, no-store"),
    (b"vary", b"User-Agent"),
    (b"x-robots-tag", b"noindex"),
]


def card_page(card: Card, short_url: str) -> bytes:
    image = f"{short_url}/preview.jpg?v={card.image_version}" if card.image_version else card.image_url
    title, url = escape(card.title), escape(short_url)
    tags = [
        '<meta property="og:type" content="website">',
        f'<meta property="og:title" content="{title}">',
        f'<meta property="og:url" content="{url}">',
        f'<meta name="twitter:title" content="{title}">',
    ]
    if card.description:
        description = escape(card.description)
        tags += [f'<meta property="og:description" content="{description}">',
                 f'<meta name="description" content="{description}">',
                 f'<meta name="twitter:description" content="{description}">']
    if image:
        tags += [f'<meta property="og:image" content="{escape(image)}">',
                 f'<meta name="twitter:image" content="{escape(image)}">']
        if card.image_version:  # ours is always this size: fetchers may draw it before downloading
            tags += ['<meta property="og:image:type" content="image/jpeg">',
                     '<meta property="og:image:width" content="1200">',
                     '<meta property="og:image:height" content="630">']
    tags.append(f'<meta name="twitter:card" content="{"summary_large_image" if image else "summary"}">')
    head = "\n".join(tags)
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{title}</title>\n{head}\n'
        f'<meta name="robots" content="noindex"></head>\n'
        f'<body><p><a href="{url}">{title}</a></p></body></html>\n'
    ).encode()


async def send_card(send: Send, card: Card, short_url: str, is_head: bool) -> None:
    body = card_page(card, short_url)
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if is_head else body})
