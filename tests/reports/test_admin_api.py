"""Reference-data admin API and the public category list."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from app.audit import AuditLog
from app.auth.models import Role
from app.extensions import db
from app.geo import coords, regions
from app.geo.models import Region
from reports import reference
from reports.models import CalendarDay, Category
from reports.seed import DEMO_POINTS, seed_demo_departments, seed_reference

SQUARE_WGS = [[123.340, 41.800], [123.350, 41.800], [123.350, 41.808], [123.340, 41.808]]


@pytest.fixture
def admin(make_staff, auth_header):
    return auth_header(make_staff("root", roles=(Role.ADMIN,)))


@pytest.fixture
def dispatcher(make_staff, auth_header):
    return auth_header(make_staff("disp", roles=(Role.DISPATCHER,)))


@pytest.fixture
def reference_data(db_session):
    seed_reference()
    return seed_demo_departments()


def audits(action: str) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action)))


def geojson_upload(features, **form):
    body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    return {"file": (io.BytesIO(body), "regions.geojson"), **form}


def square_feature(code, name, ring=SQUARE_WGS, **props):
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, **props},
        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
    }


ADMIN_ROUTES = [
    ("get", "/api/v1/admin/categories"),
    ("post", "/api/v1/admin/categories"),
    ("patch", "/api/v1/admin/categories/1"),
    ("get", "/api/v1/admin/departments"),
    ("post", "/api/v1/admin/departments"),
    ("patch", "/api/v1/admin/departments/1"),
    ("get", "/api/v1/admin/regions"),
    ("post", "/api/v1/admin/regions/import"),
    ("get", "/api/v1/admin/regions/1"),
    ("patch", "/api/v1/admin/regions/1"),
    ("get", "/api/v1/admin/calendar?year=2026"),
    ("put", "/api/v1/admin/calendar/2026-10-01"),
    ("delete", "/api/v1/admin/calendar/2026-10-01"),
]


@pytest.mark.parametrize(("method", "url"), ADMIN_ROUTES)
def test_admin_routes_need_an_admin(client, dispatcher, method, url):
    anonymous = getattr(client, method)(url, json={})
    assert anonymous.status_code == 401
    assert anonymous.get_json()["error"]["code"] == "unauthorized"
    other_role = getattr(client, method)(url, json={}, headers=dispatcher)
    assert other_role.status_code == 403
    assert other_role.get_json()["error"]["code"] == "forbidden"


# -- categories ----------------------------------------------------------------------------------


def test_public_categories_list_active_ones_without_sign_in(client, reference_data):
    cover = db.session.scalar(select(Category).where(Category.code == "BJ0103"))
    cover.is_active = False
    db.session.flush()
    resp = client.get("/api/v1/categories")
    assert resp.status_code == 200
    items = resp.get_json()
    codes = [c["code"] for c in items]
    every = db.session.scalar(select(func.count()).select_from(Category))
    assert "BJ0103" not in codes and len(codes) == every - 1 > 100
    garbage = next(c for c in items if c["code"] == "SJ0102")
    definition = garbage.pop("definition")
    asked = [q["label"] for q in garbage.pop("questions")]
    assert asked == ["垃圾大约有多少？", "是否有明显异味或污水外流？"]
    assert garbage == {
        "code": "SJ0102",
        "kind": "事件",
        "major": "市容环境",
        "name": "暴露垃圾",
        "photo_required": True,
    }
    # the help text a citizen sees says what does not belong here and where it goes instead
    assert "生活垃圾" in definition and "积存垃圾渣土" in definition


def test_public_categories_are_rate_limited(app, client, reference_data, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_PUBLIC", "2/minute")
    statuses = [client.get("/api/v1/categories").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_create_category(client, admin, reference_data):
    body = {
        "code": "SJ0590",
        "kind": "事件",
        "major_code": "05",
        "major_name": "街面秩序",
        "minor_code": "90",
        "name": "占道洗车",
        "time_limit": 1,
        "time_unit": "days",
        "department_type": "enforcement",
    }
    resp = client.post("/api/v1/admin/categories", json=body, headers=admin)
    assert resp.status_code == 201, resp.get_json()
    out = resp.get_json()
    assert out["full_name"] == "事件/街面秩序/占道洗车" and out["time_limit_label"] == "1个工作日"
    assert out["photo_required"] is True and out["is_active"] is True
    (entry,) = audits("category.create")
    assert entry.actor_label == "root" and entry.detail["name"] == "占道洗车"
    again = client.post("/api/v1/admin/categories", json=body, headers=admin)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "duplicate_code"
    assert len(audits("category.create")) == 1


def test_create_category_validates(client, admin, reference_data):
    body = {
        "code": "X 1",
        "kind": "问题",
        "major_code": "5",
        "major_name": "",
        "minor_code": "09",
        "name": "n",
        "time_limit": 0,
        "time_unit": "weeks",
        "department_type": "Sanitation!",
    }
    resp = client.post("/api/v1/admin/categories", json=body, headers=admin)
    assert resp.status_code == 422
    fields = resp.get_json()["error"]["fields"]
    assert set(fields) >= {
        "code",
        "kind",
        "major_code",
        "major_name",
        "time_limit",
        "time_unit",
        "department_type",
    }
    nobody = dict(
        body,
        code="SJ0510",
        kind="事件",
        major_code="05",
        major_name="街面秩序",
        time_limit=1,
        time_unit="days",
        department_type="fireworks",
    )
    resp = client.post("/api/v1/admin/categories", json=nobody, headers=admin)
    assert resp.status_code == 422
    assert "department_type" in resp.get_json()["error"]["fields"]


def test_update_and_deactivate_a_category(client, admin, reference_data):
    cover = db.session.scalar(select(Category).where(Category.code == "BJ0103"))
    url = f"/api/v1/admin/categories/{cover.id}"
    resp = client.patch(url, json={"time_limit": 6, "time_unit": "hours"}, headers=admin)
    assert resp.status_code == 200
    assert resp.get_json()["time_limit_label"] == "6个工作时"
    (entry,) = audits("category.update")
    assert entry.detail["changes"]["time_limit"] == [2, 6]
    assert client.patch(url, json={"is_active": False}, headers=admin).status_code == 200
    assert reference.category_by_code("BJ0103") is None
    assert "BJ0103" not in [c["code"] for c in client.get("/api/v1/categories").get_json()]
    listed = client.get("/api/v1/admin/categories?active=false", headers=admin).get_json()
    assert [c["code"] for c in listed] == ["BJ0103"]


def test_update_category_errors(client, admin, reference_data):
    assert (
        client.patch(
            "/api/v1/admin/categories/999999", json={"time_limit": 3}, headers=admin
        ).status_code
        == 404
    )
    cover = db.session.scalar(select(Category).where(Category.code == "BJ0103"))
    url = f"/api/v1/admin/categories/{cover.id}"
    empty = client.patch(url, json={}, headers=admin)
    assert empty.status_code == 422
    code_change = client.patch(url, json={"code": "NEW"}, headers=admin)
    assert code_change.status_code == 422 and "code" in code_change.get_json()["error"]["fields"]


# -- departments ---------------------------------------------------------------------------------


def test_department_tree(client, admin, reference_data):
    resp = client.get("/api/v1/admin/departments", headers=admin)
    assert resp.status_code == 200
    (city,) = resp.get_json()
    assert city["name"] == "沈阳市城市管理综合行政执法局" and city["handles"] == []
    children = {c["name"]: c for c in city["children"]}
    assert children["沈阳市排水集团"]["handles"] == ["water"]
    tiexi = children["铁西区城管局"]
    assert tiexi["handles"] == ["enforcement", "municipal", "street"]
    assert {c["name"] for c in tiexi["children"]} >= {"铁西区环卫中心", "滑翔街道办事处"}


def test_create_and_update_departments(client, admin, reference_data):
    tiexi = reference_data["SY-210106"]
    body = {
        "code": "SY-210106-SZ",
        "name": "铁西区市政工程处",
        "kind": "unit",
        "parent_id": tiexi.id,
        "handles": ["municipal"],
    }
    resp = client.post("/api/v1/admin/departments", json=body, headers=admin)
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert created["parent_id"] == tiexi.id and created["handles"] == ["municipal"]
    assert client.post("/api/v1/admin/departments", json=body, headers=admin).status_code == 409
    url = f"/api/v1/admin/departments/{created['id']}"
    resp = client.patch(
        url, json={"handles": ["municipal", "water"], "name": "铁西区市政所"}, headers=admin
    )
    assert resp.get_json()["handles"] == ["municipal", "water"]
    (entry,) = audits("department.update")
    assert entry.detail["changes"]["name"] == ["铁西区市政工程处", "铁西区市政所"]
    assert len(audits("department.create")) == 1


def test_department_parent_must_exist_and_not_be_below_itself(client, admin, reference_data):
    tiexi, unit = reference_data["SY-210106"], reference_data["SY-210106-HW"]
    url = f"/api/v1/admin/departments/{tiexi.id}"
    below = client.patch(url, json={"parent_id": unit.id}, headers=admin)
    assert below.status_code == 422 and "parent_id" in below.get_json()["error"]["fields"]
    itself = client.patch(url, json={"parent_id": tiexi.id}, headers=admin)
    assert itself.status_code == 422
    unknown = client.patch(url, json={"parent_id": 999999}, headers=admin)
    assert unknown.status_code == 422
    missing = client.patch("/api/v1/admin/departments/999999", json={"name": "x"}, headers=admin)
    assert missing.status_code == 404
    bad = client.post(
        "/api/v1/admin/departments",
        json={"code": "", "kind": "mayor", "handles": ["BAD TYPE"]},
        headers=admin,
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) >= {"code", "name", "kind", "handles"}


def test_deactivating_a_unit_reroutes_its_work(client, admin, reference_data, db_session):
    from reports.seed import seed_demo_regions

    seed_demo_regions()
    point = DEMO_POINTS["taiyuan_jie"]
    found = reference.responsible_department(regions.locate(point.lat, point.lng), "sanitation")
    assert found.name == "和平区环卫中心"
    client.patch(f"/api/v1/admin/departments/{found.id}", json={"is_active": False}, headers=admin)
    district = reference_data["SY-210102"]
    client.patch(
        f"/api/v1/admin/departments/{district.id}",
        json={"handles": ["enforcement", "municipal", "street", "sanitation"]},
        headers=admin,
    )
    db.session.expire_all()
    again = reference.responsible_department(regions.locate(point.lat, point.lng), "sanitation")
    assert again.name == "和平区城管局"


# -- regions -------------------------------------------------------------------------------------


def test_import_list_get_and_update_regions(client, admin, reference_data):
    form = geojson_upload(
        [square_feature("G1", "测试网格")],
        level="grid",
        coord_sys="wgs84",
        code_prop="code",
        source="测绘 2026",
    )
    resp = client.post(
        "/api/v1/admin/regions/import", data=form, headers=admin, content_type="multipart/form-data"
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"created": ["G1"], "updated": []}
    (entry,) = audits("region.import")
    assert entry.actor_label == "root" and entry.detail["created"] == ["G1"]

    listed = client.get("/api/v1/admin/regions?level=grid", headers=admin).get_json()
    assert [r["code"] for r in listed] == ["G1"] and "geometry" not in listed[0]
    region_id = listed[0]["id"]
    one = client.get(f"/api/v1/admin/regions/{region_id}", headers=admin).get_json()
    lng, lat = one["geometry"]["coordinates"][0][0][0]
    want_lat, want_lng = coords.convert(41.800, 123.340, "wgs84", "gcj02")
    assert (lat, lng) == (pytest.approx(want_lat, abs=1e-6), pytest.approx(want_lng, abs=1e-6))
    assert one["source_coord_sys"] == "wgs84" and one["source"] == "测绘 2026"

    lat, lng = coords.convert(41.804, 123.345, "wgs84", "gcj02")
    assert regions.locate(lat, lng).code == "G1"
    unit = reference_data["SY-210106-HX"]
    resp = client.patch(
        f"/api/v1/admin/regions/{region_id}",
        json={"department_id": unit.id, "is_active": False},
        headers=admin,
    )
    assert resp.status_code == 200
    assert resp.get_json()["department"]["name"] == "滑翔街道办事处"
    assert regions.locate(lat, lng) is None  # the routing cache saw the edit at once
    (entry,) = audits("region.update")
    assert entry.detail["changes"]["is_active"] == [True, False]
    renamed = client.patch(f"/api/v1/admin/regions/{region_id}", json={"name": " 兴华网格 "},
                           headers=admin)  # fmt: skip
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "兴华网格"
    blank = client.patch(f"/api/v1/admin/regions/{region_id}", json={"name": "  "}, headers=admin)
    assert blank.status_code == 422 and blank.get_json()["error"]["fields"]["name"]


def test_region_import_rejects_a_bad_file_with_row_errors(client, admin, reference_data):
    bad = square_feature("G2", "坏的", ring=[[123.3, 41.8], [123.31, 41.8]])
    form = geojson_upload(
        [square_feature("G1", "好的"), bad], level="grid", coord_sys="wgs84", code_prop="code"
    )
    resp = client.post("/api/v1/admin/regions/import", data=form, headers=admin)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "region_import_failed"
    assert list(error["fields"]["features"]) == ["1"]
    assert "G2" in error["fields"]["features"]["1"][0]
    assert db.session.scalar(select(Region).where(Region.code == "G1")) is None
    assert audits("region.import") == []


def test_region_import_validates_the_form(client, admin):
    form = geojson_upload([square_feature("G1", "好的")], level="country", coord_sys="utm")
    resp = client.post("/api/v1/admin/regions/import", data=form, headers=admin)
    assert resp.status_code == 422
    assert set(resp.get_json()["error"]["fields"]) >= {"level", "coord_sys"}
    no_file = client.post(
        "/api/v1/admin/regions/import", headers=admin, data={"level": "grid", "coord_sys": "wgs84"}
    )
    assert no_file.status_code == 422 and "file" in no_file.get_json()["error"]["fields"]
    not_json = client.post(
        "/api/v1/admin/regions/import",
        headers=admin,
        data={
            "file": (io.BytesIO(b"\xff not json"), "x.geojson"),
            "level": "grid",
            "coord_sys": "wgs84",
        },
    )
    assert not_json.status_code == 422 and "file" in not_json.get_json()["error"]["fields"]


def test_region_errors(client, admin):
    assert client.get("/api/v1/admin/regions/999999", headers=admin).status_code == 404
    assert (
        client.patch(
            "/api/v1/admin/regions/999999", json={"is_active": False}, headers=admin
        ).status_code
        == 404
    )


# -- calendar ------------------------------------------------------------------------------------


def test_calendar_year_put_and_delete(client, admin, reference_data):
    resp = client.get("/api/v1/admin/calendar?year=2026", headers=admin)
    days = resp.get_json()["days"]
    assert {"day": "2026-10-01", "kind": "holiday", "name": "国庆节"} in days
    assert all(d["day"].startswith("2026-") for d in days)

    # A city-declared holiday on a Thursday moves a deadline at once.
    start = datetime(2026, 11, 18, 1, 0, tzinfo=UTC)  # Wed 09:00 Shanghai
    before = reference.work_calendar().add_working_days(start, 1)
    resp = client.put(
        "/api/v1/admin/calendar/2026-11-19",
        json={"kind": "holiday", "name": "城市纪念日"},
        headers=admin,
    )
    assert resp.status_code == 200
    assert resp.get_json() == {"day": "2026-11-19", "kind": "holiday", "name": "城市纪念日"}
    after = reference.work_calendar().add_working_days(start, 1)
    assert (before.day, after.day) == (19, 20)
    assert audits("calendar.put")[0].detail["changes"]["kind"] == [None, "holiday"]

    resp = client.delete("/api/v1/admin/calendar/2026-11-19", headers=admin)
    assert resp.status_code == 204
    assert db.session.get(CalendarDay, date(2026, 11, 19)) is None
    assert reference.work_calendar().add_working_days(start, 1) == before
    assert len(audits("calendar.delete")) == 1


def test_calendar_errors(client, admin):
    weekday = client.put(
        "/api/v1/admin/calendar/2026-11-19", json={"kind": "workday"}, headers=admin
    )
    assert weekday.status_code == 422 and "kind" in weekday.get_json()["error"]["fields"]
    bad_kind = client.put(
        "/api/v1/admin/calendar/2026-11-21", json={"kind": "party"}, headers=admin
    )
    assert bad_kind.status_code == 422
    bad_date = client.put(
        "/api/v1/admin/calendar/2026-13-40", json={"kind": "holiday"}, headers=admin
    )
    assert bad_date.status_code == 422 and "day" in bad_date.get_json()["error"]["fields"]
    assert client.delete("/api/v1/admin/calendar/2026-11-19", headers=admin).status_code == 404
    no_year = client.get("/api/v1/admin/calendar", headers=admin)
    assert no_year.status_code == 422 and "year" in no_year.get_json()["error"]["fields"]


def test_everything_is_in_the_openapi_spec(client):
    spec = client.get("/api/openapi.json").get_json()
    paths = spec["paths"]
    assert set(paths["/api/v1/admin/categories/{category_id}"]["patch"]["responses"]) >= {
        "200",
        "401",
        "403",
        "404",
        "422",
    }
    assert "409" in paths["/api/v1/admin/departments"]["post"]["responses"]
    body = paths["/api/v1/admin/regions/import"]["post"]["requestBody"]["content"]
    schema_ref = body["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "file" in spec["components"]["schemas"][schema_ref]["required"]
    assert "429" in paths["/api/v1/categories"]["get"]["responses"]
    assert "Department" in str(paths["/api/v1/admin/departments"]["get"]["responses"]["200"])
