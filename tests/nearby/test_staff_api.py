"""Staff facility API and admin facility-kind API: what staff and then citizens see."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit import AuditLog
from app.auth.models import Department, Role
from app.extensions import db
from app.geo import coords
from services_nearby import hours
from services_nearby.models import Facility, FacilityKind, FacilityStatus

URL = "/api/v1/staff/facilities"
KINDS_URL = "/api/v1/admin/facility-kinds"
HERE = (41.7930, 123.4080)  # WGS-84, 太原街 (和平区 210102)
SHENHE = (41.8000, 123.4500)  # WGS-84, 沈河区 210103


def nearby(client, kind="toilet", at=HERE, **params):
    resp = client.get(
        "/api/v1/nearby",
        query_string={"kind": kind, "lat": at[0], "lng": at[1], "coord_sys": "wgs84", **params},
    )
    return resp


def names(client, kind="toilet", at=HERE):
    return [i["name"] for i in nearby(client, kind, at).get_json()["items"]]


def audit_rows(action: str, object_id) -> list[AuditLog]:
    query = select(AuditLog).where(AuditLog.action == action, AuditLog.object_id == str(object_id))
    return list(db.session.scalars(query))


def in_district(facility: Facility, code: str) -> Facility:
    """make_facility leaves the district empty; set it as an import would have."""
    facility.district_code = code
    db.session.flush()
    return facility


def department(code: str) -> Department:
    return db.session.scalar(select(Department).where(Department.code == code))


@pytest.fixture
def city(shenyang_regions, kinds):
    """The Shenyang regions and departments plus the facility kinds."""
    return kinds


@pytest.fixture
def as_admin(admin, auth_header):
    return auth_header(admin)


@pytest.fixture
def heping_dispatcher(city, make_staff, auth_header):
    """A dispatcher of 和平区城管局 (scope: 和平区 only)."""
    staff = make_staff("heping-disp", roles=(Role.DISPATCHER,), department=department("SY-210102"))
    return auth_header(staff)


def create(client, headers, **fields):
    body = {
        "kind": "toilet",
        "name": "太原街公厕",
        "lat": 41.7935,
        "lng": 123.4080,
        "coord_sys": "wgs84",
    } | fields
    return client.post(URL, json=body, headers=headers)


# ---------------------------------------------------------------- create, edit, remove


def test_created_facility_is_found_by_citizens_at_once(client, city, as_admin):
    assert nearby(client).get_json()["items"] == []  # the index is loaded, and empty
    resp = create(
        client,
        as_admin,
        opening_hours="mo-fr 8:00-18:00；sa,su 09:00-17:00",
        fee="免费",
        accessible=True,
        address="和平区太原北街 1 号",
    )
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["opening_hours"] == "Mo-Fr 08:00-18:00; Sa,Su 09:00-17:00"
    assert body["district_code"] == "210102" and body["district_name"] == "和平区"
    assert body["source"] == "staff" and body["status"] == "active" and body["version"] == 1
    assert body["kind"] == "toilet" and body["kind_name"] == "公共厕所"
    assert (body["wgs_lat"], body["wgs_lng"]) == (41.7935, 123.4080)
    gcj = coords.convert(41.7935, 123.4080, "wgs84", "gcj02")
    assert body["lat"] == pytest.approx(gcj[0], abs=1e-9)

    items = nearby(client).get_json()["items"]
    assert [i["id"] for i in items] == [body["id"]]
    assert items[0]["distance_m"] == pytest.approx(55.6, abs=0.1)
    assert items[0]["opening_hours"] == "Mo-Fr 08:00-18:00; Sa,Su 09:00-17:00"
    assert items[0]["fee"] == "免费" and items[0]["accessible"] is True

    (row,) = audit_rows("facility.create", body["id"])
    assert row.actor_label == "nearby-admin" and row.detail["after"]["name"] == "太原街公厕"


def test_moving_a_facility_changes_the_public_order(client, city, as_admin):
    a = create(client, as_admin, name="甲公厕", lat=41.7935).get_json()
    create(client, as_admin, name="乙公厕", lat=41.7950)
    assert names(client) == ["甲公厕", "乙公厕"]

    resp = client.patch(
        f"{URL}/{a['id']}",
        headers=as_admin,
        json={"lat": 41.7990, "lng": 123.4080, "coord_sys": "wgs84", "version": a["version"]},
    )
    assert resp.status_code == 200, resp.get_json()
    moved = resp.get_json()
    assert moved["version"] == 2 and moved["wgs_lat"] == 41.7990
    items = nearby(client).get_json()["items"]
    assert [i["name"] for i in items] == ["乙公厕", "甲公厕"]
    assert items[1]["distance_m"] == pytest.approx(667.2, abs=0.5)

    (row,) = audit_rows("facility.update", a["id"])
    assert row.detail["before"]["lat"] == a["lat"] and row.detail["after"]["lat"] == moved["lat"]


def test_editing_details_shows_in_public_view_and_gcj02_input_is_default(client, city, as_admin):
    gcj = coords.convert(41.7935, 123.4080, "wgs84", "gcj02")
    created = create(client, as_admin, lat=gcj[0], lng=gcj[1], coord_sys="gcj02").get_json()
    assert created["wgs_lat"] == pytest.approx(41.7935, abs=1e-6)
    resp = client.patch(
        f"{URL}/{created['id']}",
        headers=as_admin,
        json={"name": "太原街第一公厕", "fee": "0.5元/次", "version": 1},
    )
    assert resp.status_code == 200
    (item,) = nearby(client).get_json()["items"]
    assert item["name"] == "太原街第一公厕" and item["fee"] == "0.5元/次"


def test_remove_hides_and_restore_brings_back(client, city, as_admin):
    f = create(client, as_admin).get_json()
    assert names(client) == ["太原街公厕"]
    resp = client.post(f"{URL}/{f['id']}/remove", headers=as_admin, json={"reason": "已拆除"})
    assert resp.status_code == 200 and resp.get_json()["status_label"] == "已撤销"
    assert names(client) == []
    again = client.post(f"{URL}/{f['id']}/remove", headers=as_admin)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "invalid_transition"

    assert client.post(f"{URL}/{f['id']}/restore", headers=as_admin).status_code == 200
    assert names(client) == ["太原街公厕"]
    (row,) = audit_rows("facility.remove", f["id"])
    assert row.detail["reason"] == "已拆除" and row.detail["after"] == "removed"
    assert len(audit_rows("facility.restore", f["id"])) == 1


def test_stale_version_is_refused(client, city, as_admin):
    f = create(client, as_admin).get_json()
    first = client.patch(f"{URL}/{f['id']}", headers=as_admin, json={"name": "甲", "version": 1})
    assert first.status_code == 200
    second = client.patch(f"{URL}/{f['id']}", headers=as_admin, json={"name": "乙", "version": 1})
    assert second.status_code == 409
    assert second.get_json()["error"]["code"] == "stale_version"
    assert client.get(f"{URL}/{f['id']}", headers=as_admin).get_json()["name"] == "甲"
    missing = client.patch(f"{URL}/{f['id']}", headers=as_admin, json={"name": "丙"})
    assert missing.status_code == 422 and "version" in missing.get_json()["error"]["fields"]
    stale_remove = client.post(f"{URL}/{f['id']}/remove", headers=as_admin, json={"version": 1})
    assert stale_remove.status_code == 409


def test_bad_opening_hours_get_the_parsers_chinese_message(client, city, as_admin):
    with pytest.raises(hours.HoursError) as parsed:
        hours.parse("Mo-Fr sunrise-sunset")
    resp = create(client, as_admin, opening_hours="Mo-Fr sunrise-sunset")
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["fields"]["opening_hours"] == [str(parsed.value)]
    assert "日出日落" in str(parsed.value)
    assert db.session.scalar(select(Facility.id)) is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"capacity": -1}, "capacity"),
        ({"capacity": 10, "free_spaces": 11}, "free_spaces"),
        ({"free_spaces": -2}, "free_spaces"),
        ({"kind": "casino"}, "kind"),
        ({"lat": 91}, "lat"),
        ({"coord_sys": "utm"}, "coord_sys"),
        ({"name": ""}, "name"),
        ({"lat": 40.0, "lng": 116.4}, "location"),  # Beijing: outside every Shenyang region
    ],
)
def test_bad_fields_are_422(client, city, as_admin, fields, field):
    resp = create(client, as_admin, **fields)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]


def test_capacity_below_stored_free_spaces_is_refused(client, city, as_admin):
    f = create(client, as_admin, kind="parking", name="停车场", capacity=50, free_spaces=40)
    f = f.get_json()
    assert f["free_spaces"] == 40 and f["free_spaces_at"] is not None
    resp = client.patch(f"{URL}/{f['id']}", headers=as_admin, json={"capacity": 30, "version": 1})
    assert resp.status_code == 422 and "capacity" in resp.get_json()["error"]["fields"]
    ok = client.patch(
        f"{URL}/{f['id']}", headers=as_admin, json={"capacity": 30, "free_spaces": 20, "version": 1}
    )
    assert ok.status_code == 200 and ok.get_json()["capacity"] == 30


def test_inactive_kind_cannot_be_used(client, city, as_admin):
    city["bike"].is_active = False
    db.session.flush()
    resp = create(client, as_admin, kind="bike")
    assert resp.status_code == 422 and resp.get_json()["error"]["fields"]["kind"]


# ---------------------------------------------------------------- list


def test_list_filters_and_pages(client, city, as_admin, make_facility):
    for i in range(5):
        make_facility(lat=41.7930 + i * 0.001, name=f"公厕{i}", address=f"太原街{i}号")
    make_facility(kind="park", name="中山公园", address="南京街")
    in_district(make_facility(lat=SHENHE[0], lng=SHENHE[1], name="沈河公厕"), "210103")
    gone = make_facility(name="已拆公厕")
    gone.status = FacilityStatus.REMOVED
    db.session.flush()

    def listing(**args):
        resp = client.get(URL, query_string=args, headers=as_admin)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    page = listing(kind="toilet", status="active", per_page=2, page=2)
    assert page["total"] == 6 and page["page"] == 2 and len(page["items"]) == 2
    assert [i["name"] for i in page["items"]] == ["公厕3", "公厕2"]  # newest first
    assert [i["name"] for i in listing(q="南京")["items"]] == ["中山公园"]
    assert [i["name"] for i in listing(q="公园")["items"]] == ["中山公园"]
    assert [i["name"] for i in listing(district="210103")["items"]] == ["沈河公厕"]
    assert [i["name"] for i in listing(status="removed")["items"]] == ["已拆公厕"]
    assert listing(source="osm")["total"] == 0 and listing(source="staff")["total"] == 8
    assert listing(kind="nope")["total"] == 0
    bad = client.get(URL, query_string={"per_page": 500}, headers=as_admin)
    assert bad.status_code == 422


# ---------------------------------------------------------------- who may do what


def test_read_only_roles_and_strangers(
    client, city, make_staff, make_citizen, auth_header, make_facility
):
    f = make_facility(name="公厕")
    handler = auth_header(make_staff("handler1", roles=(Role.HANDLER,)))
    assert client.get(URL, headers=handler).get_json()["total"] == 1
    assert client.get(f"{URL}/{f.id}", headers=handler).status_code == 200
    for resp in (
        create(client, handler),
        client.patch(f"{URL}/{f.id}", headers=handler, json={"name": "x", "version": 1}),
        client.post(f"{URL}/{f.id}/remove", headers=handler),
        client.get(KINDS_URL, headers=handler),
    ):
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    assert client.get(URL).status_code == 401
    citizen = auth_header(make_citizen())
    assert client.get(URL, headers=citizen).get_json()["error"]["code"] == "staff_only"
    assert client.get(f"{URL}/999999", headers=handler).status_code == 404


def test_district_staff_see_and_edit_only_their_district(
    client, city, heping_dispatcher, make_facility
):
    mine = in_district(make_facility(name="和平公厕"), "210102")
    theirs = in_district(make_facility(lat=SHENHE[0], lng=SHENHE[1], name="沈河公厕"), "210103")
    make_facility(lat=40.0, lng=116.4, name="城外公厕")
    h = heping_dispatcher
    listed = client.get(URL, headers=h).get_json()
    assert [i["name"] for i in listed["items"]] == ["和平公厕"] and listed["total"] == 1
    assert client.get(URL, query_string={"district": "210103"}, headers=h).get_json()["total"] == 0

    denied = client.get(f"{URL}/{theirs.id}", headers=h)
    assert denied.status_code == 403 and denied.get_json()["error"]["code"] == "out_of_scope"
    assert client.post(f"{URL}/{theirs.id}/remove", headers=h).status_code == 403
    outside = create(client, h, lat=SHENHE[0], lng=SHENHE[1])
    assert outside.status_code == 403 and outside.get_json()["error"]["code"] == "out_of_scope"
    move_out = client.patch(
        f"{URL}/{mine.id}",
        headers=h,
        json={"lat": SHENHE[0], "lng": SHENHE[1], "coord_sys": "wgs84", "version": mine.version},
    )
    assert move_out.status_code == 403
    db.session.expire_all()
    assert db.session.get(Facility, mine.id).district_code == "210102"

    assert create(client, h).status_code == 201
    edit = client.patch(
        f"{URL}/{mine.id}", headers=h, json={"fee": "免费", "version": mine.version}
    )
    assert edit.status_code == 200


def test_city_bureau_staff_work_city_wide(client, city, make_staff, auth_header, make_facility):
    in_district(make_facility(name="和平公厕"), "210102")
    in_district(make_facility(lat=SHENHE[0], lng=SHENHE[1], name="沈河公厕"), "210103")
    h = auth_header(make_staff("city-disp", roles=(Role.DISPATCHER,), department=department("SY")))
    assert client.get(URL, headers=h).get_json()["total"] == 2


def test_only_admins_attach_a_feed(client, city, as_admin, heping_dispatcher, make_feed):
    make_feed("城区停车系统")
    f = create(client, heping_dispatcher, kind="parking", name="停车场", capacity=100).get_json()
    denied = client.patch(
        f"{URL}/{f['id']}", headers=heping_dispatcher, json={"feed": "城区停车系统", "version": 1}
    )
    assert denied.status_code == 403
    unknown = client.patch(
        f"{URL}/{f['id']}", headers=as_admin, json={"feed": "没有的系统", "version": 1}
    )
    assert unknown.status_code == 422 and "feed" in unknown.get_json()["error"]["fields"]
    ok = client.patch(
        f"{URL}/{f['id']}",
        headers=as_admin,
        json={"feed": "城区停车系统", "external_id": "P-001", "version": 1},
    )
    assert ok.status_code == 200 and ok.get_json()["feed"] == "城区停车系统"
    assert ok.get_json()["external_id"] == "P-001"
    detach = client.patch(f"{URL}/{f['id']}", headers=as_admin, json={"feed": None, "version": 2})
    assert detach.get_json()["feed"] is None


def test_external_ids_are_unique_among_staff_facilities(client, city, as_admin):
    assert create(client, as_admin, external_id="T-1").status_code == 201
    dup = create(client, as_admin, name="另一个", external_id="T-1")
    assert dup.status_code == 409 and dup.get_json()["error"]["code"] == "external_id_exists"


# ---------------------------------------------------------------- kinds


def test_admin_lists_creates_and_edits_kinds(client, city, as_admin):
    city["bike"].is_active = False
    db.session.flush()
    listed = client.get(KINDS_URL, headers=as_admin).get_json()
    assert [k["code"] for k in listed][:3] == ["toilet", "park", "parking"]
    assert {"code": "bike", "is_active": False}.items() <= next(
        k for k in listed if k["code"] == "bike"
    ).items()

    resp = client.post(
        KINDS_URL,
        headers=as_admin,
        json={"code": "charging", "name": "充电站", "osm_tags": ["amenity=charging_station"]},
    )
    assert resp.status_code == 201, resp.get_json()
    kind = resp.get_json()
    assert (
        kind["title"] == "充电站" and kind["sort_order"] == max(k["sort_order"] for k in listed) + 1
    )
    assert audit_rows("facility_kind.create", kind["id"])[0].detail["code"] == "charging"

    # usable at once: staff add one, citizens find it
    assert create(client, as_admin, kind="charging", name="太原街充电站").status_code == 201
    assert names(client, kind="charging") == ["太原街充电站"]

    dup = client.post(KINDS_URL, headers=as_admin, json={"code": "charging", "name": "x"})
    assert dup.status_code == 409 and dup.get_json()["error"]["code"] == "kind_exists"
    edit = client.patch(
        f"{KINDS_URL}/{kind['id']}",
        headers=as_admin,
        json={"osm_tags": ["amenity=charging_station", "man_made=charge_point"], "sort_order": 0},
    )
    assert edit.status_code == 200 and len(edit.get_json()["osm_tags"]) == 2
    (row,) = audit_rows("facility_kind.update", kind["id"])
    assert row.detail["before"]["sort_order"] == kind["sort_order"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "A_b", "name": "x"}, "code"),
        ({"code": "x", "name": "x"}, "code"),
        ({"code": "9lives", "name": "x"}, "code"),
        ({"code": "ok_code", "name": ""}, "name"),
        ({"code": "ok_code", "name": "x", "osm_tags": ["amenity"]}, "osm_tags"),
        ({"code": "ok_code", "name": "x", "osm_tags": ["amenity= toilets"]}, "osm_tags"),
        ({"code": "ok_code", "name": "x", "osm_tags": ["a=b=c"]}, "osm_tags"),
    ],
)
def test_bad_kinds_are_422(client, city, as_admin, body, field):
    resp = client.post(KINDS_URL, headers=as_admin, json=body)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]


def test_kinds_are_admin_only(client, city, make_staff, auth_header):
    dispatcher = auth_header(make_staff("disp", roles=(Role.DISPATCHER,)))
    assert client.get(KINDS_URL, headers=dispatcher).status_code == 403
    resp = client.patch(
        f"{KINDS_URL}/{city['toilet'].id}", headers=dispatcher, json={"is_active": False}
    )
    assert resp.status_code == 403


def test_deactivating_a_kind_removes_it_from_citizens_search(client, city, as_admin, make_facility):
    make_facility(kind="park", name="中山公园")
    assert names(client, kind="park") == ["中山公园"]  # the index is loaded with parks
    resp = client.patch(
        f"{KINDS_URL}/{city['park'].id}", headers=as_admin, json={"is_active": False}
    )
    assert resp.status_code == 200 and resp.get_json()["is_active"] is False
    gone = nearby(client, kind="park")
    assert gone.status_code == 404 and gone.get_json()["error"]["code"] == "unknown_kind"
    assert "park" not in [k["code"] for k in client.get("/api/v1/nearby/kinds").get_json()]

    client.patch(f"{KINDS_URL}/{city['park'].id}", headers=as_admin, json={"is_active": True})
    assert names(client, kind="park") == ["中山公园"]


def test_renaming_a_kind_title_shows_in_citizens_search(client, city, as_admin, make_facility):
    make_facility(kind="park", name="中山公园")
    assert nearby(client, kind="park").get_json()["kind"]["title"] == "好游园"
    client.patch(f"{KINDS_URL}/{city['park'].id}", headers=as_admin, json={"title": "逛公园"})
    assert client.get("/api/v1/nearby/kinds").get_json()[1]["title"] == "逛公园"
    assert nearby(client, kind="park").get_json()["kind"]["title"] == "逛公园"


def test_kind_writes_take_a_change_number(client, city, as_admin):
    from services_nearby.models import FacilitySync

    before = db.session.scalar(select(FacilitySync.seq).where(FacilitySync.id == 1)) or 0
    client.patch(f"{KINDS_URL}/{city['park'].id}", headers=as_admin, json={"title": "逛公园"})
    db.session.expire_all()
    after = db.session.scalar(select(FacilitySync.seq).where(FacilitySync.id == 1))
    assert after == before + 1
    assert db.session.get(FacilityKind, city["park"].id).title == "逛公园"


def test_the_list_costs_the_same_queries_for_1_or_20_facilities(
    client, city, as_admin, make_facility, make_feed
):
    from sqlalchemy import event

    feed, _ = make_feed()
    counts = []
    for n in (1, 19):
        for i in range(n):
            make_facility(kind="parking", lat=41.79 + i * 1e-4, feed_id=feed.id)
        statements: list[str] = []

        def count(*args, _statements=statements):
            _statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert client.get(URL, headers=as_admin).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        counts.append(len(statements))
    assert 3 < counts[0] == counts[1]
