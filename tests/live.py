"""A real server for tests that need one: `clicktrail` CLI for set-up, uvicorn serving the real
app (app_factory) on a free loopback port, as `clicktrail serve` does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "clicktrail.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(data: Path, database_url: str, port: int, **extra: str) -> dict[str, str]:
    return {**os.environ, "CLICKTRAIL_DATA_DIR": str(data), "CLICKTRAIL_BASE_URL": f"http://127.0.0.1:{port}",
            "CLICKTRAIL_DATABASE_URL": database_url, "CLICKTRAIL_SECRET_KEY": "live-test-secret", **extra}


def cli(env: dict[str, str], *args: str) -> str:
    """Run a CLI command; its last line of output."""
    done = subprocess.run([*CLI, *args], env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@contextmanager
def serve(env: dict[str, str], port: int, log_path: Path, workers: int = 1) -> Iterator[subprocess.Popen]:
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "clicktrail.app:app_factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--workers", str(workers),
         # As `clicktrail serve` runs it (serving.py): the same loop and bounded HTTP protocol.
         "--loop", "uvloop", "--http", "clicktrail.serving:BoundedHttpToolsProtocol", "--no-access-log"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the server did not start: " + log_path.read_text())
            time.sleep(0.05)
        if workers > 1:
            time.sleep(1.5)  # every worker up, not only the first
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
