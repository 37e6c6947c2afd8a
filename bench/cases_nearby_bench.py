"""GET /api/v1/reports/nearby (身边案件) at about 200,000 cases, on MariaDB and on SQLite, beside
GET /healthz in the same run.

    .venv/bin/python bench/cases_nearby_bench.py [--rows 200000] [--days 180] [--runs 300]
                                                 [--skip-mariadb] [--skip-sqlite] [--keep]

For each database: a fresh one (MariaDB ``zhcg_bench_nearby`` on 127.0.0.1:3306, dropped first
and at the end unless --keep; SQLite a temporary file), built with the app's migrations and the
demo reference data (categories, departments, the real Shenyang district polygons and the
synthetic streets). The cases come from ``bench/stats_bench.py``'s generator (channels, a long
tail of categories, 2% rejected, 1.5% merged, 0.5% voided, nearly all closed after their time
limit), spread over the last ``--days`` days so that the city's rate (about 1,100 a day in
Shenyang) holds: with the defaults a month of closed cases and every open one are public. Each
case gets the region its point lies in; every public case a photo row, about a third of them
1-3 followers. Then, through the Flask test client with a citizen's bearer token, requests at
random points of the urban area are interleaved one by one: /healthz, then nearby with radius
300 (the default), 1000 and 2000 m; p50/p95 and the p50 ratio to /healthz. It prints the query
plan of the case query (the widest circle a request searched: reports.follows searches growing
circles) and, if CANDIDATES names any, times again with those indexes.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymysql
from sqlalchemy import event, func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import stats_bench  # noqa: E402  (the case generator)

from app import create_app  # noqa: E402
from app.auth import service as auth_service  # noqa: E402
from app.auth.models import Department, WechatApp  # noqa: E402
from app.extensions import db  # noqa: E402
from app.geo import regions  # noqa: E402
from app.media.models import Media  # noqa: E402
from reports import follows  # noqa: E402
from reports.models import Category, Channel, PhotoStage, Report, ReportPhoto, ReportState  # noqa: E402
from reports.seed import seed_demo  # noqa: E402

SERVER = "mysql+pymysql://root@127.0.0.1:3306"
NAME = "zhcg_bench_nearby"
URBAN = (41.72, 41.88, 123.32, 123.58)  # where the query points fall (GCJ-02), inside the data
RADII = (300, 1000, 2000)
CHUNK = 5000
# Candidate indexes, timed against the model's own (ix_reports_lat_lng), which MariaDB is then
# told to use. Empty: nothing is being weighed now ((lat, lng, state, closed_at) was: no gain
# once the search grew its circles, see docs/benchmarks.md).
CANDIDATES: dict[str, str] = {}
# How the search runs, timed side by side at the same points: name -> reports.follows settings.
VARIANTS: dict[str, dict] = {
    "as shipped (circles from 250 m)": {"FIRST_STEP_M": 250, "NEARBY_INDEX": "ix_reports_lat_lng"},
    "one circle of the whole radius": {"FIRST_STEP_M": 10**9, "NEARBY_INDEX": "ix_reports_lat_lng"},
} | {f"+ {name}": {"FIRST_STEP_M": 250, "NEARBY_INDEX": name} for name in CANDIDATES}


def main() -> None:
    """Each database in turn: build, load, time; then the tables for docs/benchmarks.md."""
    args = parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    results = {}
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            results["SQLite"] = run(args, f"sqlite:///{tmp}/bench.db", tmp)
    if not args.skip_mariadb:
        admin = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {NAME}")
        admin.cursor().execute(f"CREATE DATABASE {NAME} CHARACTER SET utf8mb4 "
                               "COLLATE utf8mb4_unicode_ci")  # fmt: skip
        try:
            with tempfile.TemporaryDirectory() as tmp:
                results["MariaDB"] = run(args, f"{SERVER}/{NAME}?charset=utf8mb4", tmp)
        finally:
            if not args.keep:
                admin.cursor().execute(f"DROP DATABASE IF EXISTS {NAME}")
            admin.close()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print_tables(args, results)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=180, help="the cases' span, up to today")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--skip-mariadb", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the MariaDB database")
    return parser.parse_args()


def run(args: argparse.Namespace, url: str, tmp: str) -> dict:
    """Build, load and time one database: {"timings": {call: {variant: figures}}, ...}."""
    # The testing config, with the production default for reading change counters (the tests
    # read them on every request).
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": f"{tmp}/uploads",
                                 "CHANGES_FILE": f"{tmp}/changes.bin",
                                 "CACHE_CHECK_SECONDS": 1.0})  # fmt: skip
    out: dict = {}
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        seed_demo()
        db.session.commit()
        t0 = time.perf_counter()
        load_cases(args.rows, args.days)
        token, public = add_photos_and_follows()
        out["load_s"] = time.perf_counter() - t0
        out["public"] = public
        out["rows"] = db.session.scalar(select(func.count()).select_from(Report))
        print(f"{url.split(':')[0]}: {out['rows']:,} cases ({public:,} public) loaded in "
              f"{out['load_s']:.0f} s")  # fmt: skip
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        print(" before ANALYZE:")
        out["plan, no statistics"] = explain(client, headers, url)
        for name, columns in CANDIDATES.items():
            db.session.execute(text(f"CREATE INDEX {name} ON reports ({columns})"))
        db.session.commit()
        analyze(url)
        out["timings"] = time_all(client, headers, args.runs)
        out["plan"] = explain(client, headers, url)
        db.session.remove()
    return out


def reference() -> tuple[list[tuple[int, int]], dict[str, list[int]]]:
    """What the generator needs: (category id, time limit in seconds), and per district code
    the ids of its 城管局 and the units below it."""
    cats = db.session.execute(select(Category.id, Category.time_limit, Category.time_unit)).all()
    categories = [(cid, limit * (3600 if unit == "hours" else 86400)) for cid, limit, unit in cats]
    departments: dict[str, list[int]] = {}
    for code, _ in stats_bench.DISTRICTS:
        mine = select(Department.id).where(Department.code.startswith(f"SY-{code}"))
        departments[code] = list(db.session.scalars(mine))
    return categories, departments


def load_cases(rows: int, days: int) -> None:
    """stats_bench's cases over the last ``days`` days, each with the region it lies in."""
    categories, departments = reference()
    stats_bench.START = datetime.now(UTC) - timedelta(days=days)
    found = regions.snapshot()
    fd, path = tempfile.mkstemp(suffix=".csv")
    os.close(fd)
    try:
        stats_bench.write_csv(path, rows, categories, departments)
        with open(path, encoding="utf-8") as fh:
            batch = []
            for raw in csv.reader(fh):
                batch.append(as_row(raw, found))
                if len(batch) == CHUNK:
                    db.session.execute(insert(Report.__table__), batch)
                    batch = []
            if batch:
                db.session.execute(insert(Report.__table__), batch)
        db.session.commit()
    finally:
        os.unlink(path)


TIMES = ("created_at", "registered_at", "dispatched_at", "due_at", "handled_at", "closed_at",
         "archived_at")  # fmt: skip


def as_row(raw: list[str], found: regions.Snapshot) -> dict:
    """One generated CSV line (stats_bench.COLUMNS) as a row of the reports table."""
    values = dict(zip(stats_bench.COLUMNS, raw, strict=True))
    lat, lng = float(values["lat"]), float(values["lng"])
    region = found.locate(lat, lng)
    district = found.district_of(region)
    row = {
        "number": values["number"], "channel": Channel(values["channel"]),
        "state": ReportState(values["state"]), "description": values["description"],
        "lat": lat, "lng": lng, "coord_sys_in": "gcj02",
        "district_code": district.code if district else None,
        "region_id": region.id if region else None,
        "category_id": int(values["category_id"]),
        "department_id": None if values["department_id"] == stats_bench.NULL
        else int(values["department_id"]),
        "rework_count": int(values["rework_count"]), "return_count": int(values["return_count"]),
        "extension_count": int(values["extension_count"]), "version": int(values["version"]),
        "reopen_count": 0,
    }  # fmt: skip
    for name in TIMES:
        stamp = values["@" + name.removesuffix("_at")]
        row[name] = None if stamp == stats_bench.NULL else datetime.fromtimestamp(int(stamp), UTC)
    row["updated_at"] = row["created_at"]
    return row


def add_photos_and_follows() -> tuple[str, int]:
    """A photo row for every public case (owned by a citizen: shown), 1-3 followers for about a
    third of them; a follower's token, and the number of public cases."""
    rng = random.Random(20261205)
    citizens = [auth_service.citizen_from_wechat(WechatApp.MINIPROGRAM, "wx-bench",
                                                 f"o-bench-{i}")[0] for i in range(5)]  # fmt: skip
    token, _ = auth_service.issue_token(user=citizens[0])
    db.session.commit()
    ids = db.session.scalars(select(Report.id).where(follows.listable_clause())).all()
    now = datetime.now(UTC)
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        db.session.execute(insert(Media.__table__), [
            {"id": rid, "public_id": f"bench{rid:011d}", "storage_key": f"media/bench/{rid}.jpg",
             "content_type": "image/jpeg", "format": "jpeg", "size": 180_000, "width": 1600,
             "height": 1200, "sha256": "0" * 64, "user_id": citizens[rid % 5].id,
             "created_at": now, "kind": "image"} for rid in part
        ])  # fmt: skip
        db.session.execute(insert(ReportPhoto.__table__), [
            {"report_id": rid, "media_id": rid, "stage": PhotoStage.REPORT, "position": 0}
            for rid in part
        ])  # fmt: skip
    followed = [
        {"report_id": rid, "user_id": c.id, "created_at": now}
        for rid in ids if rng.random() < 0.33
        for c in rng.sample(citizens, rng.randint(1, 3))
    ]  # fmt: skip
    for start in range(0, len(followed), CHUNK):
        db.session.execute(insert(follows.ReportFollow.__table__), followed[start : start + CHUNK])
    db.session.commit()
    return token, len(ids)


def analyze(url: str) -> None:
    """Fresh statistics, and new connections (an SQLite connection keeps the statistics it
    read when it opened)."""
    db.session.execute(text("ANALYZE TABLE reports" if url.startswith("mysql") else "ANALYZE"))
    db.session.commit()
    db.session.remove()
    db.engine.dispose()


def time_all(client, headers, runs: int) -> dict[str, dict[str, dict]]:
    """Interleaved one by one at each random point: /healthz, then each radius with each
    VARIANTS setting. {call: {variant: {"p50", "p95", "items"}}}."""
    rng = random.Random(42)
    samples: dict[tuple[str, str], list[float]] = {}
    counts: dict[tuple[str, str], list[int]] = {}

    def timed(key: tuple[str, str], call: Callable[[], object]) -> object:
        t0 = time.perf_counter()
        resp = call()
        samples.setdefault(key, []).append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return resp

    for i in range(runs + 5):  # the first five warm up and are dropped
        lat, lng = rng.uniform(URBAN[0], URBAN[1]), rng.uniform(URBAN[2], URBAN[3])
        timed(("GET /healthz (reference)", ""), lambda: client.get("/healthz"))
        for radius in RADII:
            query = {"lat": f"{lat:.6f}", "lng": f"{lng:.6f}", "radius": radius}
            for variant, settings in VARIANTS.items():
                for name, value in settings.items():
                    setattr(follows, name, value)
                key = (f"nearby, radius {radius} m", variant)
                resp = timed(
                    key,
                    lambda q=query: client.get(
                        "/api/v1/reports/nearby", query_string=q, headers=headers
                    ),
                )
                counts.setdefault(key, []).append(len(resp.get_json()["items"]))
        if i == 4:
            samples, counts = {}, {}
    for name, value in next(iter(VARIANTS.values())).items():
        setattr(follows, name, value)
    out: dict[str, dict[str, dict]] = {}
    for (call, variant), values in samples.items():
        values.sort()
        p95 = values[min(len(values) - 1, round(0.95 * len(values)))]
        items = statistics.mean(counts[(call, variant)]) if (call, variant) in counts else None
        out.setdefault(call, {})[variant] = {"p50": statistics.median(values), "p95": p95,
                                             "items": items}  # fmt: skip
    return out


def explain(client, headers, url: str) -> list[str]:
    """The plan of the case query one request runs (captured from the engine)."""
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "LEFT OUTER JOIN categories" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    client.get("/api/v1/reports/nearby", headers=headers,
               query_string={"lat": 41.80, "lng": 123.42, "radius": 2000})  # fmt: skip
    event.remove(db.engine, "before_cursor_execute", capture)
    raw = db.engine.raw_connection()
    lines = []
    try:
        cur = raw.cursor()
        for statement, parameters in seen[-1:]:  # the widest circle the request searched
            if url.startswith("mysql"):
                cur.execute("EXPLAIN " + statement, parameters)
                lines += [f"{r[3]} key={r[5]} rows={r[8]} {r[9]}" for r in cur.fetchall()]
            else:
                cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                lines += [str(r[-1]) for r in cur.fetchall()]
    finally:
        raw.close()
    for line in lines:
        print("  plan:", line)
    return lines


def print_tables(args: argparse.Namespace, results: dict) -> None:
    """Markdown: one table per database, a line per call and variant."""
    for name, out in results.items():
        print(f"\n{name}: {out['rows']:,} cases over {args.days} days, {out['public']:,} public; "
              f"{args.runs} requests per line, ms")  # fmt: skip
        print("| call | variant | p50 | p95 | p50 / healthz p50 | items (mean) |")
        print("| --- | --- | --- | --- | --- | --- |")
        ref = out["timings"]["GET /healthz (reference)"][""]["p50"]
        for call, variants in out["timings"].items():
            for variant, t in variants.items():
                items = f"{t['items']:.1f}" if t["items"] is not None else ""
                print(f"| {call} | {variant} | {t['p50']:.2f} | {t['p95']:.2f} "
                      f"| {t['p50'] / ref:.1f}x | {items} |")  # fmt: skip


if __name__ == "__main__":
    main()
