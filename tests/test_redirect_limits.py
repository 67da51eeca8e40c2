"""The redirect against the real server: promises kept under hostile input and under load."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from live import cli, environment, free_port, serve

BROWSER = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/17.4 Mobile/15E148 Safari/604.1")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def _new_link(base: str, key: str, **fields) -> dict:
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}) as api:
        made = await api.post("/api/links", json={"destination_url": "https://shop.example/p", "channel": "whatsapp",
                                                  **fields})
        assert made.status_code == 201, made.text
        return made.json()


REFUSED_MID_SEND = 0


def _raw_tap(port: int, path: str, user_agent: bytes) -> int:
    """One request as an attacker sends it: raw bytes, then the connection closed. The server
    may answer 431 and close while the rest is still being sent: then the send breaks off."""
    request = b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + user_agent + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        try:
            s.sendall(request)
            return int(s.recv(64).split(b" ")[1])
        except (BrokenPipeError, ConnectionResetError):
            return REFUSED_MID_SEND


def test_forty_one_megabyte_user_agents_cost_no_memory_and_never_stall_healthz(backend, tmp_path: Path) -> None:
    port = free_port()
    env = environment(tmp_path / "data", backend.new_database(), port)
    cli(env, "migrate")
    key = cli(env, "apikey", "create", "--name", "load")
    base = f"http://127.0.0.1:{port}"
    with serve(env, port, tmp_path / "server.log") as process:
        link = asyncio.run(_new_link(base, key, slug="big-ua"))
        with httpx.Client(base_url=base, timeout=30) as client:
            # Warm up: the link cached, clicks written (the recorder loads its parsers on its first
            # batch), a first 431 answered: the process at its working size.
            for _ in range(2):
                for _ in range(20):
                    client.get("/big-ua", headers={"User-Agent": BROWSER})
                    client.get("/healthz")
                _raw_tap(port, "/big-ua", b"x" * 20_000)
                time.sleep(1.0)
            before = rss_kib(process.pid)
            worst, stop = 0.0, threading.Event()

            def probe() -> None:
                nonlocal worst
                while not stop.is_set():
                    started = time.monotonic()
                    assert client.get("/healthz").status_code == 200
                    worst = max(worst, time.monotonic() - started)
                    time.sleep(0.02)

            prober = threading.Thread(target=probe)
            prober.start()
            user_agents = [f"Mozilla/5.0 {i} ".encode() + bytes([65 + i % 26]) * (1024 * 1024) for i in range(40)]
            with ThreadPoolExecutor(4) as pool:  # four at a time, as one client with a few connections
                statuses = list(pool.map(lambda ua: _raw_tap(port, f"/{link['code']}", ua), user_agents))
            stop.set()
            prober.join()
            grown_kib = rss_kib(process.pid) - before
    print(f"memory grew by {grown_kib} KiB; /healthz at worst {worst * 1000:.0f} ms")
    # Headers over 16 KiB: refused (431, or cut off mid-send) before anything holds them.
    assert set(statuses) <= {431, REFUSED_MID_SEND} and 431 in statuses
    assert grown_kib < 30 * 1024, f"memory grew by {grown_kib} KiB"
    assert worst < 0.5, f"/healthz took {worst:.3f} s"


@pytest.mark.postgres_only
def test_a_click_limit_of_50_lets_exactly_50_of_200_concurrent_taps_through_two_workers(backend, tmp_path: Path) -> None:
    port = free_port()
    env = environment(tmp_path / "data", backend.new_database(), port)
    cli(env, "migrate")
    key = cli(env, "apikey", "create", "--name", "load")
    base = f"http://127.0.0.1:{port}"

    async def taps() -> list[int]:
        link = await _new_link(base, key, max_clicks=50)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
            answers = await asyncio.gather(*(
                client.get(f"/{link['code']}", headers={"User-Agent": BROWSER}) for _ in range(200)))
        return [a.status_code for a in answers]

    with serve(env, port, tmp_path / "server.log", workers=2):
        statuses = asyncio.run(taps())
    assert statuses.count(302) == 50, sorted(set(statuses))
    assert statuses.count(410) == 150
