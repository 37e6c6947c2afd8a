"""GET /api/v1/stats/cases at 1.34 million cases on MariaDB, beside GET /healthz.

    .venv/bin/python bench/stats_bench.py [--rows 1340000] [--runs 20] [--keep]

Creates the database zhcg_bench_stats (dropped first if it exists), builds it with the app's
migrations, loads realistic cases spread from 2022-01-01 to today with LOAD DATA LOCAL INFILE,
then times the endpoint through the Flask test client with a staff bearer token: one month
city-wide, group_by=department and group_by=day, each RUNS times (p50/p95), beside GET /healthz
in the same run, and the case heat map (a month, a year). Then it adds the candidate indexes
(CANDIDATES) and times again, and prints the
MariaDB EXPLAIN of the cohort query. The database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pymysql
from sqlalchemy import event, insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.auth import service as auth_service  # noqa: E402
from app.auth.models import Department, Role  # noqa: E402
from app.extensions import api, db  # noqa: E402
from reports.models import Category, Region  # noqa: E402

SERVER = "mysql+pymysql://root@127.0.0.1:3306"
NAME = "zhcg_bench_stats"
MONTH = {"from": "2026-10-01", "to": "2026-10-31"}
START = datetime(2022, 1, 1, tzinfo=UTC)
DISTRICTS = [("210102", "和平区"), ("210103", "沈河区"), ("210104", "大东区"),
             ("210105", "皇姑区"), ("210106", "铁西区"), ("210112", "浑南区")]  # fmt: skip
CHANNELS = ["miniprogram", "mp_h5", "inspector", "hotline", "machine"]
CHANNEL_WEIGHTS = [35, 15, 35, 10, 5]
COLUMNS = ["number", "channel", "state", "description", "lat", "lng", "coord_sys_in",
           "district_code", "category_id", "department_id", "@created", "@registered",
           "@dispatched", "@due", "@handled", "@closed", "@archived", "rework_count",
           "return_count", "extension_count", "version"]  # fmt: skip
# Candidate indexes timed against the model's own, which come with the migrations (the statistics'
# covering indexes, ix_reports_stats_registered and ix_reports_stats_created; the latter holds each
# case's point for the heat map since it measured 1,711 -> 153 ms for a year here). Empty: nothing
# is being weighed now.
CANDIDATES: dict[str, str] = {}


def main() -> None:
    """Create, load, time, drop."""
    args = parse_args()
    admin = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {NAME}")
    admin.cursor().execute(f"CREATE DATABASE {NAME} CHARACTER SET utf8mb4 "
                           "COLLATE utf8mb4_unicode_ci")  # fmt: skip
    try:
        run(args)
    finally:
        if not args.keep:
            admin.cursor().execute(f"DROP DATABASE IF EXISTS {NAME}")
        admin.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_340_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


def run(args: argparse.Namespace) -> None:
    """Everything inside one app context on the bench database."""
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"{SERVER}/{NAME}?charset=utf8mb4"})
    _ensure_stats_blueprint(app)
    with app.app_context():
        from flask_migrate import upgrade

        t0 = time.perf_counter()
        upgrade()
        print(f"migrations: {time.perf_counter() - t0:.1f} s")
        categories, departments = seed_reference()
        token = staff_token()
        load_cases(args.rows, categories, departments)
        db.session.execute(text("ANALYZE TABLE reports"))
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        results = {"model indexes": time_all(client, headers, args.runs)}
        explain(client, headers)
        if CANDIDATES:
            add_candidate_indexes()
            results["+ candidates"] = time_all(client, headers, args.runs)
            explain(client, headers)
        print_table(args.rows, results)


def _ensure_stats_blueprint(app) -> None:
    """Register the stats API if the app does not (yet) wire the reports package."""
    if not any(r.rule == "/api/v1/stats/cases" for r in app.url_map.iter_rules()):
        from reports import stats_api

        api.register_blueprint(stats_api.blp)


def seed_reference() -> tuple[list[tuple[int, int]], dict[str, list[int]]]:
    """Categories from reports/data/categories.csv, a city bureau, districts and streets."""
    with open(ROOT / "reports/data/categories.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["photo_required"] = row["photo_required"] == "1"
        row["shop_related"] = row["shop_related"] == "1"
        row["time_limit"] = int(row["time_limit"])
    db.session.execute(insert(Category), rows)
    city = Department(code="SY", name="沈阳市城市管理综合行政执法局")
    db.session.add(city)
    departments: dict[str, list[int]] = {}
    for code, name in DISTRICTS:
        bureau = Department(code=f"SY-{code}", name=f"{name}城管局", parent=city)
        streets = [Department(code=f"SY-{code}-{i}", name=f"{name}第{i}街道", parent=bureau)
                   for i in range(1, 9)]  # fmt: skip
        db.session.add_all([bureau, *streets])
        db.session.add(Region(code=code, name=name, level="district", geometry={}, min_lat=0,
                              min_lng=0, max_lat=0, max_lng=0, area_m2=0))  # fmt: skip
        db.session.flush()
        departments[code] = [bureau.id] + [s.id for s in streets]
    db.session.commit()
    cats = db.session.execute(text("SELECT id, time_limit, time_unit FROM categories")).all()
    return [
        (cid, limit * 3600 if unit == "hours" else limit * 86400) for cid, limit, unit in cats
    ], departments


def staff_token() -> str:
    """A city-wide dispatcher's bearer token."""
    staff = auth_service.create_staff("bench-dispatcher", "bench-password-123",
                                      [Role.DISPATCHER.value], actor_label="bench")  # fmt: skip
    raw, _ = auth_service.issue_token(staff=staff)
    db.session.commit()
    return raw


def load_cases(rows: int, categories, departments) -> None:
    """Write the cases to a CSV and LOAD DATA LOCAL INFILE it (times as epoch seconds)."""
    fd, path = tempfile.mkstemp(suffix=".csv")
    os.close(fd)
    try:
        t0 = time.perf_counter()
        write_csv(path, rows, categories, departments)
        t1 = time.perf_counter()
        load_csv(path)
        t2 = time.perf_counter()
        print(f"generate {rows:,} cases: {t1 - t0:.1f} s; LOAD DATA: {t2 - t1:.1f} s")
    finally:
        os.unlink(path)


def write_csv(path: str, rows: int, categories, departments) -> None:
    """Cases in creation order, ``rows`` of them from START to now."""
    rng = random.Random(20261121)
    start, now = START.timestamp(), time.time()
    step = (now - start) / rows
    weights = [1 / (i + 1) ** 0.8 for i in range(len(categories))]  # a few categories dominate
    cats = rng.choices(categories, weights, k=rows)
    districts = rng.choices([d for d, _ in DISTRICTS], [14, 16, 15, 17, 22, 16], k=rows)
    channels = rng.choices(CHANNELS, CHANNEL_WEIGHTS, k=rows)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        for i in range(rows):
            created = int(start + i * step + rng.random() * step)
            out.writerow(fake_case(rng, i, created, now, cats[i], districts[i], channels[i],
                                   departments))  # fmt: skip


def fake_case(rng, i, created, now, category, district, channel, departments) -> list:
    """One CSV row (COLUMNS order): a case's life up to now; most are closed and archived."""
    cat_id, limit = category
    lat, lng = 41.7 + rng.random() * 0.2, 123.3 + rng.random() * 0.3
    place = [f"第{i % 997}号附近有问题需要处理", f"{lat:.6f}", f"{lng:.6f}", "gcj02", district,
             cat_id]  # fmt: skip
    counts, r = [0, 0, 0, 1], rng.random()
    head = [f"B{i:012d}", channel]
    if now - created < 3600 or r < 0.02:  # waiting in triage, or rejected (不予立案)
        state = "reported" if now - created < 3600 else "rejected"
        return head + [state, *place, NULL, created] + [NULL] * 6 + counts
    registered = created + rng.randint(60, 4 * 3600)
    if r < 0.04:  # merged (1.5%) or voided (0.5%) after registration
        state = "merged" if r < 0.035 else "voided"
        return head + [state, *place, NULL, created, registered] + [NULL] * 5 + counts
    state, times, counts = lifecycle(rng, registered, limit, now)
    return head + [state, *place, rng.choice(departments[district]), created, *times, *counts]


def lifecycle(rng, registered: int, limit: int, now: float) -> tuple[str, list, list]:
    """A dispatched case: handled, verified (sometimes reworked), closed, archived."""
    dispatched = registered + rng.randint(60, 3600)
    extension = 1 if rng.random() < 0.02 else 0
    rework = 1 if rng.random() < 0.03 else 0
    due = dispatched + int(limit * (1.4 + 0.5 * extension))
    closed = dispatched + int(limit * rng.uniform(0.1, 1.15) * (1 + rework))
    if closed > now or rng.random() < 0.004:  # still open
        state = rng.choice(["dispatched", "in_progress", "in_progress", "handled", "suspended"])
        handled = closed - 1800 if state == "handled" and closed - 1800 < now else NULL
        times = [registered, dispatched, due, handled, NULL, NULL]
    else:
        archived = closed + 7 * 86400
        state = "archived" if archived < now else "closed"
        times = [registered, dispatched, due, closed - 1800, closed,
                 archived if state == "archived" else NULL]  # fmt: skip
    return state, times, [rework, 0, extension, 1]


def load_csv(path: str) -> None:
    """LOAD DATA LOCAL INFILE, epoch seconds turned into UTC DATETIMEs by the server."""
    conn = pymysql.connect(host="127.0.0.1", user="root", database=NAME, local_infile=True,
                           charset="utf8mb4")  # fmt: skip
    times = ["created", "registered", "dispatched", "due", "handled", "closed", "archived"]
    sets = ", ".join(f"{t}_at = FROM_UNIXTIME(@{t})" for t in times)
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        cur.execute(
            f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE reports CHARACTER SET utf8mb4 "
            "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' "
            f"({', '.join(COLUMNS)}) SET {sets}, updated_at = FROM_UNIXTIME(@created)"
        )
    conn.commit()
    conn.close()


def add_candidate_indexes() -> None:
    """The candidate indexes (what the model would add if they pay off)."""
    for name, columns in CANDIDATES.items():
        t0 = time.perf_counter()
        db.session.execute(text(f"CREATE INDEX {name} ON reports ({columns})"))
        print(f"CREATE INDEX {name}: {time.perf_counter() - t0:.1f} s")
    db.session.execute(text("ANALYZE TABLE reports"))
    db.session.commit()


def timed(get: Callable[[], int], runs: int) -> tuple[float, float]:
    """(p50, p95) in ms over ``runs`` calls after one warm-up; every call must answer 200."""
    assert get() == 200
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        status = get()
        samples.append((time.perf_counter() - t0) * 1000)
        assert status == 200, status
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * len(samples)))]


def time_all(client, headers, runs: int) -> dict[str, tuple[float, float]]:
    """The reference and the three stats calls."""

    def stats(**params):
        return lambda: client.get("/api/v1/stats/cases", query_string={**MONTH, **params},
                                  headers=headers).status_code  # fmt: skip

    def heat(**params):
        return lambda: client.get("/api/v1/stats/heatmap", query_string={**MONTH, **params},
                                  headers=headers).status_code  # fmt: skip

    return {
        "GET /healthz (reference)": timed(lambda: client.get("/healthz").status_code, runs),
        "stats, one month, city-wide": timed(stats(), runs),
        "stats, one month, group_by=department": timed(stats(group_by="department"), runs),
        "stats, one month, group_by=day": timed(stats(group_by="day"), runs),
        "case heat map, one month, city-wide": timed(heat(), runs),
        "case heat map, one year, city-wide": timed(
            heat(**{"from": "2025-11-01", "to": "2026-10-31"}), runs
        ),
    }


def explain(client, headers) -> None:
    """EXPLAIN the SQL one city-wide request runs (captured from the engine)."""
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM reports" in statement and "count(" in statement.lower():
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    client.get("/api/v1/stats/cases", query_string=MONTH, headers=headers)
    event.remove(db.engine, "before_cursor_execute", capture)
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, parameters in seen:
            cur.execute("EXPLAIN " + statement, parameters)
            for row in cur.fetchall():
                print("  EXPLAIN", row[2], row[3], row[5], row[6], row[8], row[9])
    finally:
        raw.close()


def print_table(rows: int, results: dict[str, dict[str, tuple[float, float]]]) -> None:
    """Markdown table: one line per call, with the model's indexes and with the candidates."""
    print(f"\n{rows:,} cases, {MONTH['from']}..{MONTH['to']} unless said, ms")
    print("| call | p50 | p95 | p50 + candidates | p95 + candidates |")
    print("| --- | --- | --- | --- | --- |")
    for name, (p50, p95) in results["model indexes"].items():
        c50, c95 = results.get("+ candidates", results["model indexes"])[name]
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {c50:.1f} | {c95:.1f} |")


NULL = r"\N"

if __name__ == "__main__":
    main()
