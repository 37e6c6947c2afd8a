"""Every step of a 12345 case pushed back to the platform (its emulator, over real HTTP):
retried after errors and timeouts, in order within an order, applied exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from reports import notify
from reports.hotline import push
from reports.hotline.models import PUSH_KIND, HotlineOrder
from reports.models import OutboxMessage, OutboxStatus, ReportState
from reports.transitions import Params, transition
from tests.reports.hotline.conftest import order


def _pending() -> bool:
    query = select(OutboxMessage.id).where(
        OutboxMessage.kind == PUSH_KIND, OutboxMessage.status == OutboxStatus.PENDING
    )
    return db.session.scalar(query) is not None


def _rounds(limit: int = 20) -> None:
    """Worker rounds until no push is pending (retries are due at once in these tests)."""
    for _ in range(limit):
        push.push_round()
        if not _pending():
            return
    raise AssertionError("pushes still pending")


def _rows() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == PUSH_KIND)
                                   .order_by(OutboxMessage.id)))  # fmt: skip


def _case(send, order_id: str):
    assert send(order(order_id)).status_code == 201
    return db.session.scalar(select(HotlineOrder).where(HotlineOrder.order_id == order_id)).report


def test_steps_reach_the_platform_in_order_and_once_despite_errors_and_a_timeout(
    city, send, platform
):
    report = _case(send, "P-1")
    assert report.state == ReportState.DISPATCHED  # 占道经营 in 测试一区: dispatched at once
    platform.emulator.inject("error", 2)
    push.push_round()  # the receipt meets the first error
    transition(report, "accept", city.west_handler, Params())  # a second push, queued behind
    push.push_round()  # the receipt meets the second error; the acceptance waits for it
    assert [r.attempts for r in _rows()] == [2, 0]
    platform.emulator.inject("timeout", 1, timeout_seconds=1.0)  # applied, answered too late
    _rounds()
    pushes = platform.emulator.pushes("P-1")
    assert [(p["seq"], p["state_label"]) for p in pushes] == [(1, "已派遣"), (2, "处置中")]
    assert pushes[0]["case_number"] == report.number
    assert pushes[0]["deliveries"] == 2  # sent again after the timeout, applied once
    rows = _rows()
    assert [r.status for r in rows] == [OutboxStatus.SENT] * 2
    assert [r.attempts for r in rows] == [4, 1]


def test_a_push_given_up_lets_the_next_one_of_its_order_go(city, send, platform, app,
                                                          monkeypatch):  # fmt: skip
    monkeypatch.setitem(app.config, "HOTLINE_MAX_ATTEMPTS", 2)
    report = _case(send, "P-2")
    transition(report, "accept", city.west_handler, Params())
    platform.emulator.inject("error", 2)
    _rounds()
    first, second = _rows()
    assert first.status == OutboxStatus.FAILED and "HTTP 500" in first.last_error
    assert second.status == OutboxStatus.SENT
    assert [p["seq"] for p in platform.emulator.pushes("P-2")] == [2]


def test_the_wechat_delivery_leaves_hotline_pushes_alone(city, send):
    _case(send, "P-3")
    notify.deliver_due()
    assert [(r.status, r.attempts) for r in _rows()] == [(OutboxStatus.PENDING, 0)]


def test_the_platform_refuses_a_push_signed_with_another_secret(platform, app, monkeypatch):
    monkeypatch.setitem(app.config, "HOTLINE_SECRET", "another-secret-of-someone-else-000")
    with pytest.raises(push.PushFailed) as caught:
        push.send({"push_id": "x:1:1", "order_id": "x", "seq": 1})
    assert "HTTP 401" in str(caught.value) and not caught.value.retry
