"""Nearest-facility search at 1,000,000 facilities: in process, in MariaDB, and over HTTP.

    .venv/bin/python bench/nearby_bench.py [--facilities 1000000] [--queries 20000]
        [--skip-inproc] [--skip-mariadb] [--skip-http] [--skip-split]
        [--seconds 10] [--rounds 4] [--keep-db] [--same-connections] [--interleaved N]

1. In process: the index (services_nearby.index) over N synthetic facilities of one kind spread
   uniformly over Shenyang's urban area (the worst case: every facility in one kind), built as
   the app builds it (an image file written in chunks, then mapped), timing each nearest-10
   query on its own; beside it, in the same run, the brute-force scan the tests compare with and
   scipy's cKDTree alone. Every answer of a sample is checked against the scan.
2. MariaDB: the same points in a table with a SPATIAL index, nearest 10 by ST_Distance_Sphere inside
   a box that widens until it holds 10 points whose 10th distance is inside the box's inscribed
   circle (an exact method); per-query latency through pymysql, and agreement with the index.
3. HTTP: the app's facilities table on MariaDB filled with the N facilities, gunicorn as
   production runs it (gunicorn.conf.py: 2 gthread workers, the index preloaded in the master),
   wrk alternating GET /healthz and GET /api/v1/nearby (random points, nearest 10) in short
   slices: the median of the pairs' throughput ratios; each process's memory from
   /proc/<pid>/smaps_rollup (PSS: shared pages split among the processes mapping them) and
   /proc/<pid>/smaps (how much of it is the index image, anonymous memory, other files).
   ``--same-connections``: one wrk run whose connections alternate between the two in slices.
   ``--interleaved N``: then N cycles of both over one connection, one request at a time, in
   random order: the ratio of the median round trips, free of the host's slow phases.
4. Split (with 3, same database): one process answering /healthz and /api/v1/nearby alternately
   through the WSGI app (no HTTP), median time of each, and the nearby route's parts timed apart.
``--keep-db`` keeps the app's database (and its instance folder, with the index file) for the
next run, which reuses them if they hold N facilities. Everything runs on 127.0.0.1.
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
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

BOX = (41.68, 41.92, 123.25, 123.58)  # lat0, lat1, lng0, lng1 (WGS-84): Shenyang's urban area
DB_SPATIAL = "zhcg_bench_nearby_spatial"
DB_APP = "zhcg_bench_nearby_app"
# The search every part of the HTTP bench sends, a random point appended ("lat=...&lng=...").
SEARCH_QUERY = "kind=toilet&coord_sys=wgs84&limit=10&"
SEARCH_PATH = f"/api/v1/nearby?{SEARCH_QUERY}"


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


def bench_entries(n: int) -> list:
    """N toilets as the app's rows show them (fill_app_table's names, hours and fee)."""
    from services_nearby.index import Entry, Shown

    lat, lng = points(n)
    pairs = enumerate(zip(lat.tolist(), lng.tolist(), strict=True))
    return [Entry(i + 1, 1, a, b, a, b, "24/7" if i % 3 else "06:00-22:00",
                  Shown(f"测试公厕{i}", "沈阳市", "免费", None, None, None, None))
            for i, (a, b) in pairs]  # fmt: skip


def in_process(n: int, nq: int) -> None:
    from scipy.spatial import cKDTree

    from app.geo.coords import CoordSys
    from services_nearby.index import Image, ImageWriter, Index, brute_force, unit_vectors

    lat, lng = points(n)
    t0 = time.perf_counter()
    entries = bench_entries(n)
    made = time.perf_counter() - t0
    path = Path(tempfile.mkdtemp(prefix="zhcg-bench-nearby-")) / "image.idx"
    t0 = time.perf_counter()
    writer = ImageWriter(1, {1: "toilet"})
    for start in range(0, n, 20_000):  # in chunks, as the app streams its rows
        writer.add(entries[start : start + 20_000])
    with open(path, "wb") as out:
        size = writer.write(out)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = Index()
    index.use(Image.open(path))
    opened = time.perf_counter() - t0
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
    path.unlink()
    print(f"\n## In process: {n:,} facilities of one kind, {nq:,} random queries, nearest 10")
    print(f"{n:,} entries made in {made:.1f} s; image written in {build:.1f} s ({size / 2**20:.0f}"
          f" MB); opened (CRC-32 checked, mapped) in {opened * 1000:.0f} ms")  # fmt: skip
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
  return wrk.format("GET", "SEARCH_PATH" ..
                    pts[math.random(#pts)])
end
""".replace("SEARCH_PATH", SEARCH_PATH)


# --same-connections: one wrk run whose connections alternate between the two endpoints in slices
# of SLICE_S seconds from the epoch second T0 (even slices /healthz, odd ones the nearby search,
# a warm-up of the search before T0). Each thread counts the requests it starts in each slice;
# done() adds them up. Both endpoints are thus measured over the very same connections, held by
# the same workers, so a split of the connections between the workers weighs on both alike.
ALTERNATING_LUA = """
local pts, t0, slice_s, slices = {}, tonumber(os.getenv("T0")), tonumber(os.getenv("SLICE_S")),
  tonumber(os.getenv("SLICES"))
local threads = {}
counts = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args)
  for line in io.lines(args[1]) do pts[#pts + 1] = line end
  for i = 1, slices do counts[i] = 0 end
  math.randomseed(os.time() + tonumber(tostring(pts):match("0x(%x+)") or "0", 16) % 100000)
end
request = function()
  local k = math.floor((os.time() - t0) / slice_s)
  if k >= 0 and k < slices then counts[k + 1] = counts[k + 1] + 1 end
  if k >= 0 and k % 2 == 0 then return wrk.format("GET", "/healthz") end
  return wrk.format("GET", "SEARCH_PATH" ..
                    pts[math.random(#pts)])
end
done = function(summary, latency, requests)
  local total = {}
  for i = 1, slices do total[i] = 0 end
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for i = 1, slices do total[i] = total[i] + c[i] end
  end
  local e = summary.errors
  io.write(string.format('BENCH {"slices":[%s],"non2xx":%d,"errors":%d}\\n',
    table.concat(total, ","), e.status, e.connect + e.read + e.write + e.timeout))
end
""".replace("SEARCH_PATH", SEARCH_PATH)


def alternating(
    base: str,
    workers: list[int],
    pts: Path,
    script: Path,
    seconds: float,
    rounds: int,
    connections: int,
) -> list[tuple[dict, dict]]:
    """``rounds`` pairs of slices (/healthz, then the search) over one wrk run's connections;
    each slice's requests a second and the workers' CPU per request, read at its boundaries."""
    import threading

    from shop_api_bench import WRK_THREADS

    slice_s, slices = max(1, int(seconds)), 2 * rounds
    t0 = int(time.time()) + 5  # wrk starts and warms up on the search meanwhile
    cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}",
           f"-d{t0 - int(time.time()) + slices * slice_s + 1}s", "--timeout", "5s",
           "-s", str(script), base, "--", str(pts)]  # fmt: skip
    env = os.environ | {"T0": str(t0), "SLICE_S": str(slice_s), "SLICES": str(slices)}
    cpu: list[float] = []

    def sample() -> None:
        for k in range(slices + 1):
            time.sleep(max(0.0, t0 + k * slice_s - time.time()))
            cpu.append(cpu_seconds(workers))

    sampler = threading.Thread(target=sample)
    sampler.start()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    sampler.join()
    result = json.loads(next(x for x in out.splitlines() if x.startswith("BENCH "))[6:])
    assert result["non2xx"] == 0 and result["errors"] == 0, result
    rows = [{"requests": n, "seconds": slice_s, "rps": n / slice_s, "p99_ms": None,
             "cpu_us": (cpu[k + 1] - cpu[k]) / max(1, n) * 1e6, "non2xx": 0, "errors": 0}
            for k, n in enumerate(result["slices"])]  # fmt: skip
    return [(rows[2 * j], rows[2 * j + 1]) for j in range(rounds)]


def interleaved(base: str, pts: Path, cycles: int, warm: int = 300) -> dict[str, float]:
    """One keep-alive connection, one request at a time, /healthz and the search in a random
    order within each cycle: the median round trip of each. A slow phase of the host (this VM
    loses 5-15 % of its time to its neighbours, for seconds at a time) falls on both alike, which
    slices of seconds cannot promise; the ratio of the medians is the throughput ratio of a
    server doing one request at a time, client and kernel included."""
    import random
    import socket

    host, port = base.removeprefix("http://").split(":")
    queries = [q for q in pts.read_text().split() if q]
    paths = {
        "healthz": lambda q: "/healthz",
        "nearby": lambda q: SEARCH_PATH + q,
    }
    times: dict[str, list[int]] = {name: [] for name in paths}
    rnd = random.Random(3)
    with socket.create_connection((host, int(port))) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream = sock.makefile("rb")

        def get(path: str) -> None:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status = stream.readline()
            assert b" 200 " in status, status
            length = 0
            while (header := stream.readline()) not in (b"\r\n", b""):
                if header.lower().startswith(b"content-length:"):
                    length = int(header.split(b":")[1])
            assert len(stream.read(length)) == length

        for i in range(warm + cycles):
            q = rnd.choice(queries)
            for name in rnd.sample(list(paths), len(paths)):
                t = time.perf_counter_ns()
                get(paths[name](q))
                if i >= warm:
                    times[name].append(time.perf_counter_ns() - t)
    return {name: statistics.median(t) / 1000 for name, t in times.items()}


def p99(result: dict) -> str:
    """A slice's p99 in ms; "-" for the slices of one alternating wrk run (not per slice)."""
    return "-" if result["p99_ms"] is None else f"{result['p99_ms']:.1f}"


def app_env(tmp: str) -> dict[str, str]:
    env = os.environ | {"FLASK_APP": "wsgi:app", "INSTANCE_DIR": tmp, "LOG_LEVEL": "WARNING",
                        "DATABASE_URL": f"mysql+pymysql://root@127.0.0.1:3306/{DB_APP}"
                                        "?charset=utf8mb4",
                        "RATELIMIT_NEARBY": "100000000/minute"}  # fmt: skip
    env.pop("REDIS_URL", None)
    return env


def prepare_app_db(n: int, keep: bool) -> tuple[str, dict[str, str]]:
    """The app's database with n facilities (reused if ``keep`` and already so), its instance
    folder and environment."""
    from report_submit_bench import PY, run

    tmp = str(Path(tempfile.gettempdir()) / "zhcg-bench-nearby-app") if keep else (
        tempfile.mkdtemp(prefix="zhcg-bench-nearby-"))  # fmt: skip
    Path(tmp).mkdir(exist_ok=True)
    env = app_env(tmp)
    conn = mariadb("")
    cur = conn.cursor()
    if keep:
        cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s "
                    "AND table_name = 'facilities'", (DB_APP,))  # fmt: skip
        if cur.fetchone()[0]:
            cur.execute(f"SELECT COUNT(*) FROM {DB_APP}.facilities")  # noqa: S608 - our name
            if cur.fetchone()[0] == n:
                print(f"\n## HTTP: {n:,} facilities in the app's MariaDB table (kept)")
                return tmp, env
    cur.execute(f"DROP DATABASE IF EXISTS {DB_APP}")
    cur.execute(f"CREATE DATABASE {DB_APP} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    for index_file in Path(tmp).glob("nearby-index/*"):
        index_file.unlink()
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
    print(f"\n## HTTP: {n:,} facilities in the app's MariaDB table (filled in "
          f"{time.perf_counter() - t0:.0f} s)")  # fmt: skip
    return tmp, env


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / ticks


def cpu_timed(pids: list[int], run: Any, *args: Any) -> dict:
    """A wrk run's figures, with the workers' CPU microseconds per request (``cpu_us``)."""
    before = cpu_seconds(pids)
    result = run(*args)
    result["cpu_us"] = (cpu_seconds(pids) - before) / max(1, result["requests"]) * 1e6
    return result


def memory(pid: int) -> dict[str, float]:
    """MB: RSS and PSS (smaps_rollup), and PSS split into the index image's mapping, anonymous
    memory (heap, Python objects) and other files (code, libraries)."""
    out = {}
    for text in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = text.split(":")
        out[key] = int(value.split()[0]) / 1024
    parts = {"image": 0.0, "anon": 0.0, "files": 0.0, "image_rss": 0.0}
    where = "anon"
    for text in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = text.split()
        if not fields[0].endswith(":"):  # a mapping's first line: range perms offset dev inode path
            path = fields[5] if len(fields) > 5 else ""
            where = (
                "image" if path.endswith(".idx") else "files" if path.startswith("/") else "anon"
            )
        elif fields[0] == "Pss:":
            parts[where] += int(fields[1]) / 1024
        elif fields[0] == "Rss:" and where == "image":
            parts["image_rss"] += int(fields[1]) / 1024
    return {"rss": out["Rss"], "pss": out["Pss"], **parts}


def memory_line(name: str, m: dict[str, float]) -> str:
    return (f"| {name} | {m['rss']:.0f} | {m['pss']:.0f} | {m['image_rss']:.0f} | "
            f"{m['image']:.0f} | {m['anon']:.0f} | {m['files']:.0f} |")  # fmt: skip


def http(
    n: int, seconds: float, rounds: int, connections: int, keep: bool, split: bool,
    same: bool = False,
    cycles: int = 0,
) -> None:  # fmt: skip
    from report_submit_bench import PY, free_port, pair_ratios_line, worker_pids
    from shop_api_bench import SUMMARY_LUA, wrk

    tmp, env = prepare_app_db(n, keep)
    pts = Path(tmp) / "points.txt"
    pts.write_text("\n".join(f"lat={a:.6f}&lng={b:.6f}" for a, b in queries(5000, 7)) + "\n")
    summary_lua, nearby_lua = Path(tmp) / "s.lua", Path(tmp) / "n.lua"
    summary_lua.write_text(SUMMARY_LUA)
    nearby_lua.write_text(CODES_LUA + SUMMARY_LUA)
    alternating_lua = Path(tmp) / "a.lua"
    alternating_lua.write_text(ALTERNATING_LUA)
    port = free_port()
    log = open(Path(tmp) / "server.log", "w")  # noqa: SIM115
    had_image = any(Path(tmp).glob("nearby-index/*.idx"))
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
    print(
        f"gunicorn up in {time.perf_counter() - t0:.0f} s, the index "
        f"{'mapped from the file there' if had_image else 'built into its file'} in the master"
    )
    mem = {}
    try:
        sample = requests.get(f"{base}/api/v1/nearby?kind=toilet&coord_sys=wgs84&lat=41.8"
                              "&lng=123.4", timeout=10).json()  # fmt: skip
        assert len(sample["items"]) == 10, sample
        workers = worker_pids(proc.pid)
        mem["after start"] = [memory(p) for p in (proc.pid, *workers)]
        wrk(base, 5, connections, nearby_lua, str(pts))  # warm-up
        if same:
            pairs = alternating(base, workers, pts, alternating_lua, seconds, rounds, connections)
        else:
            pairs = [(cpu_timed(workers, wrk, f"{base}/healthz", seconds, connections, summary_lua),
                      cpu_timed(workers, wrk, base, seconds, connections, nearby_lua, str(pts)))
                     for _ in range(rounds)]  # fmt: skip
        mem["after the slices"] = [memory(p) for p in (proc.pid, *workers)]
        one_by_one = interleaved(base, pts, cycles) if cycles else None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    image = sorted(Path(tmp).glob("nearby-index/*.idx"))
    print(
        f"gunicorn {len(workers)} workers x {env.get('GUNICORN_THREADS', '4')} threads, preload; "
        f"index image {image[-1].stat().st_size / 2**20:.0f} MB; wrk 2 threads, "
        f"{connections} connections, {seconds:.0f} s slices alternating"
        f"{' over the same connections (one wrk run)' if same else ' (one wrk run each)'}"
    )
    print("\n| memory, MB | RSS | PSS | image RSS | image PSS | anon PSS | other files PSS |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for when, rows in mem.items():
        for i, m in enumerate(rows):
            print(memory_line(f"{'master' if i == 0 else f'worker {i}'}, {when}", m))
    print("\n| slice | /healthz req/s | p99 ms | /api/v1/nearby req/s | p99 ms | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for i, (ref, got) in enumerate(pairs, 1):
        assert got["non2xx"] == 0 and got["errors"] == 0, got
        print(
            f"| {i} | {ref['rps']:.0f} | {p99(ref)} | {got['rps']:.0f} | "
            f"{p99(got)} | {got['rps'] / ref['rps']:.0%} |"
        )
    total = [sum(p[k]["requests"] for p in pairs) / sum(p[k]["seconds"] for p in pairs)
             for k in (0, 1)]  # fmt: skip
    print(
        f"all slices: /healthz {total[0]:.0f} req/s, /api/v1/nearby {total[1]:.0f} req/s, "
        f"ratio {total[1] / total[0]:.0%}"
    )
    print(pair_ratios_line(pairs))
    cpu = [[p[k]["cpu_us"] for p in pairs] for k in (0, 1)]
    print(f"workers' CPU time per request (utime + stime, median of the slices): /healthz "
          f"{statistics.median(cpu[0]):.0f} us, /api/v1/nearby {statistics.median(cpu[1]):.0f} us"
          f" ({statistics.median(cpu[0]) / statistics.median(cpu[1]):.0%}: the ratio the "
          "workers' own work allows, whatever else runs on the machine)")  # fmt: skip
    if one_by_one:
        h, g = one_by_one["healthz"], one_by_one["nearby"]
        print(f"one connection, one request at a time, {cycles:,} cycles of both in random "
              f"order: median round trip /healthz {h:.0f} us, /api/v1/nearby {g:.0f} us "
              f"(ratio {h / g:.0%})")  # fmt: skip
    if split:
        subprocess.run([str(PY / "python"), "-c", "import sys; sys.path.insert(0, 'bench'); "
                        "from nearby_bench import request_split; request_split()"],
                       cwd=ROOT, env=env, check=True)  # fmt: skip
    if not keep:
        conn = mariadb("")
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {DB_APP}")
        conn.close()


def request_split(calls: int = 20_000) -> None:
    """In this process (the environment of ``http``): /healthz and /api/v1/nearby alternately
    through the WSGI app, and the nearby route's parts timed apart; medians."""
    import io

    import wsgi
    from app.geo import coords
    from services_nearby import nearest, public

    app = wsgi.app
    t0 = time.perf_counter()
    nearest.warm(app)
    index = nearest.get_index(app)[0]
    image = getattr(index, "image", None)  # (None: the code before issue 18, for comparisons)
    print(
        f"\n## Split: one process, the WSGI app without HTTP (index ready in "
        f"{time.perf_counter() - t0:.1f} s: {'mapped' if image and image.path else 'built'})"
    )
    qs = [f"lat={a:.6f}&lng={b:.6f}" for a, b in queries(5000, 7)]

    def environ(path: str, query: str = "") -> dict:
        return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
                "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
                "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
                "HTTP_HOST": "127.0.0.1:8000", "wsgi.multithread": True,
                "wsgi.multiprocess": True, "wsgi.run_once": False,
                "wsgi.version": (1, 0)}  # fmt: skip

    def start_response(status: str, headers: list, exc_info: Any = None) -> None:
        assert status.startswith("200"), status

    def call(path: str, query: str = "") -> None:
        body = app(environ(path, query), start_response)
        b"".join(body)
        body.close()

    nearby_q = [SEARCH_QUERY + q for q in qs]
    for i in range(2000):
        call("/healthz")
        call("/api/v1/nearby", nearby_q[i % 5000])
    h, g = [], []
    for i in range(calls):
        t = time.perf_counter_ns()
        call("/healthz")
        h.append(time.perf_counter_ns() - t)
        t = time.perf_counter_ns()
        call("/api/v1/nearby", nearby_q[i % 5000])
        g.append(time.perf_counter_ns() - t)
    mh, mg = statistics.median(h) / 1000, statistics.median(g) / 1000
    print(f"{calls:,} alternating calls: /healthz median {mh:.0f} us, /api/v1/nearby median "
          f"{mg:.0f} us ({mg - mh:.0f} us more; {mh / mg:.0%} of the rate if the app's time were "
          "all)")  # fmt: skip
    raw = [dict(p.split("=") for p in (SEARCH_QUERY + q).split("&"))
           for q in qs]  # fmt: skip
    with app.test_request_context("/api/v1/nearby"):
        fresh = nearest.get_index(app)[1]
        parsed = [public.parse_args(r) for r in raw]
        kind_id = nearest._kind_map(index)["toilet"][0]
        at = nearest.now()
        founds = [index.find(kind_id, a["lat"], a["lng"], 10, None, at) for a in parsed]
        answers = [nearest.search_nearby(a) for a in parsed]

        def median_us(fn: Any, items: list) -> float:
            times = []
            for x in items * 2:
                t = time.perf_counter_ns()
                fn(x)
                times.append(time.perf_counter_ns() - t)
            return statistics.median(times) / 1000

        parts = {
            "parse and check the arguments (public.parse_args)": median_us(public.parse_args, raw),
            "freshness check (Freshness.ensure, nothing changed)": median_us(
                lambda _: fresh.ensure(), raw),
            "search (Index.find: the k-d tree in C)": median_us(
                lambda a: index.find(kind_id, a["lat"], a["lng"], 10, None, at), parsed),
            "inside the city? (nearest.remoteness)": median_us(
                lambda a: nearest.remoteness((a["lat"], a["lng"]), "wgs84", 300.0, "公厕"),
                parsed),
            "search_nearby (all of the above)": median_us(nearest.search_nearby, parsed),
            "items JSON (Found.json: C, from the records)": median_us(
                lambda f: f.json(coords.CoordSys.WGS84), founds),
            "whole body (public.body, items included)": median_us(
                lambda pa: public.body(*pa), list(zip(parsed, answers, strict=True))),
        }  # fmt: skip
    print("| the nearby route's part | median us |\n| --- | --- |")
    for name, us in parts.items():
        print(f"| {name} | {us:.1f} |")


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
    ap.add_argument("--skip-split", action="store_true")
    ap.add_argument("--keep-db", action="store_true")
    ap.add_argument(
        "--same-connections",
        action="store_true",
        help="both endpoints over one wrk run's connections, alternating in slices",
    )
    ap.add_argument(
        "--interleaved",
        type=int,
        default=0,
        metavar="N",
        help="after the slices, N cycles of both endpoints on one connection, one at a time",
    )
    args = ap.parse_args()
    print(f"# nearby bench {time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f}")
    if not args.skip_inproc:
        in_process(args.facilities, args.queries)
    if not args.skip_mariadb:
        spatial(args.facilities, args.queries)
    if not args.skip_http:
        http(
            args.facilities,
            args.seconds,
            args.rounds,
            args.connections,
            args.keep_db,
            not args.skip_split,
            args.same_connections,
            args.interleaved,
        )
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    main()
