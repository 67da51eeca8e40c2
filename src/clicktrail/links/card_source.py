""""Copy card from destination": read the destination page's own og: tags, once, carefully.

The server fetches a URL a marketer typed, so it must not become a way into the private network:
every address the host resolves to must be public (unless the operator allows private ones), the
connection goes to the address that was checked (no second lookup for DNS rebinding to change),
redirects are followed by hand and checked the same way, and the page is read for at most a few
seconds and a few hundred KB.
"""

from __future__ import annotations

import asyncio
import codecs
import ipaddress
import socket
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

TIMEOUT_SECONDS = 5.0
MAX_BYTES = 512 * 1024  # <head> is near the top: enough for every page's tags
MAX_REDIRECTS = 3
USER_AGENT = "Clicktrail-CardCopy/1.0 (+reads og: tags once, on a marketer's request)"


class CardSourceError(ValueError):
    """The destination could not be read for a card (not public, too slow, not HTML, ...)."""


@dataclass(frozen=True)
class SourceCard:
    title: str | None
    description: str | None
    image_url: str | None


class _Tags(HTMLParser):
    """Open Graph, Twitter and plain tags from the page, first value of each kept."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            a = {k.lower(): (v or "") for k, v in attrs}
            key = (a.get("property") or a.get("name") or "").strip().lower()
            if key and "content" in a:
                self.meta.setdefault(key, a["content"].strip())
        elif tag == "title":
            self._in_title = True
        elif tag == "body":
            self.done = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "head":
            self.done = True

    def handle_data(self, data: str) -> None:
        if self._in_title and len(self.title) < 1000:
            self.title += data


def _first(tags: _Tags, *keys: str) -> str | None:
    return next((tags.meta[k] for k in keys if tags.meta.get(k)), None)


def card_from_html(html: str, page_url: str) -> SourceCard:
    tags = _Tags()
    tags.feed(html)
    title = _first(tags, "og:title", "twitter:title") or " ".join(tags.title.split()) or None
    description = _first(tags, "og:description", "twitter:description", "description")
    image = _first(tags, "og:image:secure_url", "og:image", "og:image:url", "twitter:image", "twitter:image:src")
    if image:
        image = urljoin(page_url, image)
        if urlsplit(image).scheme not in ("http", "https"):
            image = None
    return SourceCard(title[:200] if title else None, description[:500] if description else None,
                      image if image and len(image) <= 2048 else None)


async def _public_address(host: str, port: int, allow_private: bool) -> str:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise CardSourceError(f"the host {host} does not resolve") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    # Link-local never (169.254.169.254 is the cloud's metadata service), whatever the setting says.
    if any(a.is_link_local for a in addresses):
        raise CardSourceError(f"the host {host} is a link-local address")
    if not allow_private and any(not a.is_global for a in addresses):
        raise CardSourceError(f"the host {host} is not a public address")
    return str(addresses[0])


async def fetch_card(url: str, *, allow_private: bool = False, timeout: float = TIMEOUT_SECONDS) -> SourceCard:
    """The card the page at `url` describes itself with; CardSourceError when it cannot be read."""
    try:
        return await asyncio.wait_for(_fetch(url, allow_private), timeout)
    except asyncio.TimeoutError:
        raise CardSourceError(f"the page did not answer within {timeout:g} seconds") from None


async def _fetch(url: str, allow_private: bool) -> SourceCard:
    async with httpx.AsyncClient(follow_redirects=False, timeout=TIMEOUT_SECONDS, trust_env=False) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise CardSourceError("only http and https pages can be read")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            address = await _public_address(parts.hostname, port, allow_private)
            host = f"[{address}]" if ":" in address else address
            pinned = urlunsplit((parts.scheme, f"{host}:{port}", parts.path or "/", parts.query, ""))
            request = client.build_request(
                "GET", pinned, headers={"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": USER_AGENT,
                                        "Accept": "text/html,application/xhtml+xml"},
                # TLS is checked against the name, while the connection goes to the checked address.
                extensions={"sni_hostname": parts.hostname},
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise CardSourceError(f"the page could not be fetched: {exc.__class__.__name__}") from None
            try:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise CardSourceError(f"the page answered {response.status_code}")
                media = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if media not in ("text/html", "application/xhtml+xml"):
                    raise CardSourceError("the destination is not an HTML page")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= MAX_BYTES:
                        break
            finally:
                await response.aclose()
            return card_from_html(bytes(body[:MAX_BYTES]).decode(_charset(response), "replace"), url)
    raise CardSourceError(f"more than {MAX_REDIRECTS} redirects")


def _charset(response: httpx.Response) -> str:
    name = response.charset_encoding or "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"
