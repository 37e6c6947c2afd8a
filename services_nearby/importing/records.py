"""What every stage of a facility import shares: the columns, a record read from a file, a row's
error, the result, and the error that refuses a whole file.

Row numbers: CSV rows count the header as row 1; GeoJSON features and OSM elements are numbered
from 1 and also named in ``RowError.ref`` ("要素 3", "node/123").
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIELDS = ("kind", "name", "lat", "lng", "coord_sys", "address", "opening_hours", "fee",
          "accessible", "capacity", "external_id")  # fmt: skip
CHINESE_HEADERS = {"类型": "kind", "名称": "name", "纬度": "lat", "经度": "lng",
                   "坐标系": "coord_sys", "地址": "address", "开放时间": "opening_hours",
                   "收费": "fee", "无障碍": "accessible", "容量": "capacity",
                   "编号": "external_id"}  # fmt: skip
FIELD_LABELS = {v: k for k, v in CHINESE_HEADERS.items()}
# Columns a file may leave out: a missing column keeps what is stored (new rows get the default).
OPTIONAL = {"address": "", "opening_hours": "", "fee": "", "accessible": None, "capacity": None}
PLACE = ("lat", "lng", "wgs_lat", "wgs_lng", "coord_sys_in", "district_code")
MAX_LEN = {"name": 100, "address": 200, "fee": 64, "external_id": 64}
COORD_SYSTEMS = {"wgs84": "wgs84", "gcj02": "gcj02", "bd09": "bd09"}
FORMATS = {"csv": "csv", "geojson": "geojson", "json": "geojson", "osm": "osm", "pbf": "osm"}
DEFAULT_SYS = {"csv": "gcj02", "geojson": "wgs84", "osm": "wgs84"}
ERROR_COLUMNS = ("row", "ref", "field", "reason")


class ImportFileError(ValueError):
    """The file cannot be imported at all (unreadable, unknown format, missing columns)."""


@dataclass
class Record:
    """One row, feature or element with values under the CSV column names."""

    row: int
    raw: dict[str, Any]
    ref: str = ""


@dataclass
class Loaded:
    """A file read into records."""

    records: list[Record]
    default_sys: str
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RowError:
    """Why one field of one row (feature, element) was refused."""

    row: int
    field: str
    reason: str
    ref: str = ""


@dataclass
class ImportResult:
    """What an import did (nothing is written when ``rejected``)."""

    format: str = "csv"
    source: str = ""
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rejected: bool = False

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})


def write_error_report(errors: list[RowError], path: Path) -> None:
    """The row-level errors as a CSV (UTF-8 with BOM, so spreadsheet programs read it), with
    the element (ref) that each row names, as the shop import writes its report."""
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(ERROR_COLUMNS)
        writer.writerows(tuple(getattr(e, c) for c in ERROR_COLUMNS) for e in errors)
