"""Double taps on the citizen API, for real: N requests at once against a database whose
transactions really commit (a migrated SQLite file, or a fresh MariaDB database under
TEST_DATABASE_URL). One wins, the others are told why, and nobody sees a 5xx."""

from __future__ import annotations

import contextlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier, BrokenBarrierError

import pytest
from sqlalchemy import func, select

from app.auth import service as auth_service
from app.auth.models import WechatApp
from app.extensions import db
from reports import queries
from reports.models import Channel, Report, ReportState, TimelineEntry
from tests.conftest import committed_app, error_of

N = 10
NUMBER = "20261201-000001"


@pytest.fixture
def live(live_db_url, tmp_path, rate_limiter):
    """A second app on its own committed database, with a citizen and their closed case."""
    app = committed_app(live_db_url, tmp_path)
    with app.app_context():
        citizen, _ = auth_service.citizen_from_wechat(
            WechatApp.MINIPROGRAM, app.config["WECHAT_MINI_APP_ID"], "o-rater"
        )
        closed = Report(number=NUMBER, channel=Channel.MINIPROGRAM, state=ReportState.CLOSED,
                        reporter=citizen, description="小区门口雨水井盖破损", lat=41.8,
                        lng=123.35)  # fmt: skip
        db.session.add(closed)
        token = auth_service.issue_token(user=citizen)[0]
        db.session.commit()
    yield from served(app, token)


def served(app, token: str):
    """Yield (app, the token's header) to the test, then let go of the app's connections."""
    try:
        yield app, {"Authorization": f"Bearer {token}"}
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def read_together(monkeypatch):
    """Every request has read the case before any of them writes: in one process, ten requests
    rarely overlap on their own, and under gunicorn they do. Where the database serialises
    writers instead (SQLite takes the write lock at BEGIN), the wait times out and they go one
    by one."""
    barrier, read = Barrier(N), queries.citizen_report

    def citizen_report(*args, **kwargs):
        found = read(*args, **kwargs)
        with contextlib.suppress(BrokenBarrierError):
            barrier.wait(timeout=3)
        return found

    monkeypatch.setattr(queries, "citizen_report", citizen_report)


def test_ten_ratings_at_once_rate_once_and_the_others_hear_already_rated(live, read_together):
    app, headers = live

    def rate(stars: int):
        return app.test_client().post(f"/api/v1/reports/{NUMBER}/rating",
                                      json={"rating": stars}, headers=headers)  # fmt: skip

    with ThreadPoolExecutor(N) as pool:
        results = list(pool.map(rate, [1 + i % 5 for i in range(N)]))
    statuses = Counter(r.status_code for r in results)
    assert statuses == {200: 1, 409: N - 1}, [(r.status_code, r.get_json()) for r in results]
    for resp in results:
        if resp.status_code == 409:
            assert error_of(resp) == {"code": "already_rated",
                                                "message": "您已评价过该案件"}  # fmt: skip
    winner = next(r.get_json() for r in results if r.status_code == 200)
    with app.app_context():
        report = db.session.scalar(select(Report).where(Report.number == NUMBER))
        assert report.rating == winner["rating"]
        rates = db.session.scalar(
            select(func.count()).select_from(TimelineEntry).where(TimelineEntry.action == "rate")
        )
        assert rates == 1


# ---------------------------------------------------------------- staff double clicks


@pytest.fixture
def live_case(live_db_url, tmp_path, rate_limiter):
    """A committed database with a dispatcher's token and a case just reported."""
    app = committed_app(live_db_url, tmp_path)
    with app.app_context():
        dispatcher = auth_service.create_staff("race_dispatcher", "correct-horse-battery",
                                               ["dispatcher"], actor_label="test")  # fmt: skip
        db.session.add(Report(number=NUMBER, channel=Channel.HOTLINE, state=ReportState.REPORTED,
                              description="市民来电：路口雨水井盖丢失", lat=41.8,
                              lng=123.35))  # fmt: skip
        token = auth_service.issue_token(staff=dispatcher)[0]
        db.session.commit()
    yield from served(app, token)


@pytest.mark.parametrize("with_version", [False, True], ids=["double-click", "same-version"])
def test_ten_clicks_on_one_workflow_action_move_the_case_once(live_case, with_version):
    """A dispatcher's "不予立案" clicked ten times (or sent by ten tabs that read the same version):
    one moves the case, the others hear 409 (the state moved on, or the version is stale)."""
    app, headers = live_case
    body = {"reason": "duplicate", "note": "重复上报"}
    if with_version:
        with app.test_client() as client:
            case = client.get(f"/api/v1/staff/reports/{NUMBER}", headers=headers).get_json()
        body["version"] = case["version"]

    def reject(_):
        with app.test_client() as client:
            return client.post(f"/api/v1/staff/reports/{NUMBER}/actions/reject", json=body,
                               headers=headers)  # fmt: skip

    with ThreadPoolExecutor(N) as pool:
        results = list(pool.map(reject, range(N)))
    statuses = Counter(r.status_code for r in results)
    assert statuses[200] == 1 and statuses[409] == N - 1, statuses
    assert {r.get_json()["error"]["code"] for r in results if r.status_code == 409} <= {
        "invalid_transition", "stale_version"}  # fmt: skip
    with app.app_context():
        report = db.session.scalar(select(Report).where(Report.number == NUMBER))
        assert report.state == ReportState.REJECTED
        entries = db.session.scalar(select(func.count()).select_from(TimelineEntry)
                                    .where(TimelineEntry.report_id == report.id,
                                           TimelineEntry.action == "reject"))  # fmt: skip
        assert entries == 1
