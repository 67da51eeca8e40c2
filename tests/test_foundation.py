"""The service starts, reports its health, guards its API, and keeps its secrets."""

from __future__ import annotations

import re
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from clicktrail.app import create_app
from clicktrail.auth import service as auth
from clicktrail.auth.models import ApiKey
from clicktrail.settings import Settings, async_database_url
from sqlalchemy import select, text

from clicktrail.db import create_engine

from conftest import BASE_URL


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200


async def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        database_url="postgresql://nobody@127.0.0.1:1/nothing",
        data_dir=tmp_path,
        secret_key="k",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
            assert (await c.get("/healthz")).status_code == 200
            ready = await c.get("/readyz")
    assert ready.status_code == 503
    assert "detail" in ready.json()


async def test_api_needs_a_valid_key(client: httpx.AsyncClient, api_key: str) -> None:
    assert (await client.get("/api/campaigns")).status_code == 401
    wrong = await client.get("/api/campaigns", headers={"Authorization": "Bearer ct_not-a-real-key"})
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "missing or invalid API key"}
    basic = await client.get("/api/campaigns", headers={"Authorization": f"Basic {api_key}"})
    assert basic.status_code == 401
    ok = await client.get("/api/campaigns", headers={"Authorization": f"Bearer {api_key}"})
    assert ok.status_code == 200
    assert ok.json()["items"] == []


async def test_api_keys_are_stored_only_as_hashes_and_can_be_revoked(app, client, api_key) -> None:
    async with app.state.sessionmaker() as session:
        keys = (await session.scalars(select(ApiKey))).all()
        assert len(keys) == 1
        assert api_key not in (keys[0].key_hash, keys[0].prefix)
        assert keys[0].last_used_at is None
    assert (await client.get("/api/campaigns", headers={"Authorization": f"Bearer {api_key}"})).status_code == 200
    async with app.state.sessionmaker() as session:
        key = (await session.scalars(select(ApiKey))).one()
        assert key.last_used_at is not None
        key.revoked_at = key.last_used_at
        await session.commit()
    assert (await client.get("/api/campaigns", headers={"Authorization": f"Bearer {api_key}"})).status_code == 401


async def test_passwords_are_argon2_hashed(app) -> None:
    async with app.state.sessionmaker() as session:
        user = await auth.create_user(session, " Owner@Example.com ", "correct horse battery")
        await session.commit()
    assert user.email == "owner@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert auth.verify_password(user.password_hash, "correct horse battery")
    assert not auth.verify_password(user.password_hash, "wrong")
    async with app.state.sessionmaker() as session:
        with pytest.raises(auth.EmailTaken):
            await auth.create_user(session, "owner@example.com", "another password")
        with pytest.raises(ValueError):
            await auth.create_user(session, "x@example.com", "short")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u:p@h:5433/db?sslmode=require", "postgresql+asyncpg://u:p@h:5433/db?ssl=require"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:////var/x.db", "sqlite+aiosqlite:////var/x.db"),
    ],
)
def test_database_urls_as_people_write_them(given: str, expected: str) -> None:
    assert async_database_url(given) == expected


def test_unsupported_database_url_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        async_database_url("mysql://x@y/z")


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(_env_file=None, data_dir=tmp_path).resolved_secret_key
    second = Settings(_env_file=None, data_dir=tmp_path).resolved_secret_key
    assert first == second and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert Settings(_env_file=None, data_dir=tmp_path / "other").resolved_secret_key != first


def test_cli_makes_an_api_key_that_the_api_accepts(tmp_path: Path) -> None:
    env = {"CLICKTRAIL_DATA_DIR": str(tmp_path), "PATH": "", "HOME": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "clicktrail.cli", "apikey", "create", "--name", "x"],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )
    key = run.stdout.strip().splitlines()[-1]
    assert key.startswith("ct_")
    users = subprocess.run(
        [sys.executable, "-m", "clicktrail.cli", "user", "create", "--email", "a@b.co", "--password", "longenough"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert users.returncode == 0, users.stderr
    again = subprocess.run(
        [sys.executable, "-m", "clicktrail.cli", "user", "create", "--email", "A@b.co", "--password", "longenough"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert again.returncode == 1 and "exists" in again.stderr

    import asyncio

    async def check() -> tuple[int, int]:
        app = create_app(Settings(_env_file=None, data_dir=tmp_path))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
                good = await c.get("/api/campaigns", headers={"Authorization": f"Bearer {key}"})
                bad = await c.get("/api/campaigns")
        return good.status_code, bad.status_code

    assert asyncio.run(check()) == (200, 401)


def test_serve_without_a_terminal_logs_a_setup_link_and_no_password(tmp_path: Path) -> None:
    import re
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"CLICKTRAIL_DATA_DIR": str(tmp_path), "PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "CLICKTRAIL_BASE_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen([sys.executable, "-m", "clicktrail.cli", "serve", "--port", str(port)], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = ""
        while "setup?token=" not in output:
            line = server.stdout.readline()
            assert line, output
            output += line
        link = re.search(r"(http://\S+/setup\?token=\S+)", output).group(1)
        assert "password:" not in output
        for _ in range(100):
            try:
                page = httpx.get(link, timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert page.status_code == 200 and "Create admin account" in page.text
        assert httpx.get(link.split("?")[0], timeout=2).status_code == 403  # no link, no setup
    finally:
        server.terminate()
        server.wait(15)


def test_cli_changes_a_password(tmp_path: Path) -> None:
    env = {"CLICKTRAIL_DATA_DIR": str(tmp_path), "PATH": "", "HOME": str(tmp_path)}
    cli = [sys.executable, "-m", "clicktrail.cli", "user"]
    subprocess.run([*cli, "create", "--email", "a@b.co", "--password", "longenough"], env=env, check=True,
                   capture_output=True, timeout=120)
    changed = subprocess.run([*cli, "password", "--email", "A@b.co", "--password", "another long one"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert changed.returncode == 0 and "signed out" in changed.stdout
    short = subprocess.run([*cli, "password", "--email", "a@b.co", "--password", "short"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert short.returncode == 1 and "8 characters" in short.stderr
    unknown = subprocess.run([*cli, "password", "--email", "x@b.co", "--password", "another long one"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 1

    async def check() -> bool:
        async with create_engine(async_database_url(f"sqlite:///{tmp_path / 'clicktrail.db'}")).connect() as conn:
            stored = (await conn.execute(text("SELECT password_hash FROM users"))).scalar()
        return auth.verify_password(stored, "another long one")

    import asyncio
    assert asyncio.run(check())


def _serve(tmp_path: Path, port: int, **env: str) -> tuple[subprocess.Popen, str]:
    """`clicktrail serve --port <port>` as a user starts it; returns the process and an API key."""
    base_env = {"CLICKTRAIL_DATA_DIR": str(tmp_path), "PATH": "", "HOME": str(tmp_path), "CLICKTRAIL_RATES_URL": "", **env}
    key = subprocess.run(
        [sys.executable, "-m", "clicktrail.cli", "apikey", "create", "--name", "x"],
        capture_output=True, text=True, env=base_env, timeout=120, check=True,
    ).stdout.strip().splitlines()[-1]
    process = subprocess.Popen(
        [sys.executable, "-m", "clicktrail.cli", "serve", "--port", str(port)],
        env=base_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, key
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"serve did not start: {process.communicate()}")


def _stop(process: subprocess.Popen) -> tuple[str, str]:
    process.terminate()
    return process.communicate(timeout=30)


def test_serve_on_another_port_hands_out_links_on_that_port(tmp_path: Path) -> None:
    import io

    import zxingcpp
    from PIL import Image

    port = _free_port()
    process, key = _serve(tmp_path, port)
    base, auth_header = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}
    try:
        campaign = httpx.post(f"{base}/api/campaigns", headers=auth_header, json={
            "name": "Port", "destination_url": "https://shop.example/", "channels": ["whatsapp"]}).json()
        link = campaign["links"][0]
        assert link["short_url"] == f"{base}/{link['code']}"
        png = httpx.get(f"{base}/api/links/{link['id']}/qr?format=png", headers=auth_header)
        assert [b.text for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))] == [link["short_url"] + "?qr=1"]
        assert httpx.get(link["short_url"]).status_code == 302  # the printed link answers
        source = httpx.post(f"{base}/api/sources", headers=auth_header, json={"name": "Shop", "platform": "generic"})
        assert source.json()["webhook_url"] == f"{base}/webhooks/{source.json()['id']}"
    finally:
        out, err = _stop(process)
    assert f"use {base}" in out
    assert "warning" not in err


def test_serve_warns_when_the_base_url_names_another_port(tmp_path: Path) -> None:
    port = _free_port()
    process, key = _serve(tmp_path, port, CLICKTRAIL_BASE_URL="http://127.0.0.1:8000")
    try:
        link = httpx.post(f"http://127.0.0.1:{port}/api/links", headers={"Authorization": f"Bearer {key}"},
                          json={"destination_url": "https://shop.example/", "channel": "sms"}).json()
        assert link["short_url"].startswith("http://127.0.0.1:8000/")  # as configured: a proxy may forward it
    finally:
        _out, err = _stop(process)
    assert f"warning: CLICKTRAIL_BASE_URL is http://127.0.0.1:8000, but this server listens on port {port}" in err


def test_base_url_warning_of_the_settings() -> None:
    served = "http://127.0.0.1:8141"
    assert Settings(_env_file=None, served_url=served).base_url == served
    assert Settings(_env_file=None, served_url=served).base_url_warning is None
    assert Settings(_env_file=None, served_url=served, base_url="http://127.0.0.1:8141/").base_url_warning is None
    assert "port 8141" in Settings(_env_file=None, served_url=served, base_url="http://localhost:8000").base_url_warning
    assert Settings(_env_file=None, base_url="http://localhost:8000").base_url_warning is None  # not serving


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_docs_load_their_scripts_from_the_package_not_a_cdn(client: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        scripts = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert scripts and all(s.startswith("/docs/assets/") for s in scripts), scripts
        for asset in scripts:
            served = await client.get(asset)
            assert served.status_code == 200 and len(served.content) > 100, asset
    js = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"]
    assert (await client.get("/openapi.json")).json()["openapi"].startswith("3.1")
