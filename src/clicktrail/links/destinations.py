"""Which destinations a short link may send people to."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def host_problem(host: str) -> str | None:
    """Why `host` is no host name a browser can reach, or None (IDN names are taken as punycode)."""
    if host.startswith("[") or ":" in host:  # urlsplit has taken the brackets off an IPv6 literal
        try:
            ipaddress.IPv6Address(host.strip("[]"))
            return None
        except ValueError:
            return "the host is not a valid IPv6 address"
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return "the host is not a valid host name"
    labels = ascii_host.rstrip(".").split(".")
    if len(ascii_host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return "the host is not a valid host name"
    return None


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
    if problem := host_problem(host):
        return problem
    if "@" in parts.netloc:
        return "the URL must not contain a user name or password"
    if own_netloc and parts.netloc.lower() == own_netloc.lower():
        return "the URL points back at this short-link service"
    if allowed_hosts and not any(host == h or host.endswith("." + h) for h in allowed_hosts):
        return f"the host {host} is not in the allowed destination hosts"
    return None
