"""The signed inbound interface: signature, clock skew, size, idempotency by the order id."""

from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from app.extensions import db
from reports.hotline.models import HotlineOrder
from reports.models import Channel, Report
from tests.conftest import error_of
from tests.reports.hotline.conftest import URL, order, signed


def test_a_signed_order_becomes_a_hotline_case_of_the_mapped_category(city, send):
    resp = send(order())
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    report = db.session.scalar(select(Report).where(Report.number == body["case_number"]))
    assert report.channel == Channel.HOTLINE
    assert report.category.name == "店外经营"  # 占道经营 in the mapping table
    assert report.contact_phone == "13800000000"
    assert "占用人行道" in report.description
    stored = db.session.scalar(select(HotlineOrder).where(HotlineOrder.report_id == report.id))
    assert stored.order_id == "SY12345-20261202-000001" and stored.mapped_code == "SJ0502"


def test_the_same_order_again_answers_the_same_case_and_makes_no_second(city, send):
    body = order()
    first = send(body).get_json()
    again = send(body)
    assert again.status_code == 200
    assert again.get_json()["case_number"] == first["case_number"]
    assert again.get_json()["created"] is False
    assert db.session.scalar(select(func.count()).select_from(Report)) == 1


def test_the_same_order_id_with_another_body_is_409_in_chinese(city, send):
    body = order()
    send(body)
    resp = send(body | {"content": "另一件事：小区门口垃圾三天没有清运了"})
    assert resp.status_code == 409
    error = error_of(resp)
    assert error["code"] == "order_id_reused"
    assert error["message"] == "该工单编号已接收过内容不同的工单，请核对工单编号"


def test_a_base64_signature_is_accepted(city, send):
    assert send(order(), encoding="base64").status_code == 201


def test_missing_wrong_and_stale_signatures_are_401(city, client, app):
    raw, headers = signed(app, order())
    missing = client.post(URL, data=raw, headers={"Content-Type": "application/json"})
    assert missing.status_code == 401 and error_of(missing)["code"] == "signature_missing"
    tampered = raw.replace("摆摊".encode(), "卖菜".encode())
    bad = client.post(URL, data=tampered, headers=headers)
    assert bad.status_code == 401 and error_of(bad)["message"] == "签名校验失败"
    skew = app.config["HOTLINE_MAX_SKEW_SECONDS"]
    raw, old = signed(app, order(), timestamp=int(time.time()) - skew - 5)
    stale = client.post(URL, data=raw, headers=old)
    assert stale.status_code == 401 and error_of(stale)["code"] == "stale_timestamp"
    assert db.session.scalar(select(func.count()).select_from(Report)) == 0


def test_another_platform_is_403(city, client, app):
    raw, headers = signed(app, order())
    headers["X-Hotline-Platform"] = "other12345"
    resp = client.post(URL, data=raw, headers=headers)
    assert resp.status_code == 403 and error_of(resp)["message"] == "未知的12345平台标识"


def test_a_body_over_the_cap_is_413_before_anything_is_stored(city, send, app, monkeypatch):
    monkeypatch.setitem(app.config, "HOTLINE_MAX_BODY_BYTES", 2048)
    resp = send(order(content="占道经营" * 600))
    assert resp.status_code == 413 and error_of(resp)["message"] == "工单内容过大（最多2KB）"
    assert db.session.scalar(select(func.count()).select_from(Report)) == 0


def test_a_signed_order_missing_fields_is_422_naming_them(city, send):
    resp = send({"order_id": "X-1", "content": "占道经营问题"})
    assert resp.status_code == 422
    assert "reply_deadline" in error_of(resp)["fields"]
    assert send(json.dumps([1, 2]).encode()).status_code == 422
