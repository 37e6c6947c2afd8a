"""Import shops from CSV or XLSX, upserting by 统一社会信用代码.

Every row is validated completely (fields, industry, credit code, location inside the city)
before anything is written, so a bad row is never half-imported: good rows are written in
batches with Core executemany, bad rows come back as (row number, field, reason). With
``all_or_nothing`` any error rejects the whole file. Row numbers are the spreadsheet's: the
header is row 1.

Headers are the English column names or their Chinese names (``HEADERS``), in any order. The
``OPTIONAL`` columns may be left out: coordinates are then GCJ-02, and shops already registered
keep their business hours and status (new shops: none, and active). A CSV file is UTF-8, with
or without a byte-order mark, or else GB18030 (a superset of the GBK that Excel's
"CSV (逗号分隔)" writes on Chinese Windows).
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import Text, bindparam, insert, select, update

from app import audit, changes, csvfiles
from app.db import utcnow
from app.extensions import db
from app.geo import regions
from shops import credit_code, service
from shops.models import SHOPS_TOPIC, Shop, ShopStatus

COLUMNS = ("name", "industry", "credit_code", "address", "lat", "lng", "coord_sys",
           "owner_name", "owner_phone", "business_hours")  # fmt: skip
OPTIONAL = ("coord_sys", "business_hours", "status")
REQUIRED = tuple(c for c in COLUMNS if c not in OPTIONAL)
# Each column's Chinese header names; the first is its label in messages.
HEADERS = {
    "name": ("名称", "店铺名称", "商户名称", "门店名称", "店名"),
    "industry": ("行业", "行业类别", "所属行业"),
    "credit_code": ("统一社会信用代码", "社会信用代码", "信用代码"),
    "address": ("地址", "经营地址", "详细地址"),
    "lat": ("纬度",),
    "lng": ("经度",),
    "coord_sys": ("坐标系",),
    "owner_name": ("负责人", "负责人姓名", "经营者", "经营者姓名", "店主"),
    "owner_phone": ("联系电话", "负责人电话", "电话", "手机", "手机号"),
    "business_hours": ("营业时间",),
    "status": ("状态", "营业状态", "经营状态"),
}
LABELS = {column: names[0] for column, names in HEADERS.items()}
ALIASES = {name: column for column, names in HEADERS.items() for name in names}
# What each column holds (``flask shops import --help`` shows these).
NOTES = {
    "name": "shop name, up to 100 characters",
    "industry": "an active industry's name or code (餐饮 or catering)",
    "credit_code": "18 characters with a valid check character; the key of the upsert",
    "address": "up to 200 characters",
    "lat": "latitude in degrees, inside the city",
    "lng": "longitude in degrees",
    "coord_sys": "the system of lat and lng: gcj02 (the default), wgs84 or bd09",
    "owner_name": "up to 64 characters",
    "owner_phone": "a mobile, landline or 400 number",
    "business_hours": "free text, up to 100 characters; without the column, shops already "
    "registered keep theirs",
    "status": "active/正常营业, suspended/暂停营业 or closed/已关闭; empty or missing: new "
    "shops are active, shops already registered keep theirs",
}
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

    @property
    def imported(self) -> int:
        """Rows written or already up to date (none when ``rejected``)."""
        return 0 if self.rejected else self.created + self.updated + self.unchanged


class ImportFileError(ValueError):
    """The file itself cannot be read (format, missing columns)."""


# -- reading -----------------------------------------------------------------------------------


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """The header (column names) and the (row number, values) of a CSV or XLSX file (blank rows
    skipped); ImportFileError when the file cannot be read or lacks a required column."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        lines = _csv_lines(path)
    elif suffix in (".xlsx", ".xlsm"):
        lines = _xlsx_lines(path)
    else:
        raise ImportFileError(f"不支持的文件类型 {suffix}：请使用 .csv 或 .xlsx")
    header = _header(lines[0] if lines else [])
    rows = []
    for number, values in enumerate(lines[1:], start=2):
        if any(v not in (None, "") for v in values):
            rows.append((number, dict(zip(header, values, strict=False))))
    return header, rows


def _column(name: Any) -> str:
    text = str(name or "").strip().lstrip("\ufeff").strip()
    return ALIASES.get(text, text.lower())


def _label(column: str) -> str:
    return f"{column}（{LABELS[column]}）" if column in LABELS else column


def _header(cells: list[Any]) -> list[str]:
    """The header row as column names; refuses a missing required column or a repeated one."""
    header = [_column(c) for c in cells]
    missing = [_label(c) for c in REQUIRED if c not in header]
    if missing:
        raise ImportFileError(f"缺少列：{'、'.join(missing)}")
    repeated = sorted({c for c in header if c in HEADERS and header.count(c) > 1})
    if repeated:
        raise ImportFileError(f"列重复：{'、'.join(_label(c) for c in repeated)}")
    return header


def _csv_lines(path: Path) -> list[list[str]]:
    try:
        return csvfiles.read_lines(path)
    except csvfiles.CsvFileError as exc:
        raise ImportFileError(str(exc)) from None


def _xlsx_lines(path: Path) -> list[list[Any]]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, InvalidFileException, KeyError, ValueError):
        raise ImportFileError("无法读取 Excel 文件：请确认是 .xlsx 格式且未损坏") from None
    try:
        return [list(values) for values in workbook.worksheets[0].iter_rows(values_only=True)]
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


def _plan(
    good: list[dict[str, Any]], keep: Iterable[str] = ()
) -> tuple[list[dict], list[dict], int]:
    """Split good rows into inserts, updates (changed rows only) and an unchanged count. The
    ``keep`` fields (columns the file leaves out) keep their stored values on updates."""
    existing, now, keep = _existing(), utcnow(), [f for f in keep if f in FILE_FIELDS]
    # What every new shop gets alike, bound once a row under one name each (see _write).
    shared = {"c_duties": json.dumps(service.default_duties()), "c_source": "import",
              "c_now": now, "c_version": 1}  # fmt: skip
    inserts, updates, unchanged = [], [], 0
    for values in good:
        old = existing.get(values["credit_code"])
        if old is None:
            inserts.append(values | shared | {"status": values["status"] or ShopStatus.ACTIVE})
            continue
        row = {f: values[f] for f in FILE_FIELDS} | {f: old[f] for f in keep}
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
    # The duties are serialized once (the JSON text json.dumps would make for each row), and
    # created_at and updated_at share one parameter.
    add = insert(table).values(
        duties=bindparam("c_duties", type_=Text()), source=bindparam("c_source"),
        created_at=bindparam("c_now"), updated_at=bindparam("c_now"),
        version=bindparam("c_version"),
    )  # fmt: skip
    for start in range(0, len(inserts), BATCH):
        batch = inserts[start : start + BATCH]
        db.session.execute(add, batch)
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
    header, rows = read_rows(path)
    if on_rows:
        on_rows(len(rows))
    good, errors = validate_rows(rows, on_validate)
    result = ImportResult(total=len(rows), errors=errors)
    if errors and all_or_nothing:
        result.rejected = True
        return result
    absent = [c for c in OPTIONAL if c not in header]
    inserts, updates, result.unchanged = _plan(good, keep=absent)
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
