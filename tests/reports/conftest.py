"""A small city for report tests: categories from the CSV, two districts, staff, photos."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import insert

from app.auth.models import Department, Role
from app.extensions import db
from app.geo.models import Region
from app.media import service as media_service
from reports.models import Category

CATEGORIES_CSV = Path(__file__).resolve().parents[2] / "reports" / "data" / "categories.csv"

# Two square districts (GCJ-02): 测试一区 around 铁西 and 测试二区 to its east.
WEST = (41.75, 123.30, 41.85, 123.40)
EAST = (41.75, 123.42, 41.85, 123.50)
INSIDE_WEST = (41.80, 123.35)
INSIDE_EAST = (41.80, 123.46)
OUTSIDE = (39.90, 116.40)


def square(box):
    lat1, lng1, lat2, lng2 = box
    ring = [[lng1, lat1], [lng2, lat1], [lng2, lat2], [lng1, lat2], [lng1, lat1]]
    return {"type": "Polygon", "coordinates": [ring]}


def district(code: str, name: str, box, department: Department | None = None) -> Region:
    """A district of the test city over ``box`` (lat1, lng1, lat2, lng2), added to the session."""
    lat1, lng1, lat2, lng2 = box
    region = Region(code=code, name=name, level="district", department=department,
                    geometry=square(box), min_lat=lat1, min_lng=lng1, max_lat=lat2, max_lng=lng2,
                    area_m2=(lat2 - lat1) * (lng2 - lng1) * 1e10, source="test")  # fmt: skip
    db.session.add(region)
    return region


def jpeg_bytes(color=(120, 60, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, "JPEG")
    return buf.getvalue()


def load_categories() -> None:
    with CATEGORIES_CSV.open(encoding="utf-8") as fh:
        rows = [
            {
                "code": r["code"], "kind": r["kind"], "major_code": r["major_code"],
                "major_name": r["major_name"], "minor_code": r["minor_code"], "name": r["name"],
                "time_limit": int(r["time_limit"]), "time_unit": r["time_unit"],
                "department_type": r["department_type"],
                "photo_required": r["photo_required"] == "1",
                "shop_related": r["shop_related"] == "1", "is_active": True,
            }
            for r in csv.DictReader(fh)
        ]  # fmt: skip
    db.session.execute(insert(Category), rows)


@dataclass
class City:
    bureau: Department
    west: Department
    west_sanitation: Department
    east: Department
    dispatcher: object
    west_handler: object
    east_handler: object
    inspector: object


@pytest.fixture
def city(db_session, make_department, make_staff) -> City:
    """Departments, regions and staff of the test city."""
    load_categories()
    bureau = make_department("T", "测试市城管局")
    west = make_department("T-W", "测试一区城管局", parent=bureau, kind="district")
    west.handles = "enforcement,municipal,street"
    sanitation = make_department("T-W-HW", "测试一区环卫中心", parent=west, kind="unit")
    sanitation.handles = "sanitation"
    east = make_department("T-E", "测试二区城管局", parent=bureau, kind="district")
    east.handles = "enforcement,municipal,street,sanitation"
    district("T-W", "测试一区", WEST, west)
    district("T-E", "测试二区", EAST, east)
    db.session.flush()
    return City(
        bureau, west, sanitation, east,
        dispatcher=make_staff("dispatcher", roles=(Role.DISPATCHER,)),
        west_handler=make_staff("west_handler", roles=(Role.HANDLER,), department=west),
        east_handler=make_staff("east_handler", roles=(Role.HANDLER,), department=east),
        inspector=make_staff("inspector", roles=(Role.INSPECTOR,)),
    )  # fmt: skip


@pytest.fixture
def photo():
    """Factory: an uploaded photo owned by a citizen or staff account; returns its public id."""

    def make(owner, color=(120, 60, 30)) -> str:
        return media_service.store_upload(jpeg_bytes(color), owner).public_id

    return make
