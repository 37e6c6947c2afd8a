"""The console's case lists at 1.34 million cases on MariaDB, beside GET /healthz in the same run.

    .venv/bin/python bench/console_list_bench.py [--rows 1340000] [--runs 10] [--keep] [--reuse]
                                                 [--upgrade-to REVISION] [--only SUBSTRING]
                                                 [--explain-over MS]

Builds the database zhcg_bench_console (dropped first if it exists) with the app's migrations and
``bench/stats_bench.py``'s generator (1,340,000 realistic cases from 2022-01-01 to today, loaded
with LOAD DATA LOCAL INFILE), then gives the cases what the generator leaves out and the console
shows: the district region each case lies in (each district region answers to its district
bureau, so a district handler sees the unassigned cases of its district too) and a few hundred
open cases flagged returned (back in 待派遣), reopened or re-dispatched.

Then, through the Flask test client, it times every list the console offers (the tabs of the
menu, each state, each filter of the case list, the number and text search, a date range), on
the first page and on a deep page, for two real staff accounts with bearer tokens: a city-wide
dispatcher and a handler of one district bureau (its subtree: the bureau and eight streets, and
the unassigned cases of its district). Also the console home (its to-do counts) and the case
list page, signed in through the login form. Each list is called once to warm up, then RUNS
times, each call right after a GET /healthz, so the reference is measured in the same run: p50
and p95 in ms and the p50 as a multiple of /healthz's. For every list whose slowest SQL statement
took more than --explain-over ms it prints that statement's MariaDB EXPLAIN.

--keep keeps the database; --reuse then runs against the kept one (the migrations are run again,
so a new migration is applied to it), skipping the 3-minute build. --upgrade-to stops the
migrations at a revision (e.g. 0015, to time without the list indexes of 0016). --only times the
calls whose name contains the text. Results and trade-offs: docs/benchmarks.md, "Console case
lists at 1.34 million cases".
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymysql
from flask.testing import FlaskClient
from sqlalchemy import event, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import stats_bench  # noqa: E402  (the case generator and the loader)

from app import create_app  # noqa: E402
from app.auth import service as auth_service  # noqa: E402
from app.auth.models import Department, Role, StaffUser  # noqa: E402
from app.extensions import db  # noqa: E402

SERVER = "mysql+pymysql://root@127.0.0.1:3306"
NAME = "zhcg_bench_console"
PASSWORD = "bench-password-123"  # noqa: S105  (a throwaway account of the bench database)
TARGET_MS = 300
DEEP_PAGE = 500  # 10,000 cases deep at 20 a page: far past where anyone pages by hand
HANDLER_DISTRICT = "210106"  # 铁西区: the busiest district of the generator (22% of cases)
STATES = ["reported", "registered", "dispatched", "in_progress", "handled", "closed", "archived",
          "rejected", "suspended", "voided", "merged"]  # fmt: skip


class FreshContextClient(FlaskClient):
    """Each request in its own app context (its own ``g`` and session), as in production; the
    bench's own context would otherwise be reused and ``g`` (the scope memo) leak across calls."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@dataclass
class Call:
    """One timed request and what it answered."""

    name: str
    get: Callable[[], object]
    samples: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)
    total: object = None
    shown: int | None = None
    statements: list[tuple[float, str, object]] = field(default_factory=list)


def main() -> None:
    """Build (or reuse), time, drop (unless --keep)."""
    args = parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    admin = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    reuse = args.reuse and _has_cases(admin)
    if not reuse:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {NAME}")
        admin.cursor().execute(f"CREATE DATABASE {NAME} CHARACTER SET utf8mb4 "
                               "COLLATE utf8mb4_unicode_ci")  # fmt: skip
    started = time.perf_counter()
    try:
        run(args, build=not reuse)
    finally:
        if not args.keep:
            admin.cursor().execute(f"DROP DATABASE IF EXISTS {NAME}")
        admin.close()
    print(f"whole run: {time.perf_counter() - started:.0f} s; "
          f"load average after: {os.getloadavg()[0]:.2f}")  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_340_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the kept database if there")
    parser.add_argument("--upgrade-to", default="head", help="migrate only up to this revision")
    parser.add_argument("--only", default="", help="time only the calls whose name has this")
    parser.add_argument("--explain-over", type=float, default=100.0,
                        help="EXPLAIN a list's slowest SQL when over this many ms")  # fmt: skip
    return parser.parse_args()


def _has_cases(admin) -> bool:
    cur = admin.cursor()
    cur.execute("SELECT COUNT(*) FROM information_schema.tables "
                "WHERE table_schema = %s AND table_name = 'reports'", (NAME,))  # fmt: skip
    if not cur.fetchone()[0]:
        return False
    cur.execute(f"SELECT COUNT(*) > 0 FROM {NAME}.reports")  # noqa: S608  (a constant name)
    return bool(cur.fetchone()[0])


def run(args: argparse.Namespace, build: bool) -> None:
    """Everything inside one app context on the bench database."""
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"{SERVER}/{NAME}?charset=utf8mb4",
                                 "CACHE_CHECK_SECONDS": 1.0})  # fmt: skip
    app.test_client_class = FreshContextClient
    with app.app_context():
        from flask_migrate import upgrade  # the bench's own optional import, as in stats_bench

        t0 = time.perf_counter()
        upgrade(revision=args.upgrade_to)
        print(f"migrations (to {args.upgrade_to}): {time.perf_counter() - t0:.1f} s")
        if build:
            categories, departments = stats_bench.seed_reference()
            stats_bench.NAME = NAME  # its loader connects to the database by this name
            stats_bench.load_cases(args.rows, categories, departments)
            t0 = time.perf_counter()
            touch_up()
            print(f"regions and flags: {time.perf_counter() - t0:.1f} s")
            db.session.execute(text("ANALYZE TABLE reports"))
        accounts = {
            "dispatcher": account("bench-dispatcher", Role.DISPATCHER, None),
            "handler": account("bench-handler", Role.HANDLER, f"SY-{HANDLER_DISTRICT}"),
        }
        db.session.commit()
        print_table_size()
        calls = list_calls(app, accounts)
        reference = calls[0].get
        calls = [c for c in calls if args.only in c.name or c.get is reference]
        for call in calls:
            measure(call, args.runs, reference)
            print(f"  {call.name}: p50 {statistics.median(call.samples):.1f} ms", flush=True)
        explain_slow(calls, args.explain_over)
        print_results(args, calls)


def touch_up() -> None:
    """What the generator leaves out: a region per case (its district's, answering to the
    district bureau) and open cases flagged for attention."""
    db.session.execute(text(
        "UPDATE regions g JOIN departments d ON d.code = CONCAT('SY-', g.code) "
        "SET g.department_id = d.id WHERE g.level = 'district'"))  # fmt: skip
    db.session.execute(
        text("UPDATE reports r JOIN regions g ON g.code = r.district_code SET r.region_id = g.id")
    )
    # Returned by a department: back in 待派遣, waiting to be re-dispatched.
    db.session.execute(
        text(
            "UPDATE reports SET state = 'registered', attention = 'returned', "
            "attention_note = '不属于本部门职责' WHERE state = 'dispatched' AND id % 3 = 0"
        )
    )
    db.session.execute(
        text(
            "UPDATE reports SET attention = 'reopened', attention_note = '问题仍未解决' "
            "WHERE state = 'in_progress' AND id % 7 = 0"
        )
    )
    db.session.execute(text(
        "UPDATE reports SET attention = 'redispatched', attention_note = '改派' "
        "WHERE state = 'dispatched' AND id % 5 = 0"))  # fmt: skip
    db.session.commit()


def account(username: str, role: Role, department_code: str | None) -> tuple[str, str]:
    """The bench's staff account (made on the first run): (username, a new bearer token)."""
    staff = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
    if staff is None:
        staff = auth_service.create_staff(username, PASSWORD, [role.value], actor_label="bench",
                                          department_code=department_code)  # fmt: skip
    raw, _ = auth_service.issue_token(staff=staff)
    return username, raw


def print_table_size() -> None:
    row = db.session.execute(text(
        "SELECT table_rows, data_length, index_length FROM information_schema.tables "
        "WHERE table_schema = DATABASE() AND table_name = 'reports'")).one()  # fmt: skip
    count = db.session.scalar(text("SELECT COUNT(*) FROM reports"))
    names = db.session.scalars(text(
        "SELECT DISTINCT index_name FROM information_schema.statistics "
        "WHERE table_schema = DATABASE() AND table_name = 'reports'")).all()  # fmt: skip
    print(
        f"reports: {count:,} rows, data {row[1] / 2**20:.0f} MiB, "
        f"indexes {row[2] / 2**20:.0f} MiB ({len(names)} indexes: {', '.join(sorted(names))})"
    )


def list_calls(app, accounts: dict[str, tuple[str, str]]) -> list[Call]:
    """Every list the console offers, for both accounts; the console home and list page."""
    values = reference_values()
    probe = app.test_client()
    calls = [Call("GET /healthz", lambda: _status(probe.get("/healthz")))]
    for who, (username, token) in accounts.items():
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        for name, query in list_queries(values, who).items():
            first = Call(f"{who} | {name} | page 1", _lister(client, headers, query, 1))
            calls.append(first)
            calls.append(Call(f"{who} | {name} | deep page", _deep(client, headers, query, first)))
        pages = app.test_client()
        login(pages, username)
        calls.append(Call(f"{who} | console home (to-do counts)", _page(pages, "/console/")))
        calls.append(Call(f"{who} | case list page (HTML)", _page(pages, "/console/cases")))
    return calls


def reference_values() -> dict[str, object]:
    """Real values to filter by, read from the bench database."""
    cats = db.session.execute(text(
        "SELECT c.code, COUNT(*) n FROM reports r JOIN categories c ON c.id = r.category_id "
        "GROUP BY c.code ORDER BY n DESC")).all()  # fmt: skip
    bureau = db.session.scalar(select(Department.id).where(
        Department.code == f"SY-{HANDLER_DISTRICT}"))  # fmt: skip
    street = db.session.scalar(select(Department.id).where(
        Department.code == f"SY-{HANDLER_DISTRICT}-3"))  # fmt: skip
    newest = db.session.scalar(text("SELECT number FROM reports ORDER BY id DESC LIMIT 1"))
    oldest = db.session.scalar(text("SELECT number FROM reports ORDER BY id LIMIT 1"))
    mine = db.session.scalar(
        text("SELECT number FROM reports WHERE department_id = :d ORDER BY id LIMIT 1"),
        {"d": street},
    )
    today = datetime.now(UTC).date()
    return {"common_category": cats[0][0], "rare_category": cats[-1][0], "bureau": bureau,
            "street": street, "newest": newest, "oldest": oldest, "mine": mine,
            "month": (str(today - timedelta(days=30)), str(today)),
            "year_ago": str(today - timedelta(days=365)),
            "old_month": ("2023-03-01", "2023-03-31")}  # fmt: skip


def list_queries(v: dict[str, object], who: str) -> dict[str, dict[str, object]]:
    """The console's tabs and filters (reports/pages.py QUEUES, the case list's form)."""
    queries: dict[str, dict[str, object]] = {"all cases": {}, "待分拨 (triage)": {"triage": 1}}
    queries |= {f"state={s}": {"state": s} for s in STATES}
    queries |= {
        "超期未结 (overdue)": {"overdue": 1},
        "department (street)": {"department_id": v["street"]},
        "department (district bureau subtree)": {"department_id": v["bureau"]},
        "district": {"district": HANDLER_DISTRICT},
        "category (most common)": {"category": v["common_category"]},
        "category (rarest)": {"category": v["rare_category"]},
        "channel=hotline": {"channel": "hotline"},
        "channel=inspector": {"channel": "inspector"},
        "from/to: last 30 days": {"from": v["month"][0], "to": v["month"][1]},
        "from/to: a month of 2023": {"from": v["old_month"][0], "to": v["old_month"][1]},
        "from/to: 2022-2023 (two years)": {"from": "2022-01-01", "to": "2023-12-31"},
        "to only: until 2023-12-31": {"to": "2023-12-31"},
        "from only: a year ago": {"from": v["year_ago"]},
        "state=archived + district + category": {"state": "archived",
                                                  "district": HANDLER_DISTRICT,
                                                  "category": v["common_category"]},
        "overdue + department": {"overdue": 1, "department_id": v["bureau"]},
        "q=number (newest case)": {"q": v["newest"]},
        "q=number (oldest case)": {"q": v["oldest" if who == "dispatcher" else "mine"]},
        "q=text matching every case": {"q": "需要处理"},
        "q=text matching 0.1%": {"q": "第512号附近"},
        "q=text matching nothing": {"q": "井盖破损"},
        "q=text + last 30 days": {"q": "第512号附近", "from": v["month"][0],
                                  "to": v["month"][1]},
    }  # fmt: skip
    return queries


def _status(resp) -> int:
    assert resp.status_code == 200, (resp.status_code, resp.get_data(as_text=True)[:300])
    return resp.status_code


def _lister(client, headers, query, page):
    def get():
        resp = client.get("/api/v1/staff/reports", headers=headers,
                          query_string={**query, "page": page, "per_page": 20})  # fmt: skip
        _status(resp)
        return resp.get_json()

    return get


def _deep(client, headers, query, first: Call):
    """DEEP_PAGE, or the last page when the list is shorter (known from its first page)."""

    def get():
        total = first.total if isinstance(first.total, int) else 0
        last = max(1, -(-total // 20))
        return _lister(client, headers, query, min(DEEP_PAGE, last))()

    return get


def _page(client, path):
    def get():
        return _status(client.get(path))

    return get


def login(client, username: str) -> None:
    """Sign in through the console's login form, as a browser does."""
    html = client.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    resp = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                               "csrf_token": csrf})  # fmt: skip
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]


def measure(call: Call, runs: int, reference: Callable[[], object]) -> None:
    """One warm-up (its SQL statements captured and timed), then ``runs`` calls, each right
    after a ``reference`` call (GET /healthz through the same app)."""
    captured: list[tuple[float, str, object]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t0"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        ms = (time.perf_counter() - conn.info.pop("bench_t0")) * 1000
        if "reports" in statement:
            captured.append((ms, statement, parameters))

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        answer = call.get()
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
    call.statements = sorted(captured, key=lambda s: s[0], reverse=True)
    if isinstance(answer, dict):
        call.total, call.shown = answer.get("total"), len(answer.get("items", []))
    for _ in range(runs):
        t0 = time.perf_counter()
        reference()
        call.reference.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        call.get()
        call.samples.append((time.perf_counter() - t0) * 1000)


def explain_slow(calls: list[Call], over_ms: float) -> None:
    """The MariaDB EXPLAIN of each list's slowest statement when it took more than ``over_ms``."""
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        for call in calls:
            if not call.statements or call.statements[0][0] <= over_ms:
                continue
            ms, statement, parameters = call.statements[0]
            print(f"\nEXPLAIN, {call.name} (slowest statement {ms:.0f} ms):")
            print("  " + _short(statement) + f"  {parameters}")
            cur.execute("EXPLAIN " + statement, parameters)
            for row in cur.fetchall():
                print(f"  {row[1]} {row[2]} type={row[3]} key={row[5]} rows={row[8]} {row[9]}")
    finally:
        raw.close()


def _short(statement: str) -> str:
    """One line, a select list of every column of reports written reports.*."""
    one = " ".join(statement.split())
    return re.sub(r"SELECT (?:reports\.\w+(?: AS \w+)?, ){5,}reports\.\w+(?: AS \w+)? FROM",
                  "SELECT reports.* FROM", one)  # fmt: skip


def print_results(args: argparse.Namespace, calls: list[Call]) -> None:
    """Markdown table for docs/benchmarks.md."""
    reference = [s for c in calls for s in c.reference]
    ref50 = statistics.median(reference)
    ref95 = _p95(reference)
    print(f"\n{args.rows:,} cases, {args.runs} runs each, "
          f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
          f"GET /healthz over the whole run: p50 {ref50:.2f} ms, p95 {ref95:.2f} ms\n")  # fmt: skip
    print("| account, list, page | total | p50 ms | p95 ms | p50 / healthz | SQL (slowest ms) |")
    print("| --- | --- | --- | --- | --- | --- |")
    over = []
    for call in calls:
        p50, p95 = statistics.median(call.samples), _p95(call.samples)
        flag = " **over**" if p95 > TARGET_MS else ""
        if flag:
            over.append(call.name)
        sql = call.statements
        slowest = f"{len(sql)} ({sql[0][0]:.0f})" if sql else "0"
        total = f"{call.total:,}" if isinstance(call.total, int) else str(call.total or "")
        print(f"| {call.name} | {total} | {p50:.1f} | {p95:.1f}{flag} | {p50 / ref50:.0f}x "
              f"| {slowest} |")  # fmt: skip
    print(f"\nover {TARGET_MS} ms at p95: {len(over)} of {len(calls)}" +
          ("".join(f"\n  - {name}" for name in over)))  # fmt: skip


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * len(ordered)))]


if __name__ == "__main__":
    main()
