"""Report submission under gunicorn: reports per second with two ~1 MB photos each, latency,
and peak memory per worker, beside a trivial endpoint (GET /healthz) measured in the same run.

    .venv/bin/python bench/report_submit_bench.py [--seconds 20] [--rounds 4] [--clients 8]
        [--sqlite] [--profile N [--top 25] [--wall] [--stages]]

Runs the service as the README runs it in production (gunicorn, gthread workers) on MariaDB
(127.0.0.1:3306, a fresh database zhcg_bench_submit, dropped afterwards) with the embedded
WeChat emulator for sign-in. Load comes from client threads in this process, on 127.0.0.1 only,
bounded in time and count. Note: client and server share this machine's 2 cores.

The two endpoints alternate in ``--rounds`` slices (so a slow phase of the host weighs on both),
and each worker's memory (RSS now, peak RSS, PSS) is read after the warm-up and after every round:
over a long run (``--seconds 300 --rounds 10``) it shows whether a worker keeps growing.
``--profile N`` instead profiles N submissions in this process (cProfile, top entries), after
listing the SQL statements of one; with ``--stages`` it times each stage's CPU without a profiler.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin"
XIAOBEI = (41.8120, 123.3550)  # 铁西区小北一路 (reports/seed.py DEMO_POINTS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def photo_1mb(seed: int) -> bytes:
    """A noisy JPEG of about 1 MB, like a phone photo after WeChat's compression."""
    rnd = random.Random(seed)
    img = Image.effect_noise((1440, 1080), 60).convert("RGB")
    img = Image.blend(img, Image.new("RGB", img.size, (rnd.randrange(255), 120, 90)), 0.3)
    for quality in range(95, 60, -2):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        if buf.tell() <= 1_100_000:
            return buf.getvalue()
    return buf.getvalue()


def run(cmd: list[str], env: dict[str, str]) -> None:
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    log = open(Path(env["INSTANCE_DIR"]) / "gunicorn.log", "w")  # noqa: SIM115
    server_env = env | {"PORT": str(port), "GUNICORN_ACCESS_LOG": "/dev/null"}
    proc = subprocess.Popen([str(PY / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
                            cwd=ROOT, env=server_env, stdout=log, stderr=log)  # fmt: skip
    for _ in range(600):
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start; see {log.name}")


def pair_ratios_line(pairs: list[tuple[dict, dict]]) -> str:
    """The median (and quartiles) of the measured endpoint's throughput over the reference's in
    neighbouring slices: the figure least moved by the host's slow phases of several seconds."""
    import statistics

    ratios = [got["rps"] / ref["rps"] for ref, got in pairs]
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return (f"median of the {len(ratios)} pairs' ratios: {statistics.median(ratios):.0%} "
            f"(quartiles {q[0]:.0%}-{q[2]:.0%})")  # fmt: skip


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages (preloaded code, the classifier) split among users."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(fn, clients: int, seconds: float, max_requests: int) -> tuple[int, float, list[float]]:
    """Call fn(session, i) from ``clients`` threads until time or count runs out."""
    latencies: list[float] = []
    counter = iter(range(max_requests))
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    errors = []

    def client() -> None:
        session = requests.Session()
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            t0 = time.perf_counter()
            status = fn(session, i)
            dt = time.perf_counter() - t0
            with lock:
                (latencies if status in (200, 201) else errors).append(dt)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print(f"  {len(errors)} failed requests", file=sys.stderr)
    return len(latencies), time.perf_counter() - start, latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 2 else 0.0


def rss_mb(pid: int) -> float:
    """Resident set size now (VmRSS): what the worker holds at this moment."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes have used: what a request costs the server,
    whatever else the machine is doing."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def row_locks() -> tuple[int, int]:
    """MariaDB's InnoDB row-lock waits so far: (how many, total milliseconds waited)."""
    import pymysql  # only on MariaDB runs

    with pymysql.connect(host="127.0.0.1", user="root") as conn, conn.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS WHERE Variable_name IN "
                    "('Innodb_row_lock_waits', 'Innodb_row_lock_time')")  # fmt: skip
        status = dict(cur.fetchall())
    return int(status["Innodb_row_lock_waits"]), int(status["Innodb_row_lock_time"])


def memory_row(label: str, reports: int, workers: list[int]) -> str:
    """One line of the memory table: RSS now, peak RSS and PSS of each worker."""
    cols = [", ".join(f"{f(p):.0f}" for p in workers) for f in (rss_mb, peak_rss_mb, pss_mb)]
    return f"| {label} | {reports} | {cols[0]} | {cols[1]} | {cols[2]} |"


def submission(photos: list[bytes], i: int) -> tuple[dict, list, dict]:
    """The form fields, files and headers of report ``i`` (its own Idempotency-Key)."""
    lat = XIAOBEI[0] + random.uniform(-0.01, 0.01)
    lng = XIAOBEI[1] + random.uniform(-0.01, 0.01)
    data = {"description": "铁西区小北一路一处雨水井盖严重破损，车辆经过很危险",
            "lat": f"{lat:.6f}", "lng": f"{lng:.6f}"}  # fmt: skip
    files = [("photos", (f"p{j}.jpg", photos[j], "image/jpeg")) for j in range(len(photos))]
    return data, files, {"Idempotency-Key": f"bench-{i}"}


def setup_database(sqlite: bool) -> dict[str, str]:
    """A fresh database with the demo city and the classifier; the environment to run on it."""
    tmp = tempfile.mkdtemp(prefix="zhcg-bench-")
    db_url = f"sqlite:///{tmp}/bench.db"
    if not sqlite:
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", user="root")
        conn.cursor().execute("DROP DATABASE IF EXISTS zhcg_bench_submit")
        conn.cursor().execute("CREATE DATABASE zhcg_bench_submit CHARACTER SET utf8mb4")
        db_url = "mysql+pymysql://root@127.0.0.1:3306/zhcg_bench_submit?charset=utf8mb4"
    env = os.environ | {"FLASK_APP": "wsgi:app", "INSTANCE_DIR": tmp, "DATABASE_URL": db_url,
                        "RATELIMIT_REPORTS": "1000000/minute", "RATELIMIT_LOGIN": "100000/minute",
                        "RATELIMIT_PUBLIC": "1000000/minute", "LOG_LEVEL": "WARNING",
                        "PYTHONFAULTHANDLER": "1"}  # a crash of a step shows where  # fmt: skip
    env.pop("REDIS_URL", None)
    run([str(PY / "flask"), "db", "upgrade"], env)
    run([str(PY / "flask"), "seed", "demo"], env)
    run([str(PY / "flask"), "reports", "train-classifier"], env)
    return env


def drop_database(sqlite: bool) -> None:
    if not sqlite:
        import pymysql

        pymysql.connect(host="127.0.0.1", user="root").cursor().execute(
            "DROP DATABASE IF EXISTS zhcg_bench_submit")  # fmt: skip


# The stages of a submission: (label, module, attribute). The profile finds each by its file and
# function name; --stages wraps each to add up its own CPU time. Callees are included, so nested
# stages overlap their parents.
STAGES = [
    ("whole request (view)", "reports.api", "Reports.post"),
    ("multipart parsing (werkzeug)", "werkzeug.formparser", "MultiPartParser.parse"),
    ("idempotency: replay lookups", "reports.service", "find_replay"),
    ("photos: store_upload x2", "app.media.service", "store_upload"),
    ("  cleaning: process_upload", "app.media.images", "process_upload"),
    ("    re-encoding path: decode (_open_checked)", "app.media.images", "_open_checked"),
    ("    re-encoding path: _reencode", "app.media.images", "_reencode"),
    ("    stripping path: jpeg.strip", "app.media.jpeg", "strip"),
    ("    stripping path: reduced decode", "app.media.images", "_reduced_upright"),
    ("    perceptual hash", "app.media.phash", "dhash"),
    ("  storing: local files, fsync", "app.media.service", "_put"),
    ("report: submit_report + commit", "reports.api", "commit_submission"),
    ("  classifier", "reports.service", "_classify"),
    ("  possible duplicate", "reports.service", "find_possible_duplicate"),
    ("  routing, dispatch, notification", "reports.service", "_route"),
    ("  the day's number", "reports.service", "_take_number"),
    ("  flushes (SQLAlchemy)", "sqlalchemy.orm.session", "Session.flush"),
    ("response: present.citizen_view", "reports.present", "citizen_view"),
]


def stage_table(stats, count: int) -> str:
    """Milliseconds per report spent in each of STAGES (cumulative, callees included)."""
    lines = ["| stage | ms per report |", "| --- | --- |"]
    for label, module, attribute in STAGES:
        suffix, name = module.replace(".", "/") + ".py", attribute.rsplit(".", 1)[-1]
        total = sum(ct for (file, _, func), (_, _, _, ct, _) in stats.stats.items()
                    if func == name and file.endswith(suffix))  # fmt: skip
        if total:
            lines.append(f"| {label} | {total / count * 1000:.1f} |")
    return "\n".join(lines)


def timed_stages(switch: dict) -> dict:
    """Wrap the STAGES' functions; their CPU seconds add up in the dict returned while
    ``switch["on"]`` is true."""
    import functools
    import importlib

    spent: dict = {label: 0.0 for label, _, _ in STAGES}

    def wrap(label, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                if switch["on"]:
                    spent[label] += time.process_time() - start

        return timed

    for label, module, attribute in STAGES:
        owner = importlib.import_module(module)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, name, wrap(label, getattr(owner, name)))
    return spent


def print_statements(app, submit_one) -> None:
    """The SQL statements of one submission, in order, with the columns each SELECT reads."""
    from sqlalchemy import event

    from app.extensions import db

    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        submit_one()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    selects = [s for s in seen if s.startswith("SELECT")]
    columns = sum(s.split(" FROM ")[0].count(",") + 1 for s in selects)
    print(f"one submission: {len(seen)} statements, {len(selects)} SELECTs reading "
          f"{columns} columns:")  # fmt: skip
    for s in seen:
        print(f"  {s[:160]}")


def profile(env: dict[str, str], count: int, top: int, wall: bool, stages: bool = False) -> None:
    """``count`` submissions through the app in this process (Flask's test client: the same view,
    multipart parsing, storage and database, without gunicorn and HTTP): timed, then profiled
    with cProfile on this process's CPU time (``wall``: on the clock, waits included)."""
    import cProfile  # only for --profile
    import pstats

    os.environ.update(env)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    import wsgi  # the app as gunicorn loads it, classifier preloaded

    switch = {"on": False}
    spent = timed_stages(switch) if stages else {}
    client = wsgi.app.test_client()
    token = client.post("/api/v1/auth/miniprogram", json={"code": "test:bench-profile"})
    auth = {"Authorization": f"Bearer {token.get_json()['token']}"}
    photos = [photo_1mb(1), photo_1mb(2)]

    def submit(i: int) -> None:
        data, files, headers = submission(photos, i)
        data["photos"] = [(io.BytesIO(body), name, kind) for _, (name, body, kind) in files]
        resp = client.post("/api/v1/reports", data=data, headers=auth | headers,
                           content_type="multipart/form-data")  # fmt: skip
        assert resp.status_code == 201, resp.get_json()

    for i in range(5):  # warm up: caches, the classifier's first call
        submit(i)
    print_statements(wsgi.app, lambda: submit(99))
    switch["on"] = True
    cpu, start = time.process_time(), time.perf_counter()
    for i in range(count):
        submit(100 + i)
    cpu, took = time.process_time() - cpu, time.perf_counter() - start
    switch["on"] = False
    print(f"{count} submissions, not profiled: {cpu / count * 1000:.1f} ms CPU and "
          f"{took / count * 1000:.1f} ms on the clock each")  # fmt: skip
    if stages:
        print("| stage, not profiled (its own CPU time, callees included) | ms per report |")
        print("| --- | --- |")
        for label, seconds in spent.items():
            if seconds:  # a stage not taken, or called by a name the wrapper does not replace
                print(f"| {label} | {seconds / count * 1000:.2f} |")
        return
    prof = cProfile.Profile(time.perf_counter if wall else time.process_time)
    prof.enable()
    for i in range(count):
        submit(1000 + i)
    prof.disable()
    stats = pstats.Stats(prof)
    print(f"under cProfile ({'wall clock' if wall else 'CPU time'}; the profiler inflates the "
          "Python-heavy stages):")  # fmt: skip
    print(stage_table(stats, count))
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20, help="submitting, over all rounds")
    ap.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="alternating slices: /healthz for half as long, then reports",
    )
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--sqlite", action="store_true", help="embedded SQLite instead of MariaDB")
    ap.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="instead: cProfile N submissions in this process and print the top",
    )
    ap.add_argument("--top", type=int, default=25, help="entries of the --profile listing")
    ap.add_argument("--wall", action="store_true", help="--profile on the clock, not CPU time")
    ap.add_argument(
        "--stages",
        action="store_true",
        help="with --profile: time the stages without the profiler instead",
    )
    args = ap.parse_args()

    env = setup_database(args.sqlite)
    if args.profile:
        try:
            profile(env, args.profile, args.top, args.wall, args.stages)
        finally:
            drop_database(args.sqlite)
        return
    port = free_port()
    proc = start_server(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        tokens = [requests.post(f"{base}/api/v1/auth/miniprogram",
                                json={"code": f"test:bench-{i}"}, timeout=10).json()["token"]
                  for i in range(args.clients)]  # fmt: skip
        photos = [photo_1mb(1), photo_1mb(2)]

        def healthz(session, i):
            return session.get(f"{base}/healthz", timeout=10).status_code

        def submit(session, i):
            data, files, headers = submission(photos, i)
            headers["Authorization"] = f"Bearer {tokens[i % len(tokens)]}"
            return session.post(f"{base}/api/v1/reports", data=data, files=files,
                                headers=headers, timeout=60).status_code  # fmt: skip

        load(submit, 2, 5, 10)  # warm up (classifier, caches)
        workers = worker_pids(proc.pid)
        memory = [memory_row("start (after 10 warm-up reports)", 0, workers)]
        slice_s = args.seconds / args.rounds
        pairs, lat_ref, lat_sub, done = [], [], [], 0
        cpu = {"ref": 0.0, "sub": 0.0}
        locks = row_locks() if not args.sqlite else (0, 0)
        for r in range(args.rounds):
            c0 = cpu_s(workers)
            n_ref, t_ref, l_ref = load(healthz, args.clients, slice_s / 2, 200_000)
            c1 = cpu_s(workers)
            n_sub, t_sub, l_sub = load(lambda s, i, o=100 + done: submit(s, i + o),
                                       args.clients, slice_s, 100_000)  # fmt: skip
            cpu["ref"] += c1 - c0
            cpu["sub"] += cpu_s(workers) - c1
            done += n_sub
            lat_ref += l_ref
            lat_sub += l_sub
            pairs.append(({"rps": n_ref / t_ref, "n": n_ref, "t": t_ref},
                          {"rps": n_sub / t_sub, "n": n_sub, "t": t_sub}))  # fmt: skip
            memory.append(memory_row(f"after round {r + 1}", done, workers))
        if worker_pids(proc.pid) != workers:
            print("  workers were replaced during the run", file=sys.stderr)
        size_mb = sum(len(p) for p in photos) / 1e6
        ref_rps = sum(p[0]["n"] for p in pairs) / sum(p[0]["t"] for p in pairs)
        sub_rps = sum(p[1]["n"] for p in pairs) / sum(p[1]["t"] for p in pairs)
        print(f"database: {'SQLite' if args.sqlite else 'MariaDB'}; gunicorn "
              f"{len(workers)} workers x {os.environ.get('GUNICORN_THREADS', '4')} threads; "
              f"{args.clients} client threads; photos {size_mb:.2f} MB per report; "
              f"{args.rounds} rounds of {slice_s / 2:.0f} s /healthz then {slice_s:.0f} s "
              "reports")  # fmt: skip
        print("| endpoint | requests | per second | p50 ms | p99 ms |")
        print("| --- | --- | --- | --- | --- |")
        print(f"| GET /healthz (reference) | {len(lat_ref)} | {ref_rps:.0f} | "
              f"{pct(lat_ref, 50):.1f} | {pct(lat_ref, 99):.1f} |")  # fmt: skip
        print(f"| POST /api/v1/reports (2 photos) | {len(lat_sub)} | {sub_rps:.1f} | "
              f"{pct(lat_sub, 50):.0f} | {pct(lat_sub, 99):.0f} |")  # fmt: skip
        per_round = [ref["rps"] / got["rps"] for ref, got in pairs]
        print(f"reports / healthz over all rounds: 1/{ref_rps / sub_rps:.0f}; per round: "
              + ", ".join(f"1/{r:.0f}" for r in per_round)
              + f"; median 1/{statistics.median(per_round):.0f}")  # fmt: skip
        ms_ref, ms_sub = cpu["ref"] / len(lat_ref) * 1000, cpu["sub"] / len(lat_sub) * 1000
        print(f"workers' CPU per request: /healthz {ms_ref:.2f} ms, report {ms_sub:.1f} ms "
              f"(1 report = {ms_sub / ms_ref:.0f} healthz)")  # fmt: skip
        if not args.sqlite:
            waits, waited = (b - a for a, b in zip(locks, row_locks(), strict=True))
            print(f"InnoDB row-lock waits during the run: {waits} ({waits / done:.2f} per report),"
                  f" {waited / 1000:.1f} s waited ({waited / done:.0f} ms per report)")  # fmt: skip
        print(f"gunicorn master (the preloaded app the workers share copy-on-write): RSS "
              f"{rss_mb(proc.pid):.0f} MB, PSS {pss_mb(proc.pid):.0f} MB")  # fmt: skip
        print("| point | reports | RSS per worker MB | peak RSS MB | PSS MB |")
        print("| --- | --- | --- | --- | --- |")
        print("\n".join(memory))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        drop_database(args.sqlite)


if __name__ == "__main__":
    main()
