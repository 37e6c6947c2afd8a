"""The Shenyang scenario (DOMAIN.md), end to end on the seeded demo city with frozen clocks.

A citizen reports "铁西区小北一路一处雨水井盖严重破损" with a photo at 11:00; the system
recognises the category, finds the point in 铁西区 and dispatches to 铁西区城管局 without a
human; the department reports back with a photo at 16:22; an inspector verifies; the case is
closed and archived; the citizen watched every step.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from app.auth.models import StaffUser
from app.extensions import db
from reports.models import Report
from reports.notify import deliver_due
from reports.seed import DEMO_POINTS
from tests.reports.conftest import jpeg_bytes
from tests.reports.test_notify import consent

LOCAL = ZoneInfo("Asia/Shanghai")


def at(local: str) -> datetime:
    """A local Shenyang time as an aware datetime."""
    return datetime.fromisoformat(local).replace(tzinfo=LOCAL)


@pytest.fixture
def demo(demo_city):
    """The demo city as ``seed_demo_city()`` leaves it (seeded once per run and shared)."""


def staff(username: str) -> StaffUser:
    return db.session.scalar(select(StaffUser).where(StaffUser.username == username))


def upload(client, headers) -> str:
    import io

    resp = client.post("/api/v1/media", data={"file": (io.BytesIO(jpeg_bytes()), "p.jpg")},
                       content_type="multipart/form-data", headers=headers)  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def test_manhole_cover_in_tiexi(app, client, demo, make_citizen, auth_header):
    point = DEMO_POINTS["xiaobei_yilu"]
    citizen = make_citizen("o-shenyang-citizen")
    me = auth_header(citizen)

    consent(client, me, 2)  # the subscribe prompt allowed twice: 已派遣 may use one
    with freeze_time(at("2026-11-19 11:00")):  # a Thursday
        body = {"description": "铁西区小北一路一处雨水井盖严重破损", "lat": point.lat,
                "lng": point.lng, "photos": [upload(client, me)]}  # fmt: skip
        resp = client.post("/api/v1/reports", json=body, headers=me | {"Idempotency-Key": "sy-1"})
        assert resp.status_code == 201, resp.get_json()
        created = resp.get_json()
    number = created["number"]
    assert number.startswith("20261119-")
    assert created["category"]["name"] == "雨水井盖"  # recognised, not chosen by the citizen
    assert created["state"] == "dispatched"
    assert created["department"] == "铁西区城管局"
    report = db.session.scalar(select(Report).where(Report.number == number))
    assert report.district_code == "210106"
    # BJ0103 is due in 2 working days: Thursday 11:00 + Friday + Monday -> Monday 11:00.
    assert report.due_at == at("2026-11-23 11:00")

    with freeze_time(at("2026-11-19 11:01")):
        assert deliver_due()["sent"] == 1  # the citizen hears it was dispatched

    handler = auth_header(staff("tiexi_handler"))
    with freeze_time(at("2026-11-19 13:40")):
        queue = client.get("/api/v1/staff/reports?state=dispatched", headers=handler).get_json()
        assert number in [i["number"] for i in queue["items"]]
        assert client.post(f"/api/v1/staff/reports/{number}/actions/accept", json={},
                           headers=handler).status_code == 200  # fmt: skip
    with freeze_time(at("2026-11-19 16:22")):
        after = upload(client, handler)
        done = client.post(f"/api/v1/staff/reports/{number}/actions/feedback",
                           json={"note": "已更换新雨水井盖", "photos": [after],
                                 "public_reply": "破损的雨水井盖已更换，路面恢复通行"},
                           headers=handler)  # fmt: skip
        assert done.get_json()["state"] == "handled"
    inspector = auth_header(staff("inspector"))
    with freeze_time(at("2026-11-19 16:50")):
        closed = client.post(f"/api/v1/staff/reports/{number}/actions/verify_pass",
                             json={"note": "现场核查，井盖安装牢固"},
                             headers=inspector)  # fmt: skip
        assert closed.get_json()["state"] == "closed"
    with freeze_time(at("2026-11-20 09:00")):
        archived = client.post(f"/api/v1/staff/reports/{number}/actions/archive", json={},
                               headers=auth_header(staff("dispatcher")))  # fmt: skip
        assert archived.get_json()["state"] == "archived"
        db.session.expire_all()
        assert report.closed_at <= report.due_at  # closed on time

    seen = client.get(f"/api/v1/reports/{number}", headers=me).get_json()
    steps = [(e["state_label"], e["at"][11:16], e["text"]) for e in seen["timeline"]]
    assert steps == [
        ("已上报", "03:00", f"问题已提交（编号{number}），等待受理"),
        ("已立案", "03:00", "您反映的问题已受理立案"),
        ("已派遣", "03:00", "已派遣至铁西区城管局处置"),
        ("处置中", "05:40", "铁西区城管局已签收，正在处置"),
        ("处置完成", "08:22", "破损的雨水井盖已更换，路面恢复通行"),
        ("已结案", "08:50", "经现场核查，问题已解决，案件结案"),
    ]  # times in UTC: 11:00, 13:40, 16:22 and 16:50 in Shenyang
    assert seen["state_label"] == "已归档"
    assert [p["stage"] for p in seen["timeline"][4]["photos"]] == ["after"]
    assert "tiexi_handler" not in str(seen) and "铁西区处置员" not in str(seen)


def test_blocked_fire_lane_goes_to_the_street_office(client, demo, make_citizen, auth_header):
    point = DEMO_POINTS["nan_huaxiang_lu"]
    citizen = make_citizen("o-huaxiang")
    me = auth_header(citizen)
    body = {"description": "南滑翔路9—2号楼南侧，有生活垃圾堵塞消防通道", "lat": point.lat,
            "lng": point.lng, "photos": [upload(client, me)]}  # fmt: skip
    created = client.post("/api/v1/reports", json=body, headers=me).get_json()
    assert created["category"]["name"] == "堵塞消防通道"
    assert created["department"] == "滑翔街道办事处"
    street = auth_header(staff("huaxiang_handler"))
    tiexi = auth_header(staff("tiexi_handler"))
    number = created["number"]
    assert client.get(f"/api/v1/staff/reports/{number}", headers=street).status_code == 200
    # The district bureau above the street office sees it too; the 和平区 handler does not.
    assert client.get(f"/api/v1/staff/reports/{number}", headers=tiexi).status_code == 200
    heping = auth_header(staff("heping_handler"))
    assert client.get(f"/api/v1/staff/reports/{number}", headers=heping).status_code == 403
