"""Noticing a reverse proxy that nobody told us to trust.

Behind a proxy that is not in CLICKTRAIL_FORWARDED_ALLOW_IPS, every hit seems to come from the
proxy's own private address: every visitor with the same browser is then one visitor, and no
country can be found. The recorder shows each hit's address to this watch (in memory only) and
it logs a warning once when the last 1,000 hits all came from the same private address.
"""

from __future__ import annotations

import ipaddress
import logging

log = logging.getLogger("clicktrail.proxies")

RUN = 1_000


class UntrustedProxyWatch:
    def __init__(self, run: int = RUN) -> None:
        self._run = run
        self._last: str | None = None
        self._count = 0
        self._warned: set[str] = set()

    def saw(self, ip: str | None) -> None:
        if ip != self._last:
            self._last, self._count = ip, 0
        self._count += 1
        if self._count == self._run and ip and ip not in self._warned and _is_private(ip):
            self._warned.add(ip)
            log.warning(
                "the last %d hits all came from %s, a private address: a reverse proxy whose "
                "X-Forwarded-For is not believed? Add it to CLICKTRAIL_FORWARDED_ALLOW_IPS "
                "(IPs or CIDRs); until then visitors and countries are read wrong.", self._run, ip,
            )


def _is_private(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return address.is_private and not address.is_loopback
