"""Double taps on the new steps of the case workflow (issue 14), for real: N requests at once
against a database whose transactions really commit (a migrated SQLite file, or a fresh MariaDB
database under TEST_DATABASE_URL). One effect, the others told why, nobody sees a 5xx."""

from __future__ import annotations

import contextlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier, BrokenBarrierError

import pytest
from sqlalchemy import func, select

from app.auth import service as auth_service
from app.auth.models import Department, WechatApp
from app.db import utcnow
from app.extensions import db
from reports import queries
from reports.models import Category, Channel, Report, ReportState, TimelineEntry
from tests.conftest import committed_app

N = 10
NUMBER = "20261201-000001"


@pytest.fixture
def live_app(live_db_url, tmp_path, rate_limiter):
    """A second app on its own committed database; its connections let go afterwards."""
    app = committed_app(live_db_url, tmp_path)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def entries(app, action: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(TimelineEntry)
                                 .where(TimelineEntry.action == action))  # fmt: skip


def together(monkeypatch, name: str) -> None:
    """Every request has read the case before any of them writes (where the database
    serialises writers instead, as SQLite does, the wait times out and they go one by one)."""
    barrier, read = Barrier(N), getattr(queries, name)

    def reading(*args, **kwargs):
        found = read(*args, **kwargs)
        with contextlib.suppress(BrokenBarrierError):
            barrier.wait(timeout=3)
        return found

    monkeypatch.setattr(queries, name, reading)


def at_once(call) -> list:
    with ThreadPoolExecutor(N) as pool:
        return list(pool.map(call, range(N)))


def citizen_case(app, state: ReportState) -> dict[str, str]:
    """A citizen and their case in ``state`` (closed just now), committed; their header."""
    with app.app_context():
        citizen, _ = auth_service.citizen_from_wechat(
            WechatApp.MINIPROGRAM, app.config["WECHAT_MINI_APP_ID"], "o-reopener"
        )
        db.session.add(Report(number=NUMBER, channel=Channel.MINIPROGRAM, state=state,
                              reporter=citizen, description="小区门口雨水井盖破损",
                              lat=41.8, lng=123.35, closed_at=utcnow()))  # fmt: skip
        token = auth_service.issue_token(user=citizen)[0]
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_ten_reopens_at_once_reopen_once(live_app, monkeypatch):
    app, headers = live_app, citizen_case(live_app, ReportState.CLOSED)
    together(monkeypatch, "citizen_report")

    def reopen(_):
        return app.test_client().post(f"/api/v1/reports/{NUMBER}/reopen",
                                      json={"reason": "井盖仍然松动，车辆经过有响声"},
                                      headers=headers)  # fmt: skip

    results = at_once(reopen)
    statuses = Counter(r.status_code for r in results)
    assert statuses == {200: 1, 409: N - 1}, [(r.status_code, r.get_json()) for r in results]
    for resp in results:
        if resp.status_code == 409:
            error = resp.get_json()["error"]
            assert (error["code"], error["message"]) == (
                "already_reopened",
                "您已申请重新办理，请等待工作人员处理",
            )
    with app.app_context():
        report = db.session.scalar(select(Report).where(Report.number == NUMBER))
        assert report.state == ReportState.REGISTERED and report.reopen_count == 1
    assert entries(app, "reopen") == 1


def test_ten_identical_comments_at_once_add_one(live_app, monkeypatch):
    app, headers = live_app, citizen_case(live_app, ReportState.DISPATCHED)
    together(monkeypatch, "citizen_report")

    def comment(_):
        return app.test_client().post(f"/api/v1/reports/{NUMBER}/comments",
                                      json={"text": "晚上没有路灯，更加危险"},
                                      headers=headers)  # fmt: skip

    results = at_once(comment)
    assert all(r.status_code == 200 for r in results), [
        (r.status_code, r.get_json()) for r in results]  # fmt: skip
    assert entries(app, "comment") == 1


@pytest.fixture
def dispatched_case(live_app):
    """A dispatcher's header and a 雨水井盖 case dispatched to one of two departments, committed;
    (app, header, the other department's id)."""
    app = live_app
    with app.app_context():
        dispatcher = auth_service.create_staff("race_dispatcher", "correct-horse-battery",
                                               ["dispatcher"], actor_label="test")  # fmt: skip
        west = Department(code="R-W", name="测试一区城管局", kind="district")
        east = Department(code="R-E", name="测试二区城管局", kind="district")
        # Its category: a redispatch restarts the clock by the category's time limit.
        category = Category(code="BJ0103", kind="部件", major_code="01", major_name="公用设施",
                            minor_code="03", name="雨水井盖", time_limit=2, time_unit="days",
                            department_type="municipal")  # fmt: skip
        db.session.add_all([west, east, category])
        db.session.flush()
        db.session.add(Report(number=NUMBER, channel=Channel.HOTLINE, state=ReportState.DISPATCHED,
                              description="市民来电：路口雨水井盖丢失", lat=41.8, lng=123.35,
                              department_id=west.id, category_id=category.id,
                              dispatched_at=utcnow()))  # fmt: skip
        token = auth_service.issue_token(staff=dispatcher)[0]
        east_id = east.id
        db.session.commit()
    return app, {"Authorization": f"Bearer {token}"}, east_id


@pytest.mark.parametrize("with_version", [False, True], ids=["double-click", "same-version"])
def test_ten_redispatches_at_once_move_the_case_once(dispatched_case, monkeypatch, with_version):
    app, headers, east_id = dispatched_case
    together(monkeypatch, "staff_report")
    body = {"department_id": east_id, "note": "该路段由测试二区负责养护"}
    if with_version:
        with app.test_client() as client:
            case = client.get(f"/api/v1/staff/reports/{NUMBER}", headers=headers).get_json()
        body["version"] = case["version"]

    def redispatch(_):
        with app.test_client() as client:
            return client.post(f"/api/v1/staff/reports/{NUMBER}/actions/redispatch", json=body,
                               headers=headers)  # fmt: skip

    results = at_once(redispatch)
    statuses = Counter(r.status_code for r in results)
    assert statuses[200] == 1 and max(statuses) < 500, [
        (r.status_code, r.get_json()) for r in results]  # fmt: skip
    # The others: the case moved meanwhile (409), or, read after the move, it is already there.
    refused = {(r.status_code, r.get_json()["error"]["code"]) for r in results
               if r.status_code != 200}  # fmt: skip
    allowed = {(409, "stale_version"), (409, "invalid_transition")}
    if not with_version:
        allowed.add((422, "validation_failed"))
    assert refused <= allowed, refused
    assert entries(app, "redispatch") == 1
    with app.app_context():
        report = db.session.scalar(select(Report).where(Report.number == NUMBER))
        assert report.department_id == east_id
