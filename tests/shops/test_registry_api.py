"""Staff shop registry API: roles and scope, search, create, edit, status changes, industries."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit import AuditLog
from app.auth.models import Department, Role
from app.extensions import db
from reports.models import Channel, Report, ReportState
from tests.shops.conftest import new_credit_code

URL = "/api/v1/staff/shops"
TIEXI = (41.8120, 123.3550)  # 小北一路, 铁西区


@pytest.fixture
def staff(make_staff, shenyang_regions, industries):
    """admin, a city-wide dispatcher, a 铁西区 dispatcher and a handler."""
    tiexi = db.session.scalar(select(Department).where(Department.code == "SY-210106"))
    return {
        "admin": make_staff("a1", (Role.ADMIN,)),
        "dispatcher": make_staff("d1", (Role.DISPATCHER,)),
        "tiexi": make_staff("d2", (Role.DISPATCHER,), department=tiexi),
        "handler": make_staff("h1", (Role.HANDLER,)),
    }


def audits(action: str) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action)))


def new_shop_body(**kw) -> dict:
    body = {
        "name": "德胜汽修厂", "industry": "auto_repair", "credit_code": new_credit_code("210106"),
        "address": "沈阳市铁西区小北一路5号", "lat": TIEXI[0], "lng": TIEXI[1],
        "owner_name": "孙八", "owner_phone": "13600001234", "business_hours": "08:00-18:00",
    }  # fmt: skip
    return body | kw


def test_who_may_use_the_registry(client, staff, make_citizen, auth_header, make_shop):
    make_shop()
    assert client.get(URL).json["error"]["code"] == "unauthorized"
    response = client.get(URL, headers=auth_header(make_citizen()))
    assert (response.status_code, response.json["error"]["code"]) == (403, "staff_only")
    assert client.get(URL, headers=auth_header(staff["handler"])).status_code == 403
    for who in ("admin", "dispatcher"):
        assert client.get(URL, headers=auth_header(staff[who])).json["total"] == 1


def test_search_filters_paginates_and_shows_full_owner_data(client, staff, auth_header, make_shop):
    for i in range(5):
        make_shop(name=f"鑫源饺子馆{i}")
    make_shop(name="佳佳便利店", industry="convenience", status="suspended")
    make_shop(name="铁西汽修", industry="auto_repair", district_code="210106", lat=TIEXI[0])
    headers = auth_header(staff["dispatcher"])
    page = client.get(URL, query_string={"q": "饺子", "per_page": 2, "page": 3}, headers=headers)
    assert page.json["total"] == 5 and len(page.json["items"]) == 1
    item = page.json["items"][0]
    assert item["owner_phone"] == "13800138000" and item["owner_name"] == "张三丰"
    assert item["district_name"] == "和平区" and item["industry"]["name"] == "餐饮"
    only = client.get(URL, query_string={"status": "suspended"}, headers=headers).json
    assert [s["name"] for s in only["items"]] == ["佳佳便利店"]
    tiexi = client.get(URL, query_string={"district": "210106"}, headers=headers).json
    assert [s["name"] for s in tiexi["items"]] == ["铁西汽修"]
    code = tiexi["items"][0]["credit_code"]
    by_code = client.get(URL, query_string={"credit_code": code[:12]}, headers=headers).json
    assert by_code["total"] >= 1 and code in [s["credit_code"] for s in by_code["items"]]
    bad = client.get(URL, query_string={"status": "open", "per_page": 0}, headers=headers)
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {
        "status",
        "per_page",
    }


def test_district_dispatcher_sees_only_their_district(client, staff, auth_header, make_shop):
    heping = make_shop()
    tiexi = make_shop(name="铁西汽修", district_code="210106")
    headers = auth_header(staff["tiexi"])
    listed = client.get(URL, headers=headers).json
    assert [s["id"] for s in listed["items"]] == [tiexi.id]
    response = client.get(f"{URL}/{heping.id}", headers=headers)
    assert (response.status_code, response.json["error"]["code"]) == (403, "out_of_scope")
    suspend = client.post(f"{URL}/{heping.id}/suspend", json={"reason": "越权"}, headers=headers)
    assert suspend.status_code == 403
    reissue = client.post(f"{URL}/{heping.id}/codes/reissue", json={"reason": "越权换牌"},
                          headers=headers)  # fmt: skip
    assert (reissue.status_code, reissue.json["error"]["code"]) == (403, "out_of_scope")
    assert client.get(f"{URL}/{heping.id}/qr.png", headers=headers).status_code == 403
    outside = new_shop_body(lat=41.7930, lng=123.4080)  # 和平区
    assert client.post(URL, json=outside, headers=headers).status_code == 403
    assert client.post(URL, json=new_shop_body(), headers=headers).status_code == 201


def test_create_places_the_shop_and_is_audited(client, staff, auth_header):
    headers = auth_header(staff["dispatcher"])
    body = new_shop_body(credit_code=new_credit_code("210106").lower())
    response = client.post(URL, json=body, headers=headers)
    assert response.status_code == 201, response.json
    shop = response.json
    assert shop["district_code"] == "210106" and shop["district_name"] == "铁西区"
    assert shop["credit_code"] == body["credit_code"].upper() and shop["source"] == "staff"
    assert shop["status"] == "active" and len(shop["duties"]) == 3
    assert [c["status"] for c in shop["codes"]] == ["active"]
    assert audits("shop.create")[0].object_id == str(shop["id"])
    again = client.post(URL, json=body, headers=headers)
    assert (again.status_code, again.json["error"]["code"]) == (409, "credit_code_exists")


def test_create_rejects_bad_input_with_field_errors(client, staff, auth_header):
    headers = auth_header(staff["admin"])
    body = new_shop_body(credit_code="91350100M000100Y44", owner_phone="12", lat=91)
    fields = client.post(URL, json=body, headers=headers).json["error"]["fields"]
    assert set(fields) == {"credit_code", "owner_phone", "lat"}
    assert "校验位错误" in fields["credit_code"][0]
    beijing = client.post(URL, json=new_shop_body(lat=39.9087, lng=116.3975), headers=headers)
    assert beijing.status_code == 422 and "location" in beijing.json["error"]["fields"]
    unknown = client.post(URL, json=new_shop_body(industry="casino"), headers=headers)
    assert unknown.json["error"]["fields"] == {"industry": ["行业不存在或已停用"]}


def test_edit_moves_the_shop_and_refuses_a_stale_version(client, staff, auth_header, make_shop):
    shop = make_shop()
    headers = auth_header(staff["dispatcher"])
    wgs = {"lat": 41.8110, "lng": 123.3500, "coord_sys": "wgs84"}  # 铁西区 in WGS-84
    body = {"name": "新名字", "owner_phone": "024-22345678", **wgs, "version": shop.version}
    response = client.patch(f"{URL}/{shop.id}", json=body, headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["district_code"] == "210106" and response.json["lat"] != wgs["lat"]
    assert response.json["coord_sys_in"] == "wgs84" and response.json["version"] == 2
    entry = audits("shop.update")[0]
    assert entry.detail["before"]["name"] == "老四季抻面馆"
    assert entry.detail["after"]["name"] == "新名字"
    stale = client.patch(f"{URL}/{shop.id}", json={"name": "x", "version": 1}, headers=headers)
    assert (stale.status_code, stale.json["error"]["code"]) == (409, "stale_version")
    empty = client.patch(f"{URL}/{shop.id}", json={}, headers=headers)
    assert empty.status_code == 422
    assert client.patch(f"{URL}/999999", json={"name": "x"}, headers=headers).status_code == 404


def test_suspend_resume_close_with_reasons(client, staff, auth_header, make_shop):
    shop = make_shop()
    headers = auth_header(staff["dispatcher"])
    steps = [("suspend", 200, "suspended"), ("suspend", 409, None), ("resume", 200, "active"),
             ("close", 200, "closed"), ("resume", 409, None)]  # fmt: skip
    for action, status, after in steps:
        response = client.post(
            f"{URL}/{shop.id}/{action}", json={"reason": "占道经营整改"}, headers=headers
        )
        assert response.status_code == status, (action, response.json)
        if after:
            assert response.json["status"] == after
    assert client.post(f"{URL}/{shop.id}/close", json={}, headers=headers).status_code == 422
    entry = audits("shop.suspend")[0]
    assert entry.detail["reason"] == "占道经营整改" and entry.actor_label == "d1"
    assert len(audits("shop.close")) == 1


def test_detail_has_code_history_and_recent_reports(client, staff, auth_header, make_shop):
    shop = make_shop()
    report = Report(number="R-SHOP-1", channel=Channel.MINIPROGRAM, state=ReportState.REPORTED,
                    description="门前堆放杂物", shop_id=shop.id)  # fmt: skip
    db.session.add(report)
    db.session.flush()
    detail = client.get(f"{URL}/{shop.id}", headers=auth_header(staff["admin"])).json
    assert [r["number"] for r in detail["recent_reports"]] == ["R-SHOP-1"]
    assert detail["recent_reports"][0]["state"] == "reported"
    assert len(detail["codes"]) == 1 and detail["owner_phone"] == "13800138000"


def test_industries_are_managed_by_admins(client, staff, auth_header, industries):
    admin, dispatcher = auth_header(staff["admin"]), auth_header(staff["dispatcher"])
    listed = client.get(f"{URL}/industries", headers=dispatcher).json
    assert {"catering", "auto_repair", "internet_cafe"} <= {i["code"] for i in listed}
    body = {"code": "pet_shop", "name": "宠物店"}
    assert client.post(f"{URL}/industries", json=body, headers=dispatcher).status_code == 403
    created = client.post(f"{URL}/industries", json=body, headers=admin)
    assert created.status_code == 201
    assert client.post(f"{URL}/industries", json=body, headers=admin).status_code == 409
    url = f"{URL}/industries/{created.json['id']}"
    renamed = client.patch(url, json={"name": "宠物用品", "is_active": False}, headers=admin)
    assert renamed.json["name"] == "宠物用品" and renamed.json["is_active"] is False
    active = client.get(f"{URL}/industries", query_string={"active": "true"}, headers=admin).json
    assert "pet_shop" not in {i["code"] for i in active}
    assert [a.action for a in audits("industry.update")] == ["industry.update"]
    assert (
        client.patch(f"{URL}/industries/99999", json={"name": "x"}, headers=admin).status_code
        == 404
    )
