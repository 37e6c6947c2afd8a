"""Report submission under gunicorn: reports per second with two ~1 MB photos each, latency,
and peak memory per worker, beside a trivial endpoint (GET /healthz) measured in the same run.

    .venv/bin/python bench/report_submit_bench.py [--seconds 20] [--clients 8] [--sqlite]

Runs the service as the README runs it in production (gunicorn, gthread workers) on MariaDB
(127.0.0.1:3306, a fresh database zhcg_bench_submit, dropped afterwards) with the embedded
WeChat emulator for sign-in. Load comes from client threads in this process, on 127.0.0.1 only,
bounded in time and count. Note: client and server share this machine's 2 cores.
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--sqlite", action="store_true", help="embedded SQLite instead of MariaDB")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="zhcg-bench-")
    db_url = f"sqlite:///{tmp}/bench.db"
    if not args.sqlite:
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", user="root")
        conn.cursor().execute("DROP DATABASE IF EXISTS zhcg_bench_submit")
        conn.cursor().execute("CREATE DATABASE zhcg_bench_submit CHARACTER SET utf8mb4")
        db_url = "mysql+pymysql://root@127.0.0.1:3306/zhcg_bench_submit?charset=utf8mb4"
    env = os.environ | {"FLASK_APP": "wsgi:app", "INSTANCE_DIR": tmp, "DATABASE_URL": db_url,
                        "RATELIMIT_REPORTS": "1000000/minute", "RATELIMIT_LOGIN": "100000/minute",
                        "RATELIMIT_PUBLIC": "1000000/minute", "LOG_LEVEL": "WARNING"}  # fmt: skip
    env.pop("REDIS_URL", None)
    run([str(PY / "flask"), "db", "upgrade"], env)
    run([str(PY / "flask"), "seed", "demo"], env)
    run([str(PY / "flask"), "reports", "train-classifier"], env)
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
            lat = XIAOBEI[0] + random.uniform(-0.01, 0.01)
            lng = XIAOBEI[1] + random.uniform(-0.01, 0.01)
            data = {"description": "铁西区小北一路一处雨水井盖严重破损，车辆经过很危险",
                    "lat": f"{lat:.6f}", "lng": f"{lng:.6f}"}  # fmt: skip
            files = [("photos", (f"p{j}.jpg", photos[j], "image/jpeg")) for j in range(2)]
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}",
                       "Idempotency-Key": f"bench-{i}"}  # fmt: skip
            return session.post(f"{base}/api/v1/reports", data=data, files=files,
                                headers=headers, timeout=60).status_code  # fmt: skip

        load(submit, 2, 5, 10)  # warm up (classifier, caches)
        n_ref, t_ref, lat_ref = load(healthz, args.clients, args.seconds / 2, 200_000)
        n_sub, t_sub, lat_sub = load(lambda s, i: submit(s, i + 100), args.clients,
                                     args.seconds, 5000)  # fmt: skip
        workers = worker_pids(proc.pid)
        peaks = [peak_rss_mb(p) for p in workers]
        pss = [pss_mb(p) for p in workers]
        size_mb = sum(len(p) for p in photos) / 1e6
        print(f"database: {'SQLite' if args.sqlite else 'MariaDB'}; gunicorn "
              f"{len(workers)} workers x {os.environ.get('GUNICORN_THREADS', '4')} threads; "
              f"{args.clients} client threads; photos {size_mb:.2f} MB per report")  # fmt: skip
        print("| endpoint | requests | per second | p50 ms | p99 ms |")
        print("| --- | --- | --- | --- | --- |")
        print(f"| GET /healthz (reference) | {n_ref} | {n_ref / t_ref:.0f} | "
              f"{pct(lat_ref, 50):.1f} | {pct(lat_ref, 99):.1f} |")  # fmt: skip
        print(f"| POST /api/v1/reports (2 photos) | {n_sub} | {n_sub / t_sub:.1f} | "
              f"{pct(lat_sub, 50):.0f} | {pct(lat_sub, 99):.0f} |")  # fmt: skip
        print("peak RSS per worker (MB): " + ", ".join(f"{p:.0f}" for p in peaks)
              + "; PSS after the run (MB): " + ", ".join(f"{p:.0f}" for p in pss))  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if not args.sqlite:
            import pymysql

            pymysql.connect(host="127.0.0.1", user="root").cursor().execute(
                "DROP DATABASE IF EXISTS zhcg_bench_submit")  # fmt: skip


if __name__ == "__main__":
    main()
