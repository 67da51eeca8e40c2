"""Reverse proxies (API.md: What a tap tells, CLICKTRAIL_FORWARDED_ALLOW_IPS): X-Forwarded-For and
-Proto are believed from the proxies listed, IPs or CIDRs, and from no one else. The app is served
the way `clicktrail serve` serves it: uvicorn's config with our proxy options, in every worker."""

from __future__ import annotations

import logging

import httpx
import pytest
import uvicorn
from pydantic import ValidationError
from sqlalchemy import select

from clicktrail.app import asgi_app
from clicktrail.cli import proxy_options
from clicktrail.clicks.models import Click
from clicktrail.clicks.proxies import UntrustedProxyWatch
from clicktrail.settings import Settings
from conftest import BASE_URL

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3.1 Mobile/15E148 Safari/604.1"


def _served(app, settings: Settings):
    config = uvicorn.Config(asgi_app(app), **proxy_options(settings))
    config.load()
    return config.loaded_app


async def _tap(served, code: str, peer: str, forwarded_for: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=served, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        return await c.get(f"/{code}", headers={"user-agent": IPHONE, "x-forwarded-for": forwarded_for})


async def _countries_and_visitors(app) -> list[tuple[str | None, str | None]]:
    await app.state.recorder.flush()
    async with app.state.sessionmaker() as session:
        return [tuple(r) for r in (await session.execute(select(Click.country, Click.visitor_hash).order_by(Click.click_id))).all()]


@pytest.mark.parametrize("trusted", ["10.0.0.0/8", "10.1.2.3"])
async def test_forwarded_for_is_believed_from_a_trusted_proxy_and_ignored_from_others(app, api, settings, trusted) -> None:
    served = _served(app, settings.model_copy(update={"forwarded_allow_ips": f"127.0.0.1,::1,{trusted}"}))
    link = (await api.post("/api/links", json={"destination_url": "https://shop.example/", "channel": "sms"})).json()
    # Through the trusted proxy: two people, two countries, two visitors.
    await _tap(served, link["code"], "10.1.2.3", "8.8.8.8")
    await _tap(served, link["code"], "10.1.2.3", "1.0.16.1")
    trusted_taps = await _countries_and_visitors(app)
    assert sorted(country for country, _ in trusted_taps) == ["JP", "US"]
    assert len({visitor for _, visitor in trusted_taps}) == 2
    # Someone else sending the header: not believed; the peer itself is the client.
    await _tap(served, link["code"], "192.0.2.50", "1.0.16.1")  # TEST-NET: no country
    [(spoofed, spoofed_visitor)] = [t for t in await _countries_and_visitors(app) if t not in trusted_taps]
    assert spoofed is None and spoofed_visitor not in {visitor for _, visitor in trusted_taps}


async def test_by_default_only_loopback_proxies_are_believed(app, api, settings) -> None:
    served = _served(app, settings)
    link = (await api.post("/api/links", json={"destination_url": "https://shop.example/", "channel": "sms"})).json()
    await _tap(served, link["code"], "127.0.0.1", "8.8.8.8")
    assert [country for country, _ in await _countries_and_visitors(app)] == ["US"]
    await _tap(served, link["code"], "10.1.2.3", "8.8.8.8")
    assert sorted(str(country) for country, _ in await _countries_and_visitors(app)) == ["None", "US"]


async def test_forwarded_proto_is_believed_from_a_trusted_proxy_only(settings) -> None:
    seen: list[str] = []

    async def echo(scope, receive, send):
        seen.append(scope["scheme"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = uvicorn.Config(echo, **proxy_options(settings.model_copy(update={"forwarded_allow_ips": "10.0.0.0/8"})))
    config.load()
    for peer in ("10.9.9.9", "203.0.113.9"):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=config.loaded_app, client=(peer, 1)), base_url=BASE_URL) as c:
            await c.get("/", headers={"x-forwarded-proto": "https"})
    assert seen == ["https", "http"]


def test_the_setting_refuses_what_is_not_an_ip_or_cidr() -> None:
    assert Settings(_env_file=None, forwarded_allow_ips=" 10.0.0.0/8 , ::1 ").forwarded_allow_ips == "10.0.0.0/8,::1"
    with pytest.raises(ValidationError, match="proxy.example"):
        Settings(_env_file=None, forwarded_allow_ips="127.0.0.1,proxy.example")


def test_a_warning_when_the_last_thousand_hits_came_from_one_private_address(caplog) -> None:
    watch = UntrustedProxyWatch()
    with caplog.at_level(logging.WARNING, logger="clicktrail.proxies"):
        for _ in range(999):
            watch.saw("172.18.0.5")
        assert not caplog.records
        watch.saw("172.18.0.5")
        assert "CLICKTRAIL_FORWARDED_ALLOW_IPS" in caplog.text and "172.18.0.5" in caplog.text
        for _ in range(5000):
            watch.saw("172.18.0.5")  # once is enough
        for ip in ["8.8.8.8"] * 1000 + ["127.0.0.1"] * 1000:
            watch.saw(ip)  # a public address or loopback: not a hidden proxy
    assert len(caplog.records) == 1
