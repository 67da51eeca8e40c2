"""Schemathesis over the whole OpenAPI document, against the real server on each engine: no
5xx for anything it generates, and every answer has a documented status and matches its schema.

Sized for the full test command to stay within its time on a 2-core machine; raise
CLICKTRAIL_FUZZ_EXAMPLES to search longer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from live import cli, environment, free_port, serve

EXAMPLES = os.environ.get("CLICKTRAIL_FUZZ_EXAMPLES", "40")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_schemathesis_finds_no_5xx_and_no_undocumented_answer(backend, tmp_path: Path) -> None:
    database_url = backend.new_database()
    port = free_port()
    env = environment(tmp_path / "data", database_url, port)
    cli(env, "migrate")
    key = cli(env, "apikey", "create", "--name", "fuzz")
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    with serve(env, port, tmp_path / "server.log"):
        run = subprocess.run(
            [st, "run", f"http://127.0.0.1:{port}/openapi.json", "--header", f"Authorization: Bearer {key}",
             "--checks", CHECKS, "--phases", "examples,fuzzing", "--max-examples", EXAMPLES,
             "--workers", "1", "--seed", "20261204", "--suppress-health-check", "all", "--request-timeout", "10"],
            capture_output=True, text=True, timeout=int(os.environ.get("CLICKTRAIL_FUZZ_TIMEOUT", "400")),
        )
    log = (tmp_path / "server.log").read_text()
    assert run.returncode == 0, run.stdout[-12000:] + "\n--- server log ---\n" + log[-4000:]
    assert "Traceback" not in log, log[-4000:]
