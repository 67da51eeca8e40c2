"""The visitor's country, from the IP the hit carried in memory (never stored, never spooled).

In order: the trusted header the operator configured (read on the request, CLICKTRAIL_COUNTRY_HEADER),
else the operator's MaxMind GeoLite2 / DB-IP file (CLICKTRAIL_GEOIP_DB, `.mmdb`, reopened when
the file changes, so a monthly update needs no restart), else the registries' table embedded in
the `iptocc` package (the country each block was assigned to: right for ~95% of IPv4 addresses,
no download at run time). Looked up in the recorder's batches, off the request path.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from functools import lru_cache
from pathlib import Path

import iptocc
import maxminddb

log = logging.getLogger("clicktrail.country")

_RECHECK_SECONDS = 30.0  # how often the .mmdb file's modification time is looked at


def _valid(code: object) -> str | None:
    if isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha():
        return code.upper()
    return None


@lru_cache(maxsize=65536)
def _public_ip(ip: str) -> str | None:
    """The address in a canonical form, or None for anything no table can place (private,
    loopback, link-local, reserved, or not an address at all)."""
    try:
        address = ipaddress.ip_address(ip.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address) if address.is_global else None


class GeoipFile:
    """A `.mmdb` file (GeoLite2-Country/City, DB-IP country lite), reopened when it changes."""

    def __init__(self, path: Path, recheck_seconds: float = _RECHECK_SECONDS) -> None:
        self._path = path
        self._recheck = recheck_seconds
        self._reader: maxminddb.Reader | None = None
        self._mtime: float | None = None
        self._next_check = 0.0

    def _current(self) -> maxminddb.Reader | None:
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self._recheck
            try:
                mtime = os.stat(self._path).st_mtime
            except OSError as exc:
                if self._reader is None:
                    log.warning("GeoIP file %s cannot be read (%s); using the embedded table", self._path, exc)
                return self._reader
            if mtime != self._mtime:
                try:
                    reader = maxminddb.open_database(str(self._path))
                except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
                    log.error("GeoIP file %s is not a MaxMind DB (%s); keeping the previous one", self._path, exc)
                    return self._reader
                old, self._reader, self._mtime = self._reader, reader, mtime
                if old is not None:
                    old.close()
                log.info("GeoIP file %s loaded (%s)", self._path, reader.metadata().database_type)
        return self._reader

    def country(self, ip: str) -> str | None:
        reader = self._current()
        if reader is None:
            return None
        try:
            record = reader.get(ip)
        except (ValueError, maxminddb.InvalidDatabaseError):
            return None
        if not isinstance(record, dict):
            return None
        # GeoLite2 and DB-IP: {"country": {"iso_code": "DE"}}; some tools write {"country_code": "DE"}.
        country = record.get("country")
        if isinstance(country, dict):
            return _valid(country.get("iso_code"))
        return _valid(record.get("country_code") or country)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


class CountryLookup:
    def __init__(self, geoip_db: Path | None = None, *, recheck_seconds: float = _RECHECK_SECONDS) -> None:
        self._file = GeoipFile(geoip_db, recheck_seconds) if geoip_db else None

    def country(self, header_country: str | None, ip: str | None) -> str | None:
        header = _valid(header_country)
        if header is not None:
            return header
        if not ip:
            return None
        address = _public_ip(ip)
        if address is None:
            return None
        if self._file is not None:
            found = self._file.country(address)
            if found is not None:
                return found
        return _valid(iptocc.country_code(address))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
