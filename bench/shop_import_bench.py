"""Bench: `flask shops import` of 50,366 rows (CSV, XLSX) into fresh SQLite and MariaDB databases.

The file is the GENERATED demo registry (shops/generate.py) written as CSV and as XLSX. Each
import runs into a fresh, migrated database holding the Shenyang regions and the industries, and
is timed end to end (read, validate, place in districts, bulk insert, plate codes, commit). The
reference measured in the same run is reading and validating the same file without writing.
A second import of the same file (every row unchanged) is timed too. Each line gives wall and
CPU seconds of this process; ``--phases`` adds where the first import's time went (reading,
validating, planning, writing the shops, issuing the plate codes, commit; wall and CPU), and the
MariaDB server's own CPU when its process can be read (a local server).

    .venv/bin/python bench/shop_import_bench.py [--rows 50366] [--skip-mariadb] [--csv-only]
                                                [--phases]

Targets: issue 4, 50,366 rows in under 60 s; issue 18, the CSV on MariaDB in 10 s or less.
Results: docs/benchmarks.md, "Shop registry import".
"""

from __future__ import annotations

import argparse
import csv
import functools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from reports.seed import seed_demo  # noqa: E402
from shops import generate, importer, service  # noqa: E402

PHASES = [  # (module, function, what): the import's steps, timed with --phases
    (importer, "read_rows", "read the file"),
    (importer, "validate_rows", "validate and place every row"),
    (importer, "_plan", "compare with the stored shops"),
    (importer, "_write", "write the shops"),
    (service, "issue_plate_codes", "issue the plate codes"),
]

MARIADB_SERVER = "mysql+pymysql://root@127.0.0.1:3306"
MARIADB_NAME = "zhcg_bench_shops"


def write_files(rows: int, folder: Path) -> tuple[Path, Path]:
    """The generated registry as a CSV and an XLSX file with the import's columns."""
    from openpyxl import Workbook

    header = [*importer.COLUMNS, "status"]
    data = [
        [r["name"], r["industry"], r["credit_code"], r["address"], r["lat"], r["lng"],
         r["coord_sys"], r["owner_name"], r["owner_phone"], r["business_hours"], r["status"].value]
        for r in generate.generate_shops(rows)
    ]  # fmt: skip
    csv_path, xlsx_path = folder / "shops.csv", folder / "shops.xlsx"
    with open(csv_path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(data)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(header)
    for row in data:
        sheet.append(row)
    workbook.save(xlsx_path)
    return csv_path, xlsx_path


def fresh_app(target: str, folder: Path):
    """An app on a fresh, migrated database with the demo regions and the industries."""
    if target == "sqlite":
        path = folder / "bench.db"
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        with pymysql.connect(host="127.0.0.1", user="root", autocommit=True) as conn:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {MARIADB_NAME}")
            conn.cursor().execute(
                f"CREATE DATABASE {MARIADB_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        url = f"{MARIADB_SERVER}/{MARIADB_NAME}?charset=utf8mb4"
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        seed_demo()
        service.seed_industries()
        db.session.commit()
    return app


def timed(func: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, result)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = func()
    return time.perf_counter() - start, time.process_time() - cpu, result


def server_cpu() -> float | None:
    """CPU seconds the local MariaDB server has used, if its process can be read."""
    try:
        pid = subprocess.run(["pidof", "mariadbd"], capture_output=True, text=True).stdout.split()
        fields = Path(f"/proc/{pid[-1]}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def phases(spent: dict[str, list[float]]) -> Iterator[None]:
    """Time the import's steps (wall, CPU) into ``spent`` while inside."""
    saved = [(module, name, getattr(module, name)) for module, name, _ in PHASES]
    for (module, name, func), (_, _, what) in zip(saved, PHASES, strict=True):

        @functools.wraps(func)
        def step(*args, _func=func, _what=what, **kwargs):
            wall, cpu, result = timed(lambda: _func(*args, **kwargs))
            total = spent.setdefault(_what, [0.0, 0.0])
            total[0], total[1] = total[0] + wall, total[1] + cpu
            return result

        setattr(module, name, step)
    try:
        yield
    finally:
        for module, name, func in saved:
            setattr(module, name, func)


def run(target: str, path: Path, folder: Path, show_phases: bool) -> None:
    """Reference (read + validate), first import, re-import; one line each."""
    app = fresh_app(target, folder)
    with app.app_context():
        wall, cpu, (_, rows) = timed(lambda: importer.read_rows(path))
        wall2, cpu2, _ = timed(lambda: importer.validate_rows(rows))
        report(target, path, "read + validate (reference)", wall + wall2, cpu + cpu2, len(rows))
        spent: dict[str, list[float]] = {}

        def load():
            result = importer.import_shops(path)
            wall, cpu, _ = timed(db.session.commit)
            spent["commit"] = [wall, cpu]
            return result

        server = server_cpu() if target == "mariadb" else None
        with phases(spent):
            wall, cpu, result = timed(load)
        server = server_cpu() - server if server is not None else None
        assert result.created == len(rows) and not result.errors, result.errors[:5]
        report(target, path, "import, all new (with plate codes)", wall, cpu, len(rows))
        if show_phases:
            for what, (w, c) in spent.items():
                print(f"{'':<15} {what:<38} {w:7.2f} s {c:6.2f} s CPU")
            if server is not None:
                print(f"{'':<15} {'MariaDB server CPU meanwhile':<38} {server:7.2f} s")
        wall, cpu, result = timed(load)
        assert result.unchanged == len(rows)
        report(target, path, "re-import, all unchanged", wall, cpu, len(rows))
        db.session.remove()
        db.engine.dispose()


def report(target: str, path: Path, what: str, wall: float, cpu: float, rows: int) -> None:
    print(f"{target:<8} {path.suffix:<6} {what:<38} {wall:7.2f} s {cpu:6.2f} s CPU "
          f"{rows / wall:7.0f} rows/s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=generate.SHENYANG_SHOPS)
    parser.add_argument("--skip-mariadb", action="store_true")
    parser.add_argument("--csv-only", action="store_true")
    parser.add_argument("--phases", action="store_true", help="where the first import's time went")
    args = parser.parse_args()
    targets = ["sqlite"] + ([] if args.skip_mariadb else ["mariadb"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seconds, _, (csv_path, xlsx_path) = timed(lambda: write_files(args.rows, folder))
        print(f"generated {args.rows} rows as CSV and XLSX in {seconds:.1f} s; "
              f"cores={os.cpu_count()} load={os.getloadavg()[0]:.2f}")  # fmt: skip
        try:
            for target in targets:
                for path in (csv_path,) if args.csv_only else (csv_path, xlsx_path):
                    run(target, path, folder, args.phases)
        finally:
            if "mariadb" in targets:
                with pymysql.connect(host="127.0.0.1", user="root", autocommit=True) as conn:
                    conn.cursor().execute(f"DROP DATABASE IF EXISTS {MARIADB_NAME}")
        print(f"load_after={os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
