"""Bench: `flask shops import` of 50,366 rows (CSV, XLSX) into fresh SQLite and MariaDB databases.

The file is the GENERATED demo registry (shops/generate.py) written as CSV and as XLSX. Each
import runs into a fresh, migrated database holding the Shenyang regions and the industries, and
is timed end to end (read, validate, place in districts, bulk insert, plate codes, commit). The
reference measured in the same run is reading and validating the same file without writing.
A second import of the same file (every row unchanged) is timed too.

    .venv/bin/python bench/shop_import_bench.py [--rows 50366] [--skip-mariadb]

Target (issue 4): 50,366 rows in under 60 seconds. Results: docs/benchmarks-shops-import.md.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from reports.seed import seed_demo  # noqa: E402
from shops import generate, importer, service  # noqa: E402

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


def timed(func: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def run(target: str, path: Path, folder: Path) -> None:
    """Reference (read + validate), first import, re-import; one line each."""
    app = fresh_app(target, folder)
    with app.app_context():
        ref, (_, rows) = timed(lambda: importer.read_rows(path))
        ref_check, _ = timed(lambda: importer.validate_rows(rows))
        report(target, path, "read + validate (reference)", ref + ref_check, len(rows))

        def load():
            result = importer.import_shops(path)
            db.session.commit()
            return result

        seconds, result = timed(load)
        assert result.created == len(rows) and not result.errors, result.errors[:5]
        report(target, path, "import, all new (with plate codes)", seconds, len(rows))
        seconds, result = timed(load)
        assert result.unchanged == len(rows)
        report(target, path, "re-import, all unchanged", seconds, len(rows))
        db.session.remove()
        db.engine.dispose()


def report(target: str, path: Path, what: str, seconds: float, rows: int) -> None:
    print(f"{target:<8} {path.suffix:<6} {what:<38} {seconds:7.2f} s {rows / seconds:9.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=generate.SHENYANG_SHOPS)
    parser.add_argument("--skip-mariadb", action="store_true")
    args = parser.parse_args()
    targets = ["sqlite"] + ([] if args.skip_mariadb else ["mariadb"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seconds, (csv_path, xlsx_path) = timed(lambda: write_files(args.rows, folder))
        print(f"generated {args.rows} rows as CSV and XLSX in {seconds:.1f} s")
        try:
            for target in targets:
                for path in (csv_path, xlsx_path):
                    run(target, path, folder)
        finally:
            if "mariadb" in targets:
                with pymysql.connect(host="127.0.0.1", user="root", autocommit=True) as conn:
                    conn.cursor().execute(f"DROP DATABASE IF EXISTS {MARIADB_NAME}")


if __name__ == "__main__":
    main()
