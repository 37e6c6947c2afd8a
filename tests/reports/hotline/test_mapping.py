"""The platform's categories and places in our terms."""

from __future__ import annotations

import csv

from sqlalchemy import select

from app.extensions import db
from app.geo import coords
from reports.hotline import mapping
from reports.models import Report
from tests.reports.conftest import CATEGORIES_CSV, INSIDE_WEST
from tests.reports.hotline.conftest import order


def test_the_mapping_table_names_real_categories_of_ours():
    by_code, by_name = mapping.table()
    with CATEGORIES_CSV.open(encoding="utf-8") as fh:
        ours = {r["code"] for r in csv.DictReader(fh)}
    assert len(by_code) >= 40 and len(by_name) == len(by_code)
    assert {c.our_code for c in by_code.values()} - {None} <= ours
    for name in ("占道经营", "乱搭乱建", "噪音扰民（施工）", "垃圾清运", "井盖缺失", "违规广告"):
        assert name in by_name
    assert mapping.our_category_code("CG0201", None) == "SJ0101"  # 乱搭乱建: 私搭乱建
    assert mapping.our_category_code(None, "噪音扰民（施工）") == "SJ0301"  # 施工扰民
    assert mapping.our_category_code("CG0501", "井盖缺失") is None  # whose cover: the text says
    assert mapping.our_category_code("ZZ99", "外星人入侵") is None


def _case(resp) -> Report:
    assert resp.status_code == 201, resp.get_json()
    return db.session.scalar(select(Report).where(Report.number == resp.get_json()["case_number"]))


def test_an_unknown_category_goes_to_the_classifier(city, send):
    report = _case(send(order(category_code="ZZ99", category_name="其他",
                              content="小区门口的雨水井盖被压碎了，晚上很危险")))  # fmt: skip
    assert report.citizen_category_id is None
    assert report.suggested_category is not None  # the model's suggestion for the dispatcher
    assert "井盖" in report.suggested_category.name


def test_a_baidu_point_is_converted_and_located(city, send):
    bd_lat, bd_lng = coords.convert(INSIDE_WEST[0], INSIDE_WEST[1], "gcj02", "bd09")
    report = _case(send(order(lat=bd_lat, lng=bd_lng, coord_sys="bd09")))
    assert abs(report.lat - INSIDE_WEST[0]) < 1e-5 and abs(report.lng - INSIDE_WEST[1]) < 1e-5
    assert report.coord_sys_in == "bd09" and report.district_code == "T-W"


def test_without_a_point_the_district_named_in_the_address_places_it(city, send):
    report = _case(send(order(lat=None, lng=None, address="测试二区建设路12号门前")))
    assert report.lat is None and report.district_code == "T-E"
    assert report.region.name == "测试二区"
    assert report.triage_reason == "no_location"  # a dispatcher puts it on the map


def test_a_point_outside_the_city_is_kept_for_a_dispatcher(city, send):
    report = _case(send(order(lat=39.9, lng=116.4, address="测试一区北京路")))
    assert report.lat is None and report.district_code == "T-W"
