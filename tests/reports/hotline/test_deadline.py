"""The reply deadline (答复时限): tracked on the order, listed by the staff API and page, shown
in the 12345工单 block of the case page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from reports.hotline.models import HotlineOrder
from reports.transitions import Params, transition
from tests.reports.conftest import INSIDE_EAST
from tests.reports.hotline.conftest import order

LIST = "/api/v1/staff/hotline/orders"


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat(timespec="seconds")


def _send_three(send) -> dict[str, str]:
    """Orders due in three days, in five hours, and five hours ago; order id -> case number."""
    cases = {}
    for order_id, due in (("D-LATER", timedelta(days=3)), ("D-NEAR", timedelta(hours=5)),
                          ("D-OVERDUE", -timedelta(hours=5))):  # fmt: skip
        resp = send(order(order_id, reply_deadline=_iso(due)))
        assert resp.status_code == 201, resp.get_json()
        cases[order_id] = resp.get_json()["case_number"]
    return cases


def test_the_list_filters_by_deadline_and_says_the_time_left(city, send, client, auth_header):
    _send_three(send)
    headers = auth_header(city.dispatcher)

    def listed(due):
        body = client.get(LIST, query_string={"due": due}, headers=headers).get_json()
        return {i["order_id"]: i for i in body["items"]}

    assert set(listed("open")) == {"D-LATER", "D-NEAR", "D-OVERDUE"}
    near = listed("near")
    assert set(near) == {"D-NEAR"} and near["D-NEAR"]["deadline_label"].startswith("剩余4小时")
    overdue = listed("overdue")
    assert set(overdue) == {"D-OVERDUE"}
    assert overdue["D-OVERDUE"]["deadline_label"].startswith(("已超期5小时", "已超期4小时"))
    assert overdue["D-OVERDUE"]["push"]["label"] == "待推送1条"


def test_a_handler_lists_only_the_orders_of_its_district(city, send, client, auth_header):
    send(order("WEST-1"))
    send(order("EAST-1", lat=INSIDE_EAST[0], lng=INSIDE_EAST[1], address="测试二区某路"))
    body = client.get(LIST, query_string={"due": "all"},
                      headers=auth_header(city.east_handler)).get_json()  # fmt: skip
    assert [i["order_id"] for i in body["items"]] == ["EAST-1"]


def test_an_answered_order_leaves_the_open_list(city, send, client, auth_header):
    number = _send_three(send)["D-OVERDUE"]
    stored = db.session.scalar(select(HotlineOrder).where(HotlineOrder.order_id == "D-OVERDUE"))
    report = stored.report
    transition(report, "reject", city.dispatcher, Params(reason="out_of_scope"))
    assert stored.answered_at is not None
    items = client.get(LIST, query_string={"due": "all"},
                       headers=auth_header(city.dispatcher)).get_json()["items"]  # fmt: skip
    answered = next(i for i in items if i["case_number"] == number)
    assert answered["deadline_label"].startswith("已答复（超期")
    open_ids = {i["order_id"] for i in client.get(
        LIST, headers=auth_header(city.dispatcher)).get_json()["items"]}  # fmt: skip
    assert "D-OVERDUE" not in open_ids


def test_the_case_page_and_the_orders_page_show_the_12345_order(city, send, client, auth_header):
    number = _send_three(send)["D-OVERDUE"]
    headers = auth_header(city.dispatcher)
    page = client.get(f"/console/cases/{number}", headers=headers).get_data(as_text=True)
    assert 'id="hotline-block"' in page and "12345工单" in page
    assert "D-OVERDUE" in page and "已超期" in page and "待推送1条" in page
    listing = client.get("/console/hotline?due=overdue", headers=headers).get_data(as_text=True)
    assert "D-OVERDUE" in listing and "D-NEAR" not in listing


def test_a_case_not_from_12345_has_no_block(city, client, auth_header):
    body = {"channel": "hotline", "description": "市民来电：路口垃圾桶破损", "address": "测试一区"}
    number = client.post("/api/v1/staff/reports", json=body,
                         headers=auth_header(city.dispatcher)).get_json()["number"]  # fmt: skip
    page = client.get(f"/console/cases/{number}", headers=auth_header(city.dispatcher))
    assert page.status_code == 200 and "hotline-block" not in page.get_data(as_text=True)


def test_the_console_home_counts_overdue_orders(city, send, client, auth_header):
    _send_three(send)
    home = client.get("/console/", headers=auth_header(city.dispatcher)).get_data(as_text=True)
    assert "12345工单已超期" in home and "12345工单即将到期" in home
