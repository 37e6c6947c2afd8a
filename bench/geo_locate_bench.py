"""What GET /api/v1/geo/locate costs (the report form calls it as the pin moves), beside /healthz.

Usage: .venv/bin/python bench/geo_locate_bench.py [--requests N] [--rounds R] [--http]

A throwaway SQLite database is migrated and given the demo city's regions (the 14 real Shenyang
districts and the city outline, 36,600 vertices, plus the synthetic streets). In process, each
request goes through the whole WSGI app (routing, the per-address rate limit, the handlers) with
a prepared environ, timed one by one with perf_counter_ns; the two endpoints alternate in rounds,
so a slow phase of the machine hits both. Points are uniform over the city's box (about 40% of
them outside the city outline, which is the cheap case) and, separately, over the urban core.
With --http the same app runs under gunicorn (gunicorn.conf.py) and one client times sequential
requests over a kept-alive connection, alternating the endpoints.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from werkzeug.test import EnvironBuilder  # noqa: E402

URBAN = (41.74, 123.30, 41.88, 123.52)  # GCJ-02 box over 铁西/和平/沈河/皇姑/大东


def make_app(tmp: Path):
    """The app on a migrated SQLite file holding the demo regions."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from reports.seed import seed_demo_departments, seed_demo_regions

    url = f"sqlite:///{tmp / 'bench.db'}"
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_DIR": str(tmp),
                                 "CHANGES_FILE": str(tmp / "changes.bin"), "TESTING": False,
                                 "RATELIMIT_PUBLIC": "10000000/minute",
                                 # as deployed: the regions' change counter is read once a
                                 # second, not on every request as in the tests
                                 "CACHE_CHECK_SECONDS": 1.0})  # fmt: skip
    with app.app_context():
        upgrade()
        seed_demo_departments()
        seed_demo_regions()
        db.session.commit()
    return app, url


def points(app, n: int, seed: int, box=None) -> list[tuple[float, float]]:
    """n GCJ-02 points uniform over ``box`` (default: the box around every region)."""
    from app.geo import regions

    with app.app_context():
        snap = regions.snapshot()
        min_lat, min_lng, max_lat, max_lng = box or snap.bbox
        rng = np.random.default_rng(seed)
        lats = rng.uniform(min_lat, max_lat, n).tolist()
        lngs = rng.uniform(min_lng, max_lng, n).tolist()
        inside = sum(snap.locate(a, b) is not None for a, b in zip(lats, lngs, strict=True))
    print(f"  {n} points, {inside / n:.0%} inside the city", file=sys.stderr)
    return list(zip(lats, lngs, strict=True))


def environs(paths: list[str]) -> list[dict]:
    return [EnvironBuilder(path=p.split("?")[0], query_string=p.partition("?")[2],
                           environ_base={"REMOTE_ADDR": "10.0.0.7"}).get_environ()
            for p in paths]  # fmt: skip


def run(app, envs: list[dict]) -> list[float]:
    """Microseconds per request through the WSGI app, one timing per request."""
    status: list[str] = []

    def start_response(s, _headers, _exc=None):
        status.append(s)

    out = []
    clock = time.perf_counter_ns
    for env in envs:
        t0 = clock()
        body = app(dict(env), start_response)
        b"".join(body)
        if hasattr(body, "close"):
            body.close()
        out.append((clock() - t0) / 1000)
    bad = [s for s in status if not s.startswith("200")]
    if bad:
        raise SystemExit(f"unexpected answers: {bad[:3]}")
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def row(name: str, us: list[float], ref: list[float] | None = None) -> str:
    ratio = f" | {statistics.median(us) / statistics.median(ref):.2f}" if ref else " | 1.00"
    return (f"| {name} | {statistics.median(us):.1f} | {pct(us, 0.99):.1f} | "
            f"{statistics.fmean(us):.1f}{ratio} |")  # fmt: skip


def in_process(app, n: int, rounds: int) -> None:
    from app.geo import regions
    from app.geo.api import locate_point

    anywhere = points(app, n, 1)
    urban = points(app, n, 2, URBAN)
    health = environs(["/healthz"] * n)
    cases = {
        "city box": environs([f"/api/v1/geo/locate?lat={a}&lng={b}" for a, b in anywhere]),
        "urban core": environs([f"/api/v1/geo/locate?lat={a}&lng={b}" for a, b in urban]),
        "urban core, wgs84": environs(
            [f"/api/v1/geo/locate?lat={a - 0.0013}&lng={b - 0.0063}&coord=wgs84" for a, b in urban]
        ),
    }
    timings: dict[str, list[float]] = {"healthz": [], **{k: [] for k in cases}}
    run(app, health[:200])  # warm: imports, the regions snapshot, the limiter
    for envs in cases.values():
        run(app, envs[:200])
    for _ in range(rounds):
        timings["healthz"] += run(app, health)
        for name, envs in cases.items():
            timings[name] += run(app, envs)
    with app.app_context():
        regions.snapshot()
        where = []
        answer = []
        for lat, lng in urban:
            t0 = time.perf_counter_ns()
            with contextlib.suppress(regions.OutsideCity):
                regions.where(lat, lng)
            where.append((time.perf_counter_ns() - t0) / 1000)
            t0 = time.perf_counter_ns()
            locate_point(lat, lng)
            answer.append((time.perf_counter_ns() - t0) / 1000)
    with app.test_request_context():
        from services_nearby.nearest import remoteness

        regions.snapshot()
        usual = []  # a citizen in town with a toilet 300 m away: the box test alone
        for lat, lng in urban:
            t0 = time.perf_counter_ns()
            remoteness((lat - 0.0013, lng - 0.0063), "wgs84", 300.0, "公共厕所")
            usual.append((time.perf_counter_ns() - t0) / 1000)
    ref = timings["healthz"]
    print("\n| in process, per request | p50 µs | p99 µs | mean µs | p50 / healthz |")
    print("| --- | --- | --- | --- | --- |")
    print(row("`GET /healthz` (reference)", ref))
    for name in cases:
        print(row(f"`GET /api/v1/geo/locate`, {name}", timings[name], ref))
    print(row("`regions.where` alone, urban core", where, ref))
    print(row("`locate_point` (where + the answer dict), urban core", answer, ref))
    print(row("nearby's `remoteness` check, usual query (wgs84, 300 m)", usual, ref))


def http(url: str, tmp: Path, n: int, rounds: int) -> None:
    """Sequential requests to gunicorn over one kept-alive connection, alternating endpoints."""
    import requests

    sys.path.insert(0, str(ROOT / "bench"))
    from report_submit_bench import free_port, start_server

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "GUNICORN_CMD_ARGS")}
    env |= {"APP_ENV": "development", "DATABASE_URL": url, "INSTANCE_DIR": str(tmp),
            "CHANGES_FILE": str(tmp / "changes.bin"), "RATELIMIT_PUBLIC": "10000000/minute",
            "GUNICORN_BIND": f"127.0.0.1:{port}", "LOG_LEVEL": "WARNING"}  # fmt: skip
    proc = start_server(env, port)
    try:
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        urban = np.random.default_rng(3)
        pts = list(zip(urban.uniform(URBAN[0], URBAN[2], n), urban.uniform(URBAN[1], URBAN[3], n),
                       strict=True))  # fmt: skip
        health, locate = [], []
        for _ in range(rounds + 1):
            h, g = [], []
            for lat, lng in pts:
                t0 = time.perf_counter()
                session.get(base + "/healthz").raise_for_status()
                h.append((time.perf_counter() - t0) * 1e6)
                t0 = time.perf_counter()
                session.get(f"{base}/api/v1/geo/locate?lat={lat}&lng={lng}").raise_for_status()
                g.append((time.perf_counter() - t0) * 1e6)
            if _:  # the first round warms the workers
                health += h
                locate += g
        print("\n| under gunicorn, one client, sequential | p50 µs | p99 µs | mean µs | "
              "p50 / healthz |")  # fmt: skip
        print("| --- | --- | --- | --- | --- |")
        print(row("`GET /healthz` (reference)", health))
        print(row("`GET /api/v1/geo/locate`, urban core", locate, health))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="per endpoint and round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--http", action="store_true", help="also under gunicorn")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, load {load:.1f} at "
          f"start, {args.requests} requests x {args.rounds} rounds per endpoint",
          file=sys.stderr)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="geo-locate-bench-") as tmp:
        app, url = make_app(Path(tmp))
        in_process(app, args.requests, args.rounds)
        if args.http:
            http(url, Path(tmp), min(args.requests, 2000), args.rounds)


if __name__ == "__main__":
    main()
