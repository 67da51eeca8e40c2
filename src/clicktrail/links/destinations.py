"""Which destinations a short link may send people to."""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048


def destination_problem(url: str, allowed_hosts: list[str], own_netloc: str | None = None) -> str | None:
    """Why `url` is not an acceptable destination, or None when it is."""
    if len(url) > MAX_URL_LENGTH:
        return f"the URL is longer than {MAX_URL_LENGTH} characters"
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        return "the URL contains spaces or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # raises ValueError on a malformed port
    except ValueError:
        return "the URL is malformed"
    if parts.scheme.lower() not in ("http", "https"):
        return "only http and https URLs are allowed"
    if not host:
        return "the URL needs a host"
    if "@" in parts.netloc:
        return "the URL must not contain a user name or password"
    if own_netloc and parts.netloc.lower() == own_netloc.lower():
        return "the URL points back at this short-link service"
    if allowed_hosts and not any(host == h or host.endswith("." + h) for h in allowed_hosts):
        return f"the host {host} is not in the allowed destination hosts"
    return None
