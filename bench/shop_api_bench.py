"""The public shop lookup under gunicorn with 50,366 shops on MariaDB, against a trivial endpoint.

    .venv/bin/python bench/shop_api_bench.py [--seconds 15] [--connections 32]

A fresh MariaDB database (zhcg_bench_shop_api on 127.0.0.1:3306, dropped afterwards) is migrated and
seeded with the demo city and the generated registry of 50,366 shops with their plate codes. The
service runs as the README runs it in production (gunicorn -c gunicorn.conf.py wsgi:app). Then
wrk, on 127.0.0.1 only and bounded in time, loads GET /healthz and GET /api/v1/shops/{code} (a
random active shop's code per request, from a Lua script) in the same run, and the heat map of all
shops is timed. Rate limits are raised through the environment. Client and server share the
machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from report_submit_bench import (
    PY,
    ROOT,
    free_port,
    pair_ratios_line,
    run,
    start_server,
    worker_pids,
)

DB = "zhcg_bench_shop_api"
SHOPS = 50_366
SUMMARY_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests":%d,"seconds":%.3f,"p50_ms":%.2f,"p99_ms":%.2f,'
    .. '"max_ms":%.2f,"non2xx":%d,"errors":%d}\\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""
CODES_LUA = """
local codes = {}
init = function(args)
  for line in io.lines(args[1]) do codes[#codes + 1] = line end
  math.randomseed(os.time() + tonumber(tostring(codes):match("0x(%x+)") or "0", 16) % 100000)
end
request = function()
  return wrk.format("GET", "/api/v1/shops/" .. codes[math.random(#codes)])
end
"""

SEED_SHOPS = """
import sys
from sqlalchemy import func, select
from app import create_app
from app.extensions import db
from shops import codes
from shops.generate import seed_generated_shops
from shops.models import CodeStatus, Shop, ShopCode, ShopStatus
app = create_app()
with app.app_context():
    total = int(sys.argv[2])
    if db.session.scalar(select(func.count()).select_from(Shop)) < total:
        seed_generated_shops(total)
    codes.issue_missing()
    db.session.commit()
    rows = db.session.scalars(select(ShopCode.code).join(Shop, Shop.id == ShopCode.shop_id).where(
        ShopCode.status == CodeStatus.ACTIVE, Shop.status == ShopStatus.ACTIVE))
    active = list(rows)
    print(db.session.scalar(select(func.count()).select_from(Shop)), len(active))
    open(sys.argv[1], "w").write("\\n".join(active) + "\\n")
"""


def mariadb(sql: str) -> None:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", user="root")
    try:
        conn.cursor().execute(sql)
    finally:
        conn.close()


WRK_THREADS = 2


def wrk(url: str, seconds: float, connections: int, script: Path, *args: str) -> dict:
    """One wrk run; the figures its Lua ``done`` prints."""
    cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "5s",
           "-s", str(script), url, *(["--", *args] if args else [])]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    result = json.loads(line[6:])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def time_heatmap(base: str, query: str, rounds: int = 20) -> tuple[float, float]:
    """(median, max) milliseconds of the heat map over HTTP, after one warm-up call."""
    requests.get(f"{base}/api/v1/shops/heatmap{query}", timeout=30).raise_for_status()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        resp = requests.get(f"{base}/api/v1/shops/heatmap{query}", timeout=30)
        times.append((time.perf_counter() - t0) * 1000)
        resp.raise_for_status()
    return statistics.median(times), max(times)


def prepare(tmp: str) -> tuple[dict[str, str], Path, str]:
    """A fresh database with the demo city and 50,366 shops; (env, codes file, counts)."""
    mariadb(f"DROP DATABASE IF EXISTS {DB}")
    mariadb(f"CREATE DATABASE {DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    env = os.environ | {"FLASK_APP": "wsgi:app", "INSTANCE_DIR": tmp, "LOG_LEVEL": "WARNING",
                        "DATABASE_URL": f"mysql+pymysql://root@127.0.0.1:3306/{DB}?charset=utf8mb4",
                        "RATELIMIT_PUBLIC": "100000000/minute",
                        "RATELIMIT_SHOP_LOOKUP": "100000000/minute"}  # fmt: skip
    env.pop("REDIS_URL", None)
    run([str(PY / "flask"), "db", "upgrade"], env)
    run([str(PY / "flask"), "seed", "demo"], env)
    codes_file = Path(tmp) / "codes.txt"
    t0 = time.perf_counter()
    cmd = [str(PY / "python"), "-c", SEED_SHOPS, str(codes_file), str(SHOPS)]
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    shops, active = out.split()[-2:]
    print(f"registry: {shops} shops, {active} active codes ({time.perf_counter() - t0:.0f} s)")
    return env, codes_file, shops


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=6, help="healthz/shop pairs, alternating")
    ap.add_argument("--settle", type=float, default=10, help="seconds to wait after warm-up")
    ap.add_argument(
        "--wrk-threads",
        type=int,
        default=2,
        help="wrk's threads (each takes a share of the cores the server runs on)",
    )
    args = ap.parse_args()
    global WRK_THREADS
    WRK_THREADS = args.wrk_threads
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    tmp = tempfile.mkdtemp(prefix="zhcg-bench-shops-")
    env, codes_file, _ = prepare(tmp)
    summary_lua, codes_lua = Path(tmp) / "summary.lua", Path(tmp) / "codes.lua"
    summary_lua.write_text(SUMMARY_LUA)
    codes_lua.write_text(CODES_LUA + SUMMARY_LUA)
    port = free_port()
    proc = start_server(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wrk(base, 10, args.connections, codes_lua, str(codes_file))  # warm-up, discarded
        # The master builds every plate's view before forking (gunicorn.conf.py when_ready); the
        # pause only lets the warm-up's connections and the machine settle.
        time.sleep(args.settle)
        pairs = []
        for _ in range(args.rounds):  # alternate, so background noise shows in both
            ref = wrk(f"{base}/healthz", args.seconds, args.connections, summary_lua)
            shop = wrk(base, args.seconds, args.connections, codes_lua, str(codes_file))
            pairs.append((ref, shop))
        heat = [time_heatmap(base, q) for q in ("", "?industry=catering&cell=250")]
        report(env, proc, args, pairs, heat)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        mariadb(f"DROP DATABASE IF EXISTS {DB}")


HEADER = (
    "| round | endpoint | requests | per second | p50 ms | p99 ms | max ms | non-2xx | errors |"
)
NAMES = ("GET /healthz (reference)", "GET /api/v1/shops/{code}")


def report(env, proc, args, pairs: list[tuple[dict, dict]], heat: list) -> None:
    """Print the figures as a Markdown table."""
    workers = len(worker_pids(proc.pid))
    print(
        f"MariaDB; gunicorn {workers} workers x {env.get('GUNICORN_THREADS', '4')} threads "
        f"(gthread); wrk {WRK_THREADS} threads, {args.connections} connections, "
        f"{args.seconds:.0f} s each"
    )
    print(HEADER)
    print("| --- " * 9 + "|")
    for i, pair in enumerate(pairs, 1):
        for name, r in zip(NAMES, pair, strict=True):
            print(
                f"| {i} | {name} | {r['requests']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | "
                f"{r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['non2xx']} | {r['errors']} |"
            )
        ref, shop = pair
        print(f"| {i} | shop / healthz | | {shop['rps'] / ref['rps']:.0%} | | | | | |")
    # The host's speed drifts between slices: the sums over all alternating slices compare the
    # two endpoints under the same drift.
    total = [sum(p[k]["requests"] for p in pairs) / sum(p[k]["seconds"] for p in pairs)
             for k in (0, 1)]  # fmt: skip
    p99 = [statistics.median(p[k]["p99_ms"] for p in pairs) for k in (0, 1)]
    print(pair_ratios_line(pairs))
    print(
        f"all slices: healthz {total[0]:.0f} req/s, shop {total[1]:.0f} req/s, "
        f"ratio {total[1] / total[0]:.0%}; median p99: healthz {p99[0]:.1f} ms, "
        f"shop {p99[1]:.1f} ms"
    )
    print(
        "heat map over HTTP (median / max of 20 calls): "
        f"all trading shops, 500 m cells: {heat[0][0]:.1f} / {heat[0][1]:.1f} ms; "
        f"catering, 250 m cells: {heat[1][0]:.1f} / {heat[1][1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
