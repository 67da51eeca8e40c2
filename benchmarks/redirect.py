"""Redirect throughput: Clicktrail against a bare Starlette 302, same server settings, same run.

    python benchmarks/redirect.py [--duration 15] [--connections 50] [--mode pinned|unpinned|both]
                                  [--domain default|default-with-branded|branded]

Needs wrk (Debian: apt-get install wrk) and PostgreSQL (CLICKTRAIL_BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/postgres; a scratch database is created and dropped).
Pinned: the servers run with one worker on CPU 0, wrk on CPU 1; unpinned: the kernel places
them. Realistic user agents, a fifth of them distinct strings. Both servers run under the same
uvicorn options (serving.py). Prints requests/s, p50/p99/p99.9 for both, the ratios, the worst
event-loop stall of Clicktrail (its loop monitor), and clicks found in the database against
redirects answered. --domain: the taps go to the default domain with no branded domain at all
(default), with one registered, so every request's Host is looked up (default-with-branded), or
to a link on that branded domain, with its Host (branded).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret"
BRANDED = "go.bench.test"  # a branded short domain (--domain)

LUA = r"""
local uas = {
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/448.0.0.41.111;FBBV/123;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.3.1;FBSS/3;FBCR/;FBID/phone;FBLC/en_US;FBOP/80]",
  "Mozilla/5.0 (Linux; Android 13; SM-S911B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/445.0.0.34.118;]",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 312.0.0.32.112 (iPhone15,3; iOS 17_2; en_US; en; scale=3.00; 1290x2796; 548339486)",
  "Mozilla/5.0 (Linux; Android 12; M2102J20SG Build/SKQ1.211006.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160027 MMWEBSDK/20230805 MMWEBID/2652 MicroMessenger/8.0.42.2460(0x28002A58) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.6167.101 Mobile Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36",
  "WhatsApp/2.23.20.0 A",
  "TelegramBot (like TwitterBot)",
  "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
}
local path = os.getenv("BENCH_PATH") or "/x"
local host = os.getenv("BENCH_HOST")
local n = 0
done = function(summary, latency, requests)
  io.write(string.format("P999 %d\n", latency:percentile(99.9)))
end
request = function()
  n = n + 1
  local ua = uas[math.random(#uas)]
  if math.random() < 0.2 then
    ua = ua .. " build/" .. tostring(math.random(1, 1000000000))
  end
  local headers = {["User-Agent"] = ua}
  if host and host ~= "" then headers["Host"] = host end
  return wrk.format("GET", path, headers)
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not start")


def pin(cpu: int | None):
    def apply() -> None:
        if cpu is not None and hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
            os.sched_setaffinity(0, {cpu})
    return apply


def run_wrk(port: int, path: str, duration: int, connections: int, lua: Path, cpu: int | None,
            host: str = "") -> dict:
    env = {**os.environ, "BENCH_PATH": path, "BENCH_HOST": host}
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(lua), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, env=env, preexec_fn=pin(cpu), check=True,
    ).stdout

    def grab(pattern: str, default: str = "0") -> str:
        m = re.search(pattern, out, re.M)
        return m.group(1) if m else default

    def ms(value: str) -> float:
        number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    total = int(grab(r"(\d+) requests in"))
    bad = int(grab(r"Non-2xx or 3xx responses: (\d+)"))
    return {
        "rps": float(grab(r"Requests/sec:\s+([\d.]+)")),
        "p50": ms(grab(r"^\s+50%\s+(\S+)", "0us")),
        "p99": ms(grab(r"^\s+99%\s+(\S+)", "0us")),
        "p999": int(grab(r"P999 (\d+)")) / 1000,
        "answered": total - bad,
        "errors": bad + sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)),
    }


async def pg(url: str, sql: str, *args):
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def scratch_database() -> tuple[str, str, str]:
    """(admin URL, name, URL) of a new, empty PostgreSQL database for one run."""
    admin = os.environ.get("CLICKTRAIL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    db = f"clicktrail_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(pg(admin, f'CREATE DATABASE "{db}"'))
    return admin, db, admin.rsplit("/", 1)[0] + f"/{db}"


def serve(env: dict[str, str], port: int, python: str = sys.executable) -> subprocess.Popen:
    """`clicktrail serve` with one worker on CPU 0 (wrk gets CPU 1)."""
    clicktrail = ROOT / ".venv/bin/clicktrail"
    command = [str(clicktrail)] if clicktrail.exists() else [python, "-m", "clicktrail.cli"]
    return subprocess.Popen([*command, "serve", "--port", str(port), "--workers", "1"], env=env,
                            preexec_fn=pin(0), stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--mode", choices=["pinned", "unpinned", "both"], default="both")
    parser.add_argument("--domain", choices=["default", "default-with-branded", "branded"], default="default",
                        help="where the taps go (see above)")
    parser.add_argument("--http", default="clicktrail.serving:BoundedHttpToolsProtocol",
                        help="uvicorn --http for the baseline (httptools to compare with a version before serving.py)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    admin = os.environ.get("CLICKTRAIL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    db = f"clicktrail_bench_{uuid.uuid4().hex[:8]}"
    db_url = admin.rsplit("/", 1)[0] + f"/{db}"
    asyncio.run(pg(admin, f'CREATE DATABASE "{db}"'))
    tmp = Path(tempfile.mkdtemp(prefix="clicktrail-bench-"))
    lua = tmp / "ua.lua"
    lua.write_text(LUA)
    env = {**os.environ, "CLICKTRAIL_DATABASE_URL": db_url, "CLICKTRAIL_DATA_DIR": str(tmp / "data"),
           "CLICKTRAIL_SECRET_KEY": SECRET, "CLICKTRAIL_LOG_LEVEL": "warning"}
    sys.path.insert(0, str(ROOT / "src"))
    from clicktrail import migrate
    from clicktrail.links.codes import CodeCodec
    from clicktrail.settings import async_database_url

    modes = ["unpinned", "pinned"] if args.mode == "both" else [args.mode]
    rounds = {}
    try:
        migrate.upgrade(async_database_url(db_url))
        link_id = asyncio.run(pg(
            db_url,
            # In the default workspace (id 1), which the migrations make.
            "INSERT INTO links (workspace_id, nonce, destination_url, channel, utm_source, utm_medium, utm_campaign, "
            "click_count, disabled, created_at, updated_at) VALUES (1, 4242, 'https://shop.example/p?color=red', "
            "'whatsapp', 'whatsapp', 'social', 'bench', 0, false, now(), now()) RETURNING id",
        ))
        code = CodeCodec(SECRET).encode(link_id, 4242)
        host = ""
        if args.domain != "default":
            asyncio.run(pg(db_url, f"INSERT INTO domains (workspace_id, host, created_at) VALUES (1, '{BRANDED}', now())"))
        if args.domain == "branded":
            link_id = asyncio.run(pg(
                db_url,
                "INSERT INTO links (workspace_id, domain, nonce, destination_url, channel, utm_source, utm_medium, "
                "utm_campaign, click_count, disabled, created_at, updated_at) VALUES (1, $1, 4343, "
                "'https://shop.example/p?color=blue', 'whatsapp', 'whatsapp', 'social', 'bench', 0, false, now(), now()) "
                "RETURNING id", BRANDED,
            ))
            code, host = CodeCodec(SECRET).encode(link_id, 4343), BRANDED
        for mode in modes:
            rounds[mode] = one_round(args, code, env, lua, tmp, pinned=mode == "pinned", host=host)
        answered = sum(r["answered"] for r in rounds.values())
        clicks = asyncio.run(pg(db_url, "SELECT count(*) FROM clicks"))
        kinds = asyncio.run(pg(db_url, "SELECT string_agg(kind || '=' || n, ' ') FROM (SELECT kind, count(*) n FROM clicks GROUP BY kind ORDER BY kind) k"))
    finally:
        asyncio.run(pg(admin, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        shutil.rmtree(tmp, ignore_errors=True)

    failed = False
    for mode, r in rounds.items():
        a, b = r["a"], r["b"]
        where = "servers on CPU 0, wrk on CPU 1" if mode == "pinned" else "unpinned"
        print(f"\nredirect benchmark ({mode}, {args.domain} domain): 1 worker, {args.connections} connections, "
              f"{args.duration}s, {where}")
        print(f"{'':34}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}{'errors':>8}")
        for label, x in (("(a) bare Starlette 302", a), ("(b) Clicktrail, PostgreSQL", b)):
            print(f"{label:34}{x['rps']:>10.0f}{x['p50']:>9.2f}{x['p99']:>9.2f}{x['p999']:>10.2f}{x['errors']:>8}")
        ratio, tail = b["rps"] / a["rps"], b["p99"] / max(a["p99"], 0.001)
        target = 0.5 if mode == "pinned" else 0.9
        print(f"throughput b/a: {ratio:.2f} (target >= {target}); p99 b/a: {tail:.2f} (target <= 3)")
        print(f"Clicktrail's {r['stall']}")
        failed |= ratio < target or tail > 3
    print(f"\nredirects answered (wrk, incl. warm-ups): {answered}; hits in the database: {clicks} ({kinds})")
    missing = max(0, answered - clicks)
    print(f"clicks missing: {missing} (target 0; the database may hold a few more than wrk counted: "
          f"requests answered as wrk's clock ran out)")
    sys.exit(1 if missing or failed else 0)


def one_round(args: argparse.Namespace, code: str, env: dict, lua: Path, tmp: Path, *, pinned: bool,
              host: str = "") -> dict:
    server_cpu, wrk_cpu = (0, 1) if pinned else (None, None)
    python = sys.executable
    # The same protocol, loop and logging for both servers (what `clicktrail serve` runs).
    server_opts = ["--loop", "uvloop", "--http", args.http, "--no-access-log",
                   "--log-level", "warning"]
    result: dict = {}
    port = free_port()
    baseline = subprocess.Popen(
        [python, "-m", "uvicorn", "baseline_app:app", "--port", str(port), *server_opts],
        cwd=ROOT / "benchmarks", preexec_fn=pin(server_cpu),
    )
    try:
        wait_for(port)
        run_wrk(port, f"/{code}", 2, args.connections, lua, wrk_cpu)  # warm-up
        result["a"] = run_wrk(port, f"/{code}", args.duration, args.connections, lua, wrk_cpu)
    finally:
        baseline.terminate()
        baseline.wait()

    port = free_port()
    clicktrail = ROOT / ".venv/bin/clicktrail"
    command = [str(clicktrail)] if clicktrail.exists() else [python, "-m", "clicktrail.cli"]
    log_path = tmp / f"server-{'pinned' if pinned else 'unpinned'}.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([*command, "serve", "--port", str(port), "--workers", "1"],
                                  env={**env, "CLICKTRAIL_LOOP_MONITOR": "true"},
                                  preexec_fn=pin(server_cpu), stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(port)
            warm = run_wrk(port, f"/{code}", 2, args.connections, lua, wrk_cpu, host)
            result["b"] = run_wrk(port, f"/{code}", args.duration, args.connections, lua, wrk_cpu, host)
        finally:
            server.send_signal(signal.SIGTERM)  # graceful: the lifespan drains the click buffer
            server.wait(timeout=60)
    stall = re.search(r"event loop: worst stall .*", log_path.read_text())
    result["stall"] = stall.group(0) if stall else "event loop: no stall figure (no loop monitor in this version)"
    result["answered"] = warm["answered"] + result["b"]["answered"]
    return result


if __name__ == "__main__":
    main()
