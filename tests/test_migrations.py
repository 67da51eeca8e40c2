"""The migrations build exactly the schema the models describe, and can be undone."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from clicktrail import migrate
from clicktrail.clicks.partitions import is_partition_name
from clicktrail.db import create_engine
from clicktrail.models import Base

from conftest import Backend


async def _diff_and_tables(url: str) -> tuple[list, set[str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            def inspect_sync(sync_conn):
                # Click partitions (PostgreSQL) are tables of the database, not models.
                def include_name(name, type_, _parent) -> bool:
                    return not (type_ == "table" and is_partition_name(name))

                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True, "include_name": include_name})
                tables = {t for t in inspect(sync_conn).get_table_names() if not is_partition_name(t)}
                return compare_metadata(ctx, Base.metadata), tables

            return await conn.run_sync(inspect_sync)
    finally:
        await engine.dispose()


def test_upgrade_head_matches_models_and_downgrade_base_works(backend: Backend) -> None:
    url = backend.new_database()
    migrate.upgrade(url)
    diff, tables = asyncio.run(_diff_and_tables(url))
    assert diff == [], f"models and migrations disagree: {diff}"
    assert {t.name for t in Base.metadata.sorted_tables} <= tables

    migrate.downgrade(url, "base")
    _diff, tables = asyncio.run(_diff_and_tables(url))
    assert tables <= {"alembic_version"}

    migrate.upgrade(url)  # and back up again: downgrades leave nothing behind that blocks it
    diff, _tables = asyncio.run(_diff_and_tables(url))
    assert diff == []


# -- an installation of 0.1, with data, upgraded into workspaces and back --------------------

V01 = "5e7a0c2d9b41"  # the last revision of release 0.1
OLD_KEY = "ct_" + "k" * 43  # a key made by 0.1; only its SHA-256 is stored


def _sql_time(url: str, at: str):
    from datetime import datetime, timezone

    return datetime.fromisoformat(at).replace(tzinfo=timezone.utc) if "postgresql" in url else at


async def _fill_v01(url: str) -> None:
    import hashlib

    from sqlalchemy import text

    engine = create_engine(url)
    now = _sql_time(url, "2026-11-30 12:00:00")
    rows = [
        ("INSERT INTO users (id, email, password_hash, is_admin, failed_logins, created_at) VALUES "
         "(1, 'owner@shop.example', 'x', true, 0, :now), (2, 'staff@shop.example', 'x', false, 0, :now)", {}),
        ("INSERT INTO api_keys (id, name, prefix, key_hash, user_id, created_at) VALUES (1, 'old', 'ct_kkkkkkk', :h, 1, :now)",
         {"h": hashlib.sha256(OLD_KEY.encode()).hexdigest()}),
        ("INSERT INTO campaigns (id, name, slug, destination_url, created_at, updated_at) VALUES "
         "(1, 'Spring', 'spring', 'https://shop.example/spring', :now, :now)", {}),
        ("INSERT INTO links (id, nonce, slug, campaign_id, destination_url, channel, utm_source, utm_campaign, "
         "coupon_code, click_count, disabled, created_at, updated_at) VALUES "
         "(1, 7, 'spring-wa', 1, 'https://shop.example/spring', 'whatsapp', 'whatsapp', 'spring', 'SPRING10', 2, false, :now, :now)", {}),
        ("INSERT INTO clicks (click_id, link_id, campaign_id, kind, channel, device, visitor_hash, is_qr, occurred_at) VALUES "
         "('oldclick1', 1, 1, 'click', 'whatsapp', 'mobile', :v1, false, :now), "
         "('oldclick2', 1, 1, 'click', 'whatsapp', 'mobile', :v2, false, :now)", {"v1": "a" * 32, "v2": "b" * 32}),
        ("INSERT INTO order_sources (id, name, platform, secret, created_at) VALUES (1, 'Shop', 'generic', 's3cret', :now)", {}),
        ("INSERT INTO orders (id, source_id, external_id, amount_minor, refunded_minor, currency, status, ordered_at, "
         "received_at, updated_at, attribution_state, attribution_method, link_id, campaign_id, channel, raw_payload) VALUES "
         "(1, 1, 'A-1', 4990, 0, 'EUR', 'paid', :now, :now, :now, 'attributed', 'coupon', 1, 1, 'whatsapp', '{}')", {}),
    ]
    try:
        async with engine.begin() as conn:
            for sql, params in rows:
                await conn.execute(text(sql), {"now": now, **params})
    finally:
        await engine.dispose()


async def _rows(url: str, sql: str) -> list[tuple]:
    from sqlalchemy import text

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(text(sql))).all()]
    finally:
        await engine.dispose()


async def _use_upgraded(url: str, tmp_path) -> None:
    """The upgraded installation works as before: the old key, in the default workspace."""
    import httpx

    from clicktrail.app import asgi_app, create_app
    from clicktrail.settings import Settings

    settings = Settings(_env_file=None, database_url=url, data_dir=tmp_path / "data", base_url="http://ct.test",
                        secret_key="test-secret-key-not-for-production", rates_url="")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app(app)), base_url="http://ct.test",
                                     headers={"Authorization": f"Bearer {OLD_KEY}"}) as api:
            workspace = (await api.get("/api/workspace")).json()
            assert workspace["slug"] == "default"
            [campaign] = (await api.get("/api/campaigns")).json()["items"]
            assert campaign["slug"] == "spring" and campaign["links"][0]["code"] == "spring-wa"
            report = (await api.get("/api/reports/campaigns/1", params={"from": "2026-11-01", "to": "2026-12-01"})).json()
            assert report["totals"]["clicks"] == 2 and report["totals"]["orders"] == 1
            [order] = (await api.get("/api/orders")).json()["items"]
            assert order["external_id"] == "A-1"
            redirect = await api.get("/spring-wa")
            assert redirect.status_code == 302 and redirect.headers["location"].startswith("https://shop.example/spring")
            roles = {m["email"]: m["role"] for m in (await api.get("/api/members")).json()["items"]}
            assert roles == {"owner@shop.example": "owner", "staff@shop.example": "editor"}


def test_an_installation_of_0_1_moves_into_one_default_workspace_and_back(backend: Backend, tmp_path) -> None:
    url = backend.new_database()
    migrate.upgrade(url, V01)
    asyncio.run(_fill_v01(url))

    migrate.upgrade(url)
    assert asyncio.run(_rows(url, "SELECT id, slug, name FROM workspaces")) == [(1, "default", "Default")]
    for table in ("campaigns", "links", "clicks", "order_sources", "orders", "api_keys", "click_rollups"):
        assert asyncio.run(_rows(url, f"SELECT DISTINCT workspace_id FROM {table}")) == [(1,)], table
    asyncio.run(_use_upgraded(url, tmp_path))

    migrate.downgrade(url, V01)
    assert asyncio.run(_rows(url, "SELECT slug FROM links")) == [("spring-wa",)]
    assert asyncio.run(_rows(url, "SELECT count(*) FROM clicks")) == [(3,)]  # the two of 0.1 and the tap above
    assert asyncio.run(_rows(url, "SELECT external_id FROM orders")) == [("A-1",)]
    assert asyncio.run(_rows(url, "SELECT name FROM api_keys")) == [("old",)]
    migrate.upgrade(url)  # and up again, with the same data
    assert asyncio.run(_rows(url, "SELECT workspace_id, slug FROM campaigns")) == [(1, "spring")]
