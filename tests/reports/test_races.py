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
from tests.conftest import committed_app

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
            assert resp.get_json()["error"] == {"code": "already_rated",
                                                "message": "您已评价过该案件"}  # fmt: skip
    winner = next(r.get_json() for r in results if r.status_code == 200)
    with app.app_context():
        report = db.session.scalar(select(Report).where(Report.number == NUMBER))
        assert report.rating == winner["rating"]
        rates = db.session.scalar(
            select(func.count()).select_from(TimelineEntry).where(TimelineEntry.action == "rate")
        )
        assert rates == 1
