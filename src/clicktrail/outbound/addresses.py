"""Where the sender may connect: https and public addresses only, checked after DNS resolution
and again on every redirect, and the connection pinned to the address that was checked (so a
name that resolves differently a moment later cannot reach inside).

`CLICKTRAIL_OUTBOUND_ALLOW_PRIVATE=true` allows http and private or loopback addresses (a CRM on
the office network); link-local addresses (169.254.0.0/16 with the clouds' metadata services,
fe80::/10), multicast and unspecified ones stay refused always.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """The URL may not be called (scheme, credentials, or where its host resolves)."""


@dataclass(frozen=True)
class Target:
    """A checked URL, and the URL to connect to instead: the same with the checked address."""

    url: str
    host: str
    pinned_url: str


def _never(address: IPAddress) -> bool:
    return address.is_link_local or address.is_multicast or address.is_unspecified


def _refused(address: IPAddress, allow_private: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if _never(address):
        return f"{address} is a link-local, multicast or unspecified address"
    if not allow_private and not address.is_global:
        return f"{address} is not a public address"
    return None


def check_syntax(url: str, allow_private: bool) -> tuple[str, str, int]:
    """(scheme, host, port) of an acceptable URL, else UnsafeURL (nothing is resolved here)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"not a valid URL: {exc}") from None
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeURL("the URL must be https" if not allow_private else "the URL must be http or https")
    if not parts.hostname:
        raise UnsafeURL("the URL needs a host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("the URL may not carry credentials")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve(url: str, allow_private: bool) -> Target:
    """Check the URL and every address its host resolves to; pin the first."""
    scheme, host, port = check_syntax(url, allow_private)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UnsafeURL(f"{host} does not resolve: {exc.strerror}") from None
        except (UnicodeError, ValueError):  # a label over 63 characters, a name IDNA cannot encode
            raise UnsafeURL(f"{host[:100]} is not a host name that can be resolved") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    for address in addresses:
        reason = _refused(address, allow_private)
        if reason:
            raise UnsafeURL(f"{host} resolves to {reason}")
    pinned = addresses[0]
    netloc = f"[{pinned}]" if pinned.version == 6 else str(pinned)
    parts = urlsplit(url)
    if parts.port is not None:
        netloc += f":{parts.port}"
    return Target(url=url, host=host, pinned_url=urlunsplit((scheme, netloc, parts.path, parts.query, "")))
