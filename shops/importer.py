"""Import shops from CSV or XLSX, upserting by 统一社会信用代码.

Every row is validated completely (fields, industry, credit code, location inside the city)
before anything is written, so a bad row is never half-imported: good rows are written in
batches with Core executemany, bad rows come back as (row number, field, reason). With
``all_or_nothing`` any error rejects the whole file. Row numbers are the spreadsheet's: the
header is row 1.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import bindparam, insert, select, update

from app import audit, changes
from app.db import utcnow
from app.extensions import db
from app.geo import regions
from shops import credit_code, service
from shops.models import SHOPS_TOPIC, Shop, ShopStatus

COLUMNS = ("name", "industry", "credit_code", "address", "lat", "lng", "coord_sys",
           "owner_name", "owner_phone", "business_hours")  # fmt: skip
OPTIONAL = ("status",)
FILE_FIELDS = (
    "name", "industry_id", "address", "lat", "lng", "coord_sys_in", "district_code",
    "street_region_id", "owner_name", "owner_phone", "business_hours", "status",
)  # fmt: skip
MAX_LEN = {"name": 100, "address": 200, "owner_name": 64, "business_hours": 100}
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?|400-?\d{3}-?\d{4})$")
COORD_SYSTEMS = {"wgs84": "wgs84", "gcj02": "gcj02", "bd09": "bd09", "": "gcj02"}
STATUS_NAMES = {s.value: s for s in ShopStatus} | {s.label: s for s in ShopStatus}
BATCH = 1000

Progress = Callable[[int], None]


@dataclass(frozen=True)
class RowError:
    """Why one field of one row was refused."""

    row: int
    field: str
    reason: str


@dataclass
class ImportResult:
    """What an import did (nothing is written when ``rejected``)."""

    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    rejected: bool = False
    new_ids: list[int] = field(default_factory=list)

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})


class ImportFileError(ValueError):
    """The file itself cannot be read (format, missing columns)."""


# -- reading -----------------------------------------------------------------------------------


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """The header and the (row number, values) of a CSV or XLSX file (blank rows skipped)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        records = _csv_records(path)
    elif suffix in (".xlsx", ".xlsm"):
        records = _xlsx_records(path)
    else:
        raise ImportFileError(f"不支持的文件类型 {suffix}：请使用 .csv 或 .xlsx")
    header = [str(h or "").strip().lower() for h in next(records, [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ImportFileError(f"缺少列：{', '.join(missing)}")
    rows = []
    for number, values in enumerate(records, start=2):
        if any(v not in (None, "") for v in values):
            rows.append((number, dict(zip(header, values, strict=False))))
    return header, rows


def _csv_records(path: Path) -> Iterator[list[Any]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        yield from csv.reader(fh)


def _xlsx_records(path: Path) -> Iterator[list[Any]]:
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        for values in workbook.worksheets[0].iter_rows(values_only=True):
            yield list(values)
    finally:
        workbook.close()


# -- validating --------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone number typed into a spreadsheet cell
    return "" if value is None else str(value).strip()


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class RowValidator:
    """Turns a raw row into column values, or lists every problem with it."""

    def __init__(self) -> None:
        self.industries = service.industry_lookup()
        self.locator = regions.snapshot()
        self.seen: dict[str, int] = {}

    def __call__(self, number: int, raw: dict[str, Any]) -> tuple[dict[str, Any] | None, list]:
        """(values, []) for a good row, (None, errors) for a bad one."""
        errors: list[RowError] = []
        values = self._texts(number, raw, errors)
        values["credit_code"] = self._credit_code(number, raw.get("credit_code"), errors)
        values["industry_id"] = self._industry(number, raw.get("industry"), errors)
        values["status"] = self._status(number, raw.get("status"), errors)
        self._place(number, raw, values, errors)
        return (None, errors) if errors else (values, [])

    def _texts(self, number: int, raw: dict[str, Any], errors: list) -> dict[str, Any]:
        values = {}
        for name in ("name", "address", "owner_name", "business_hours"):
            text = _text(raw.get(name))
            if not text and name != "business_hours":
                errors.append(RowError(number, name, "不能为空"))
            elif len(text) > MAX_LEN[name]:
                errors.append(RowError(number, name, f"不能超过 {MAX_LEN[name]} 个字"))
            values[name] = text
        phone = _text(raw.get("owner_phone")).replace(" ", "").removeprefix("+86")
        if not PHONE.match(phone):
            errors.append(RowError(number, "owner_phone", "不是有效的手机或固定电话号码"))
        values["owner_phone"] = phone
        return values

    def _credit_code(self, number: int, value: Any, errors: list) -> str | None:
        try:
            code = credit_code.validate(_text(value))
        except credit_code.CreditCodeError as exc:
            errors.append(RowError(number, "credit_code", str(exc)))
            return None
        first = self.seen.setdefault(code, number)
        if first != number:
            errors.append(RowError(number, "credit_code", f"与第 {first} 行的统一社会信用代码重复"))
        return code

    def _industry(self, number: int, value: Any, errors: list) -> int | None:
        industry_id = self.industries.get(_text(value))
        if industry_id is None:
            errors.append(RowError(number, "industry", f"行业“{_text(value)}”不存在或已停用"))
        return industry_id

    def _status(self, number: int, value: Any, errors: list) -> ShopStatus | None:
        text = _text(value)
        if text and text.lower() not in STATUS_NAMES and text not in STATUS_NAMES:
            errors.append(RowError(number, "status", "应为 active、suspended 或 closed"))
        return STATUS_NAMES.get(text.lower()) or STATUS_NAMES.get(text) if text else None

    def _place(self, number: int, raw: dict[str, Any], values: dict, errors: list) -> None:
        key = _text(raw.get("coord_sys")).lower().replace("-", "").replace("_", "")
        coord_sys = COORD_SYSTEMS.get(key)
        lat, lng = _number(raw.get("lat")), _number(raw.get("lng"))
        if coord_sys is None:
            errors.append(RowError(number, "coord_sys", "应为 wgs84、gcj02 或 bd09"))
        if lat is None or not -90 <= lat <= 90:
            errors.append(RowError(number, "lat", "纬度应为 -90 到 90 之间的数字"))
        if lng is None or not -180 <= lng <= 180:
            errors.append(RowError(number, "lng", "经度应为 -180 到 180 之间的数字"))
        if errors and any(e.field in ("coord_sys", "lat", "lng") for e in errors):
            return
        try:
            place = self.locator.place(lat, lng, coord_sys)
        except regions.OutsideCity as exc:
            errors.append(RowError(number, "lat", str(exc)))
            return
        values.update(service.place_columns(place, coord_sys))


def validate_rows(
    rows: Iterable[tuple[int, dict[str, Any]]], progress: Progress | None = None
) -> tuple[list[dict[str, Any]], list[RowError]]:
    """Good rows' column values and every error of the bad rows."""
    check, good, errors = RowValidator(), [], []
    for number, raw in rows:
        values, row_errors = check(number, raw)
        if values is not None:
            good.append(values)
        errors.extend(row_errors)
        if progress:
            progress(1)
    return good, errors


# -- writing -----------------------------------------------------------------------------------


def _existing() -> dict[str, dict[str, Any]]:
    """Current shops by credit code, with the columns a file can change."""
    columns = [Shop.id, Shop.credit_code] + [getattr(Shop, f) for f in FILE_FIELDS]
    return {r.credit_code: r._asdict() for r in db.session.execute(select(*columns))}


def _plan(good: list[dict[str, Any]]) -> tuple[list[dict], list[dict], int]:
    """Split good rows into inserts, updates (changed rows only) and an unchanged count."""
    existing, now = _existing(), utcnow()
    inserts, updates, unchanged = [], [], 0
    for values in good:
        old = existing.get(values["credit_code"])
        if old is None:
            status = values["status"] or ShopStatus.ACTIVE
            inserts.append({**values, "status": status, "duties": service.default_duties(),
                            "source": "import", "created_at": now, "updated_at": now,
                            "version": 1})  # fmt: skip
            continue
        row = {f: values[f] for f in FILE_FIELDS}
        row["status"] = values["status"] or old["status"]
        if all(old[f] == row[f] for f in FILE_FIELDS):
            unchanged += 1
        else:
            params = {f"v_{k}": v for k, v in row.items()}
            updates.append(params | {"b_id": old["id"], "v_now": now})
    return inserts, updates, unchanged


def _write(inserts: list[dict], updates: list[dict], progress: Progress | None) -> list[int]:
    """Bulk-insert and bulk-update in batches; the ids of the new shops."""
    table = Shop.__table__
    new_ids: list[int] = []
    changes.touch(SHOPS_TOPIC)
    for start in range(0, len(inserts), BATCH):
        batch = inserts[start : start + BATCH]
        db.session.execute(insert(table), batch)
        codes = [r["credit_code"] for r in batch]
        new_ids += db.session.scalars(select(Shop.id).where(Shop.credit_code.in_(codes))).all()
        if progress:
            progress(len(batch))
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({f: bindparam(f"v_{f}") for f in FILE_FIELDS})
        .values(updated_at=bindparam("v_now"), version=table.c.version + 1)
    )
    for start in range(0, len(updates), BATCH):
        batch = updates[start : start + BATCH]
        db.session.execute(statement, batch)
        if progress:
            progress(len(batch))
    return new_ids


def import_shops(
    path: Path,
    *,
    all_or_nothing: bool = False,
    actor_label: str = "cli",
    on_validate: Progress | None = None,
    on_write: Progress | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> ImportResult:
    """Validate every row of the file, then write the good ones (none if ``all_or_nothing`` and
    any row is bad). Flushes; the caller commits. ``on_rows(n)`` is told the row count first."""
    _, rows = read_rows(path)
    if on_rows:
        on_rows(len(rows))
    good, errors = validate_rows(rows, on_validate)
    result = ImportResult(total=len(rows), errors=errors)
    if errors and all_or_nothing:
        result.rejected = True
        return result
    inserts, updates, result.unchanged = _plan(good)
    result.new_ids = _write(inserts, updates, on_write)
    result.created, result.updated = len(inserts), len(updates)
    service.issue_plate_codes(result.new_ids)
    db.session.expire_all()  # Core writes bypassed the identity map
    audit.record("shop.import", "shop_file", path.name, actor_label=actor_label,
                 rows=result.total, created=result.created, updated=result.updated,
                 unchanged=result.unchanged, bad_rows=result.bad_rows)  # fmt: skip
    return result


def write_error_report(
    errors: list[Any], path: Path, columns: tuple[str, ...] = ("row", "field", "reason")
) -> None:
    """The row-level errors as a CSV (UTF-8 with BOM, so spreadsheet programs read it), one
    column per attribute named in ``columns``."""
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(tuple(getattr(e, c) for c in columns) for e in errors)
