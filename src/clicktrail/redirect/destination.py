"""Building the Location of a redirect: destination + UTM tags + passed-on query + click id."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

_URL_SAFE = "!#$%&'()*+,-./:;=?@[]~_|^{}`"


def header_url(url: str) -> str:
    """A URL fit for the latin-1 Location header: anything beyond ASCII percent-encoded."""
    return quote(url, safe=_URL_SAFE)


@dataclass(frozen=True, slots=True)
class Target:
    """A destination prepared once per link, so each redirect only appends."""

    prefix: str  # scheme://host/path?existing&utm... (no fragment)
    separator: str  # "?" or "&": what comes before the next parameter
    fragment: str  # "#..." or ""
    keys: frozenset[str]  # parameter names already in prefix

    @classmethod
    def build(cls, destination: str, utm: dict[str, str]) -> Target:
        parts = urlsplit(destination)
        query = parse_qsl(parts.query, keep_blank_values=True)
        present = {k for k, _ in query}
        # A tag the destination already carries is the marketer's choice: keep it.
        added = [(k, v) for k, v in utm.items() if k not in present]
        new_query = parts.query
        if added:
            new_query = (new_query + "&" if new_query else "") + urlencode(added)
        prefix = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", new_query, ""))
        return cls(
            # Location is a latin-1 header: percent-encode anything beyond ASCII, keep the rest.
            prefix=quote(prefix, safe=_URL_SAFE),
            separator="&" if new_query else "?",
            fragment=quote(f"#{parts.fragment}", safe=_URL_SAFE) if parts.fragment else "",
            keys=frozenset(present | {k for k, _ in added}),
        )

    def location(self, click_param: str, click_id: str, passed: list[tuple[str, str]] | None = None) -> str:
        extra = ""
        if passed:
            # The short URL's own query goes on, except what would duplicate a tag or our id.
            kept = [(k, v) for k, v in passed if k not in self.keys and k != click_param]
            if kept:
                extra = urlencode(kept) + "&"
        return f"{self.prefix}{self.separator}{extra}{click_param}={click_id}{self.fragment}"
