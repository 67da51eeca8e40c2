"""Every setting of the service, read from `CLICKTRAIL_*` environment variables."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated
from urllib.parse import SplitResult, urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from clicktrail.private_files import open_private, private_dir

SECRET_KEY_FILE = "secret_key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLICKTRAIL_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("clicktrail-data"), description="SQLite file, secret key, click spool.")
    database_url: str | None = Field(None, description="sqlite:///path or postgresql://user@host/db.")
    base_url: str = Field("http://127.0.0.1:8000", description="Public base of short links.")
    secret_key: str | None = Field(
        None, description="Salt for codes, visitor hashes, sessions. Generated into data_dir if unset."
    )
    allowed_destination_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated hosts links may point to (subdomains included); empty allows any.",
    )
    click_id_param: str = Field("ct_id", description="Query parameter that carries the click id.")
    link_cache_ttl: float = Field(5.0, description="Seconds a looked-up link is served from memory.")
    country_header: str | None = Field(None, description="Trusted header with the visitor's country.")
    geoip_db: Path | None = Field(
        None, description="MaxMind GeoLite2 / DB-IP .mmdb file for countries (reread when it changes)."
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1,::1", description="Comma-separated IPs/CIDRs of proxies whose X-Forwarded-For/-Proto are believed."
    )
    recorder_flush_interval: float = Field(0.25, description="Seconds between click batch writes.")
    recorder_max_buffer: int = Field(200_000, description="Clicks held in memory before spilling.")
    attribution_window_days: int = Field(30, description="Clicks older than this earn no order.")
    pending_order_timeout: float = Field(
        3600.0, description="Seconds an order waits for its click before it is unattributed."
    )
    pending_retry_interval: float = Field(
        5.0, description="Seconds between retries of orders whose click is not written yet."
    )
    click_retention_days: int | None = Field(
        None, ge=1, le=36_500,
        description="Days raw clicks are kept (unset: for ever). Roll-ups keep the reports' numbers.",
    )
    retention_interval: float = Field(3600.0, gt=0, description="Seconds between runs of the click retention.")
    log_level: str = Field("info")
    loop_monitor: bool = Field(False, description="Log the worst event-loop stall at shutdown (benchmarks).")
    # --- sales out (outbound/): endpoints, the sender's pace, retries and circuit ---------------
    outbound_allow_private: bool = Field(
        False, description="Let webhooks, and card copying, reach http and private/loopback addresses (never link-local)."
    )
    ga4_collect_url: str = Field("https://www.google-analytics.com/mp/collect")
    meta_graph_url: str = Field("https://graph.facebook.com/v21.0")
    tiktok_events_url: str = Field("https://business-api.tiktok.com/open_api/v1.3/event/track/")
    outbound_send_interval: float = Field(1.0, description="Seconds between looks for due deliveries.")
    outbound_timeout: float = Field(10.0, description="Seconds a destination has to answer one try.")
    outbound_retry_base: float = Field(10.0, description="Seconds before the second try; doubles each time.")
    outbound_retry_max_delay: float = Field(6 * 3600.0, description="Longest wait between two tries.")
    outbound_retry_window: float = Field(3 * 86400.0, description="Seconds after which a delivery gives up.")
    outbound_circuit_failures: int = Field(10, description="Failures in a row that pause a destination.")
    outbound_circuit_pause: float = Field(600.0, description="Seconds a paused destination rests.")
    outbound_lease: float = Field(60.0, description="Seconds a claimed try is someone's before it is retried.")
    outbound_log_days: int = Field(30, description="Days finished deliveries stay in the deliveries log.")
    # Where `clicktrail serve` listens, set by it for its workers (never by hand): without
    # CLICKTRAIL_BASE_URL, short links, QR codes and webhook URLs point there.
    served_url: str | None = Field(None, description="Set by `clicktrail serve`: the URL it listens on.")
    # Reporting defaults until workspaces carry them (API.md: the workspace's reporting_currency).
    reporting_currency: str = Field("EUR", description="ISO 4217 currency reports convert revenue to.")
    timezone: str = Field("UTC", description="IANA time zone of report days, weeks and charts.")
    rates_url: str = Field(
        "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip",
        description="ECB reference rates (CSV, or a zip of one) fetched daily; empty turns it off.",
    )
    rates_refresh_interval: float = Field(86400.0, description="Seconds between fetches of the rates.")

    @model_validator(mode="after")
    def _retention_covers_the_window(self) -> Settings:
        # An order credits a click of the last `attribution_window_days`: dropping clicks sooner
        # would lose sales that the window promises to credit.
        if self.click_retention_days is not None and self.click_retention_days < self.attribution_window_days:
            raise ValueError(
                f"CLICKTRAIL_CLICK_RETENTION_DAYS ({self.click_retention_days}) must be at least the attribution "
                f"window ({self.attribution_window_days} days)"
            )
        return self

    @field_validator("allowed_destination_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [h.strip().lower() for h in value.split(",") if h.strip()]
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            if item and item != "*":
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"CLICKTRAIL_FORWARDED_ALLOW_IPS: {item!r} is not an IP address or CIDR") from None
        return ",".join(part.strip() for part in value.split(",") if part.strip())

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("reporting_currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 3 or not code.isascii() or not code.isalpha():
            raise ValueError(f"not an ISO 4217 currency code: {value!r}")
        return code

    def model_post_init(self, _context: object) -> None:
        # No base URL given: the links point where `serve` listens (API.md: Numbers).
        if "base_url" not in self.model_fields_set and self.served_url:
            self.base_url = self.served_url.rstrip("/")

    @property
    def base_url_warning(self) -> str | None:
        """Why short links may not reach this server: the base URL names another port than the
        one `serve` listens on (a printed QR code cannot be fixed later)."""
        if not self.served_url or self.base_url == self.served_url:
            return None
        given, served = urlsplit(self.base_url), urlsplit(self.served_url)
        if _port(given) == _port(served):
            return None
        return (
            f"CLICKTRAIL_BASE_URL is {self.base_url}, but this server listens on port {_port(served)}: "
            f"short links, QR codes and webhook URLs point to port {_port(given)}. That is right only "
            "behind a proxy that forwards it here."
        )

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL with the async driver filled in, as SQLAlchemy wants it."""
        if self.database_url:
            return async_database_url(self.database_url)
        private_dir(self.data_dir)
        return async_database_url(f"sqlite:///{(self.data_dir / 'clicktrail.db').resolve()}")

    @cached_property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @cached_property
    def resolved_secret_key(self) -> str:
        """The configured key, else the one kept in the data directory (made on first use)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / SECRET_KEY_FILE
        if path.exists():
            return path.read_text().strip()
        private_dir(self.data_dir)
        key = secrets.token_urlsafe(48)
        # O_EXCL: two workers starting at once must end up with one key, not two.
        try:
            fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
        return key


def _port(url: SplitResult) -> int | None:
    try:
        return url.port or {"http": 80, "https": 443}.get(url.scheme)
    except ValueError:
        return None


def served_url(host: str, port: int) -> str:
    """The URL of `serve --host --port`. A wildcard address is no place to send people: the
    links then name this machine's loopback (a warning says to set CLICKTRAIL_BASE_URL)."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def async_database_url(url: str) -> str:
    """Map the URLs people write (postgresql://, postgres://, sqlite:///) to async drivers."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    base = scheme.split("+", 1)[0]
    if base in ("postgresql", "postgres"):
        # asyncpg spells libpq's sslmode as ssl.
        rest = rest.replace("sslmode=", "ssl=")
        return f"postgresql+asyncpg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(f"unsupported database: {scheme} (use sqlite:/// or postgresql://)")
