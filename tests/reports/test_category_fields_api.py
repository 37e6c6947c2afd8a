"""A category's GB/T 30428.2 code and definition through the APIs: admins read and edit them,
citizens get the definition as help text with the category list."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit import AuditLog
from app.auth.models import Role
from app.extensions import db
from reports.models import Category
from reports.seed import seed_demo_departments, seed_reference


@pytest.fixture
def admin(make_staff, auth_header):
    return auth_header(make_staff("root", roles=(Role.ADMIN,)))


@pytest.fixture
def reference_data(db_session):
    seed_reference()
    seed_demo_departments()


def category(code: str) -> Category:
    return db.session.scalar(select(Category).where(Category.code == code))


def test_citizens_get_every_definition_with_the_list(client, reference_data):
    items = client.get("/api/v1/categories").get_json()
    by_code = {c["code"]: c for c in items}
    assert all(c["definition"] for c in items)
    grate = by_code["BJ0104"]
    assert grate["name"] == "雨水箅子" and "雨水井盖" in grate["definition"]
    assert "gb_code" not in grate  # the standard's code is staff data


def test_admins_see_the_standard_code_and_definition(client, admin, reference_data):
    items = client.get("/api/v1/admin/categories", headers=admin).get_json()
    by_code = {c["code"]: c for c in items}
    assert by_code["BJ0106"]["gb_code"] == "0107"  # our 通信井盖 is the standard's 0107
    assert by_code["SJ0603"]["gb_code"] is None  # 门前三包不落实 is the city's own
    assert "门前三包" in by_code["SJ0603"]["definition"]


def test_admin_edits_gb_code_and_definition_audited(client, admin, reference_data):
    own = category("SJ0605")
    url = f"/api/v1/admin/categories/{own.id}"
    text = "商户自有设施破损；店铺招牌报“广告牌匾设施”。"
    resp = client.patch(url, json={"gb_code": "0199", "definition": text}, headers=admin)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["gb_code"] == "0199" and resp.get_json()["definition"] == text
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "category.update"))
    assert entry.detail["changes"]["gb_code"] == [None, "0199"]
    cleared = client.patch(url, json={"gb_code": None}, headers=admin)
    assert cleared.status_code == 200 and cleared.get_json()["gb_code"] is None
    public = {c["code"]: c for c in client.get("/api/v1/categories").get_json()}
    assert public["SJ0605"]["definition"] == text


@pytest.mark.parametrize("body", [{"gb_code": "12"}, {"gb_code": "BJ0101"}, {"definition": ""}])
def test_bad_gb_code_or_empty_definition_is_422(client, admin, reference_data, body):
    cover = category("BJ0103")
    resp = client.patch(f"/api/v1/admin/categories/{cover.id}", json=body, headers=admin)
    assert resp.status_code == 422
    fields = resp.get_json()["error"]["fields"]
    assert set(fields) == set(body)
    if "gb_code" in body:
        assert "四位数字" in fields["gb_code"][0]
    assert category("BJ0103").gb_code == "0103"


def test_a_new_city_category_can_carry_a_standard_code(client, admin, reference_data):
    body = {
        "code": "SJ0591", "kind": "事件", "major_code": "05", "major_name": "街面秩序",
        "minor_code": "91", "name": "占道洗车", "time_limit": 1, "time_unit": "days",
        "department_type": "enforcement", "gb_code": "0504",
        "definition": "洗车店或个人在道路、人行道上洗车，污水横流。",
    }  # fmt: skip
    resp = client.post("/api/v1/admin/categories", json=body, headers=admin)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["gb_code"] == "0504"
    assert "洗车" in category("SJ0591").definition
