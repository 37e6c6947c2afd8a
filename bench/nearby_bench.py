"""Nearest-facility search at 1,000,000 facilities: in process, in MariaDB, and over HTTP.

    .venv/bin/python bench/nearby_bench.py [--facilities 1000000] [--queries 20000]
                                           [--skip-mariadb] [--skip-http] [--seconds 10]

1. In process: the index (services_nearby.index) over N synthetic facilities of one kind spread
   uniformly over Shenyang's urban area (the worst case: every facility in one kind), timing each
   nearest-10 query on its own; beside it, in the same run, the brute-force scan the tests compare
   with and scipy's cKDTree alone. Every answer of a sample is checked against the scan.
2. MariaDB: the same points in a table with a SPATIAL index, nearest 10 by ST_Distance_Sphere inside
   a box that widens until it holds 10 points whose 10th distance is inside the box's inscribed
   circle (an exact method); per-query latency through pymysql, and agreement with the index.
3. HTTP: the app's facilities table on MariaDB filled with the N facilities, gunicorn as the README
   runs it, wrk alternating GET /healthz and GET /api/v1/nearby (random points, nearest 10) in
   short slices; throughput ratio and latency.
Everything runs on 127.0.0.1; databases are dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

BOX = (41.68, 41.92, 123.25, 123.58)  # lat0, lat1, lng0, lng1 (WGS-84): Shenyang's urban area
DB_SPATIAL = "zhcg_bench_nearby_spatial"
DB_APP = "zhcg_bench_nearby_app"


def points(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(BOX[0], BOX[1], n), rng.uniform(BOX[2], BOX[3], n)


def queries(n: int, seed: int = 2) -> list[tuple[float, float]]:
    lat, lng = points(n, seed)
    return list(zip(lat.tolist(), lng.tolist(), strict=True))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def timed(fn, qs) -> list[float]:
    out = []
    for q in qs:
        t0 = time.perf_counter_ns()
        fn(q)
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def line(name: str, us: list[float]) -> str:
    return (f"| {name} | {statistics.mean(us):.1f} | {pct(us, 50):.1f} | {pct(us, 99):.1f} | "
            f"{max(us):.0f} |")  # fmt: skip


# ---------------------------------------------------------------- 1. in process


def in_process(n: int, nq: int) -> None:
    from scipy.spatial import cKDTree

    from app.geo.coords import CoordSys
    from services_nearby.index import Entry, Index, brute_force, unit_vectors

    lat, lng = points(n)
    t0 = time.perf_counter()
    pairs = enumerate(zip(lat.tolist(), lng.tolist(), strict=True))
    entries = [Entry(i + 1, 1, a, b, a, b, "24/7" if i % 3 else "06:00-22:00",
                     b'{"id":%d}' % (i + 1)) for i, (a, b) in pairs]  # fmt: skip
    index = Index()
    index.load(entries, 1, {1: "toilet"})
    build = time.perf_counter() - t0
    qs = queries(nq)
    for q in qs[:2000]:  # warm
        index.nearest(1, q[0], q[1], 10)
    ours = timed(lambda q: index.nearest(1, q[0], q[1], 10), qs)
    from datetime import datetime

    at = datetime(2026, 11, 21, 23, 0)
    ours_json = timed(lambda q: index.find(1, q[0], q[1], 10, None, at).json(CoordSys.WGS84), qs)
    ours_open = timed(lambda q: index.nearest(1, q[0], q[1], 10, None, at, True), qs[: nq // 4])
    tree = cKDTree(unit_vectors(lat, lng))

    def tree_query(q):
        p, lam = math.radians(q[0]), math.radians(q[1])
        tree.query((math.cos(p) * math.cos(lam), math.cos(p) * math.sin(lam), math.sin(p)), k=10)

    kd = timed(tree_query, qs)
    sample = qs[:30]
    brute = timed(lambda q: brute_force(entries, 1, q[0], q[1], 10), sample)
    for q in sample:
        got = [(h.distance_m, h.id) for h in index.nearest(1, q[0], q[1], 10)]
        assert got == brute_force(entries, 1, q[0], q[1], 10), q
    print(f"\n## In process: {n:,} facilities of one kind, {nq:,} random queries, nearest 10")
    print(f"index build from {n:,} entries: {build:.1f} s (entries built in Python included)")
    print("| query | mean us | p50 us | p99 us | max us |\n| --- | --- | --- | --- | --- |")
    print(line("index.nearest (exact, ordered, Hit objects)", ours))
    print(line("index.find + Found.json (the route's items, open status)", ours_json))
    print(line("index.nearest, open_now filter", ours_open))
    print(line("scipy cKDTree.query alone (chord order, no check)", kd))
    print(line(f"brute-force scan (reference, {len(sample)} queries)", brute))
    print(f"{len(sample)} answers identical to the brute-force scan")


# ---------------------------------------------------------------- 2. MariaDB spatial index


def mariadb(sql: str, db: str | None = None):
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", user="root", database=db, autocommit=True)
    return conn


def spatial(n: int, nq: int) -> None:
    from services_nearby.index import Entry, Index

    conn = mariadb("")
    cur = conn.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {DB_SPATIAL}")
    cur.execute(f"CREATE DATABASE {DB_SPATIAL}")
    cur.execute(f"USE {DB_SPATIAL}")
    cur.execute("CREATE TABLE f (id INT PRIMARY KEY, pt POINT NOT NULL, SPATIAL INDEX(pt))"
                " ENGINE=InnoDB")  # fmt: skip
    lat, lng = points(n)
    t0 = time.perf_counter()
    rows = [(i + 1, f"POINT({b!r} {a!r})") for i, (a, b) in
            enumerate(zip(lat.tolist(), lng.tolist(), strict=True))]  # fmt: skip
    for start in range(0, n, 20_000):
        cur.executemany(
            "INSERT INTO f VALUES (%s, ST_GeomFromText(%s))", rows[start : start + 20_000]
        )
    load_s = time.perf_counter() - t0
    sql = (
        "SELECT id, ST_Distance_Sphere(pt, POINT(%s, %s), 6371008.8) AS d FROM f "
        "WHERE MBRContains(ST_GeomFromText(%s), pt) ORDER BY d, id LIMIT 10"
    )

    def nearest(q):
        half = 0.004  # degrees of latitude; widened until the answer is provably complete
        while True:
            dlng = half / math.cos(math.radians(q[0]))
            box = (f"POLYGON(({q[1] - dlng} {q[0] - half},{q[1] + dlng} {q[0] - half},"
                   f"{q[1] + dlng} {q[0] + half},{q[1] - dlng} {q[0] + half},"
                   f"{q[1] - dlng} {q[0] - half}))")  # fmt: skip
            cur.execute(sql, (q[1], q[0], box))
            found = cur.fetchall()
            inscribed = half * 111_195 * 0.99
            if len(found) == 10 and found[-1][1] <= inscribed:
                return found
            half *= 2

    qs = queries(nq)[: max(1, nq // 10)]
    for q in qs[:50]:
        nearest(q)
    sql_us = timed(nearest, qs)
    pairs = enumerate(zip(lat.tolist(), lng.tolist(), strict=True))
    entries = [Entry(i + 1, 1, a, b, a, b, "", b"{}") for i, (a, b) in pairs]
    index = Index()
    index.load(entries, 1, {1: "toilet"})
    agree = sum([r[0] for r in nearest(q)] == [h.id for h in index.nearest(1, q[0], q[1], 10)]
                for q in qs[:500])  # fmt: skip
    ours = timed(lambda q: index.nearest(1, q[0], q[1], 10), qs)
    cur.execute(f"DROP DATABASE {DB_SPATIAL}")
    conn.close()
    print(f"\n## MariaDB SPATIAL index, {n:,} points ({load_s:.0f} s to load), {len(qs):,} queries")
    print("| query | mean us | p50 us | p99 us | max us |\n| --- | --- | --- | --- | --- |")
    print(line("MariaDB ST_Distance_Sphere + MBRContains (pymysql round trip)", sql_us))
    print(line("index.nearest, same queries, same run", ours))
    print(f"same ids in the same order: {agree} of {min(500, len(qs))} queries")


# ---------------------------------------------------------------- 3. HTTP under gunicorn


CODES_LUA = """
local pts = {}
init = function(args)
  for line in io.lines(args[1]) do pts[#pts + 1] = line end
  math.randomseed(os.time() + tonumber(tostring(pts):match("0x(%x+)") or "0", 16) % 100000)
end
request = function()
  return wrk.format("GET", "/api/v1/nearby?kind=toilet&coord_sys=wgs84&limit=10&" ..
                    pts[math.random(#pts)])
end
"""


def http(n: int, seconds: float, rounds: int, connections: int) -> None:
    from report_submit_bench import PY, free_port, pair_ratios_line, run, worker_pids
    from shop_api_bench import SUMMARY_LUA, wrk

    tmp = tempfile.mkdtemp(prefix="zhcg-bench-nearby-")
    conn = mariadb("")
    conn.cursor().execute(f"DROP DATABASE IF EXISTS {DB_APP}")
    conn.cursor().execute(f"CREATE DATABASE {DB_APP} CHARACTER SET utf8mb4 "
                          "COLLATE utf8mb4_unicode_ci")  # fmt: skip
    env = os.environ | {"FLASK_APP": "wsgi:app", "INSTANCE_DIR": tmp, "LOG_LEVEL": "WARNING",
                        "DATABASE_URL": f"mysql+pymysql://root@127.0.0.1:3306/{DB_APP}"
                                        "?charset=utf8mb4",
                        "RATELIMIT_NEARBY": "100000000/minute"}  # fmt: skip
    env.pop("REDIS_URL", None)
    run([str(PY / "flask"), "db", "upgrade"], env)
    run([str(PY / "flask"), "nearby", "seed-kinds"], env)
    t0 = time.perf_counter()
    fill = f"""
import sys
sys.path.insert(0, "bench")
from nearby_bench import fill_app_table
fill_app_table({n})
"""
    subprocess.run([str(PY / "python"), "-c", fill], cwd=ROOT, env=env, check=True)
    print(
        f"\n## HTTP: {n:,} facilities in the app's MariaDB table (filled in "
        f"{time.perf_counter() - t0:.0f} s)"
    )
    pts = Path(tmp) / "points.txt"
    pts.write_text("\n".join(f"lat={a:.6f}&lng={b:.6f}" for a, b in queries(5000, 7)) + "\n")
    summary_lua, nearby_lua = Path(tmp) / "s.lua", Path(tmp) / "n.lua"
    summary_lua.write_text(SUMMARY_LUA)
    nearby_lua.write_text(CODES_LUA + SUMMARY_LUA)
    port = free_port()
    log = open(Path(tmp) / "server.log", "w")  # noqa: SIM115
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(PY / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                            env=env | {"PORT": str(port), "GUNICORN_ACCESS_LOG": "/dev/null"},
                            stdout=log, stderr=log)  # fmt: skip
    import requests

    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=1).ok:
                break
        except requests.RequestException:
            if proc.poll() is not None or time.perf_counter() - t0 > 600:
                raise SystemExit(f"server did not start; see {log.name}") from None
            time.sleep(0.2)
    print(f"gunicorn up with the index preloaded in {time.perf_counter() - t0:.0f} s")
    try:
        sample = requests.get(f"{base}/api/v1/nearby?kind=toilet&coord_sys=wgs84&lat=41.8"
                              "&lng=123.4", timeout=10).json()  # fmt: skip
        assert len(sample["items"]) == 10, sample
        wrk(base, 5, connections, nearby_lua, str(pts))  # warm-up
        pairs = []
        for _ in range(rounds):
            ref = wrk(f"{base}/healthz", seconds, connections, summary_lua)
            got = wrk(base, seconds, connections, nearby_lua, str(pts))
            pairs.append((ref, got))
        workers = len(worker_pids(proc.pid))
        rss = [_rss_mb(p) for p in worker_pids(proc.pid)]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {DB_APP}")
        conn.close()
    print(f"gunicorn {workers} workers x {env.get('GUNICORN_THREADS', '4')} threads; worker RSS "
          f"{', '.join(f'{r:.0f}' for r in rss)} MB; wrk 2 threads, {connections} connections, "
          f"{seconds:.0f} s slices alternating")  # fmt: skip
    print("| slice | /healthz req/s | p99 ms | /api/v1/nearby req/s | p99 ms | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for i, (ref, got) in enumerate(pairs, 1):
        assert got["non2xx"] == 0 and got["errors"] == 0, got
        print(
            f"| {i} | {ref['rps']:.0f} | {ref['p99_ms']:.1f} | {got['rps']:.0f} | "
            f"{got['p99_ms']:.1f} | {got['rps'] / ref['rps']:.0%} |"
        )
    total = [sum(p[k]["requests"] for p in pairs) / sum(p[k]["seconds"] for p in pairs)
             for k in (0, 1)]  # fmt: skip
    print(
        f"all slices: /healthz {total[0]:.0f} req/s, /api/v1/nearby {total[1]:.0f} req/s, "
        f"ratio {total[1] / total[0]:.0%}"
    )
    print(pair_ratios_line(pairs))


def _rss_mb(pid: int) -> float:
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        if text.startswith("VmRSS:"):
            return int(text.split()[1]) / 1024
    return float("nan")


def fill_app_table(n: int) -> None:
    """Insert n toilets straight into the app's facilities table (one change number)."""
    from sqlalchemy import insert, select

    from app import create_app
    from app.db import utcnow
    from app.extensions import db
    from services_nearby import service
    from services_nearby.models import Facility, FacilityKind

    app = create_app()
    with app.app_context():
        kind = db.session.scalar(select(FacilityKind.id).where(FacilityKind.code == "toilet"))
        seq, now = service.next_seq(), utcnow()
        lat, lng = points(n)
        for start in range(0, n, 10_000):
            rows = [{"kind_id": kind, "name": f"测试公厕{start + i}", "address": "沈阳市",
                     "lat": a, "lng": b, "wgs_lat": a, "wgs_lng": b, "coord_sys_in": "wgs84",
                     "opening_hours": "24/7" if i % 3 else "06:00-22:00", "fee": "免费",
                     "status": "active", "source": "bench", "external_id": f"b{start + i}",
                     "seq": seq, "created_at": now, "updated_at": now, "version": 1}
                    for i, (a, b) in enumerate(zip(lat[start:start + 10_000].tolist(),
                                                   lng[start:start + 10_000].tolist(),
                                                   strict=True))]  # fmt: skip
            db.session.execute(insert(Facility.__table__), rows)
        db.session.commit()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--facilities", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=20_000)
    ap.add_argument("--skip-inproc", action="store_true")
    ap.add_argument("--skip-mariadb", action="store_true")
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    print(f"# nearby bench {time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f}")
    if not args.skip_inproc:
        in_process(args.facilities, args.queries)
    if not args.skip_mariadb:
        spatial(args.facilities, args.queries)
    if not args.skip_http:
        http(args.facilities, args.seconds, args.rounds, args.connections)
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    main()
