"""The visitor's country (API.md: What a tap tells): trusted header, else the operator's .mmdb,
else the embedded registries' table; the IP itself is never stored or spooled."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from sqlalchemy import select

from clicktrail.app import asgi_app, create_app
from clicktrail.auth import service as auth
from clicktrail.clicks.country import CountryLookup
from clicktrail.clicks.ids import new_click_id
from clicktrail.clicks.models import Click
from clicktrail.clicks.recorder import Hit, Recorder
from clicktrail.db import create_engine
from clicktrail.models import Base
from conftest import BASE_URL

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3.1 Mobile/15E148 Safari/604.1"
# Registry facts, as iptocc's own documentation states them: Google's DNS (ARIN, US), APNIC's 1.0.16.0/20 (JP).
GOOGLE_DNS_V4, GOOGLE_DNS_V6, APNIC_JP = "8.8.8.8", "2001:4860:4860::8888", "1.0.16.1"


def _write_mmdb(path: Path, networks: dict[str, str]) -> None:
    """A country database as MaxMind's GeoLite2-Country lays it out, written by mmdb-writer."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    for network, iso in networks.items():
        writer.insert_network(IPSet([network]), {"country": {"iso_code": iso, "names": {"en": iso}}})
    tmp = path.with_suffix(".tmp")
    writer.to_db_file(str(tmp))
    os.replace(tmp, path)  # as an updater would: the reader never sees half a file


def test_the_embedded_table_places_ipv4_and_ipv6_and_nothing_private() -> None:
    countries = CountryLookup()
    assert countries.country(None, GOOGLE_DNS_V4) == "US"
    assert countries.country(None, APNIC_JP) == "JP"
    assert countries.country(None, GOOGLE_DNS_V6) == "US"
    assert countries.country(None, "::ffff:1.0.16.1") == "JP"  # IPv4 seen through a dual-stack socket
    for nowhere in ("10.1.2.3", "192.168.0.7", "127.0.0.1", "::1", "fe80::1", "100.64.0.1", "", "not-an-ip"):
        assert countries.country(None, nowhere) is None, nowhere


def test_the_trusted_header_comes_first() -> None:
    assert CountryLookup().country("de", GOOGLE_DNS_V4) == "DE"
    assert CountryLookup().country("XX1", GOOGLE_DNS_V4) == "US"  # not a country code: the IP decides


def test_an_operators_mmdb_file_wins_and_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "GeoLite2-Country.mmdb"
    _write_mmdb(path, {"8.8.8.0/24": "DE", "2001:4860::/32": "FR"})
    countries = CountryLookup(path, recheck_seconds=0)
    assert countries.country(None, GOOGLE_DNS_V4) == "DE"
    assert countries.country(None, GOOGLE_DNS_V6) == "FR"
    assert countries.country(None, APNIC_JP) == "JP"  # not in the file: the embedded table
    assert countries.country("NL", GOOGLE_DNS_V4) == "NL"  # the header still comes first

    _write_mmdb(path, {"8.8.8.0/24": "CH"})
    later = time.time() + 5
    os.utime(path, (later, later))
    assert countries.country(None, GOOGLE_DNS_V4) == "CH"
    countries.close()


def test_a_missing_or_broken_mmdb_falls_back_to_the_embedded_table(tmp_path: Path) -> None:
    assert CountryLookup(tmp_path / "absent.mmdb").country(None, GOOGLE_DNS_V4) == "US"
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a maxmind database")
    assert CountryLookup(broken).country(None, GOOGLE_DNS_V4) == "US"


async def _tap(app, code: str, ip: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=asgi_app(app), client=(ip, 51000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        return await c.get(f"/{code}", headers={"user-agent": IPHONE, **(headers or {})})


async def test_taps_get_the_country_of_their_ip_and_no_table_holds_the_ip(app, api) -> None:
    link = (await api.post("/api/links", json={"destination_url": "https://shop.example/", "channel": "sms"})).json()
    for ip in (GOOGLE_DNS_V4, APNIC_JP, GOOGLE_DNS_V6):
        assert (await _tap(app, link["code"], ip)).status_code == 302
    await app.state.recorder.flush()
    listed = (await api.get("/api/clicks", params={"link_id": link["id"]})).json()["items"]
    assert sorted(c["country"] for c in listed) == ["JP", "US", "US"]

    async with app.state.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = (await conn.execute(select(table))).all()
            dump = json.dumps([list(map(str, r)) for r in rows])
            for ip in (GOOGLE_DNS_V4, APNIC_JP, GOOGLE_DNS_V6):
                assert ip not in dump, (table.name, ip)


async def test_a_configured_header_and_mmdb_are_used_by_the_service(settings, tmp_path: Path) -> None:
    path = tmp_path / "dbip-country-lite.mmdb"
    _write_mmdb(path, {"8.8.8.0/24": "DE"})
    application = create_app(settings.model_copy(update={"geoip_db": path, "country_header": "CF-IPCountry"}))
    async with application.router.lifespan_context(application):
        async with application.state.sessionmaker() as session:
            _key, plain = await auth.create_api_key(session, "tests")
            await session.commit()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(application)), base_url=BASE_URL,
                                     headers={"Authorization": f"Bearer {plain}"}) as api:
            link = (await api.post("/api/links", json={"destination_url": "https://shop.example/", "channel": "sms"})).json()
            await _tap(application, link["code"], GOOGLE_DNS_V4)
            await _tap(application, link["code"], GOOGLE_DNS_V4, {"CF-IPCountry": "BR"})
            await application.state.recorder.flush()
            async with application.state.sessionmaker() as session:
                countries = (await session.scalars(select(Click.country).order_by(Click.click_id))).all()
    assert countries == ["DE", "BR"]


async def test_no_spool_line_holds_the_ip(tmp_path: Path) -> None:
    broken = create_engine(f"sqlite+aiosqlite:///{tmp_path}/missing-dir/x.db")
    try:
        recorder = Recorder(broken, tmp_path / "spool")
        for ip in (GOOGLE_DNS_V4, GOOGLE_DNS_V6):
            recorder.record(Hit(new_click_id(), 7, None, "sms", IPHONE, None, "0" * 32, None, False, False,
                                time.time(), ip=ip, query=b"fbclid=IwAR1"))
        await recorder.flush()
        assert recorder.stats.spooled == 2
        spooled = "".join(p.read_text() for p in (tmp_path / "spool").glob("*.jsonl"))
        assert GOOGLE_DNS_V4 not in spooled and GOOGLE_DNS_V6 not in spooled
        lines = [json.loads(line) for line in spooled.splitlines()]
        assert [line["country"] for line in lines] == ["US", "US"]
        assert lines[0]["ad_click_ids"] == {"fbclid": "IwAR1"}
    finally:
        await broken.dispose()
