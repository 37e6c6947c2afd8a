"""我也遇到了 tapped many times at once, for real: N requests by one citizen against a database
whose transactions really commit (a migrated SQLite file, or a fresh MariaDB database under
TEST_DATABASE_URL). One follow is stored, every tap hears "following", nobody sees a 5xx."""

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
from reports import follows
from reports.models import Channel, Report, ReportState
from tests.conftest import committed_app
from tests.reports.test_races import served

N = 10
NUMBER = "20261205-000777"


@pytest.fixture
def live(live_db_url, tmp_path, rate_limiter):
    """A committed database with someone's open case and another citizen's token."""
    app = committed_app(live_db_url, tmp_path)
    with app.app_context():
        reporter, _ = auth_service.citizen_from_wechat(
            WechatApp.MINIPROGRAM, app.config["WECHAT_MINI_APP_ID"], "o-race-reporter"
        )
        neighbour, _ = auth_service.citizen_from_wechat(
            WechatApp.MINIPROGRAM, app.config["WECHAT_MINI_APP_ID"], "o-race-neighbour"
        )
        db.session.add(Report(number=NUMBER, channel=Channel.MINIPROGRAM,
                              state=ReportState.DISPATCHED, reporter=reporter,
                              description="小区门口垃圾堆积", lat=41.8, lng=123.35))  # fmt: skip
        token = auth_service.issue_token(user=neighbour)[0]
        db.session.commit()
    yield from served(app, token)


@pytest.fixture
def read_together(monkeypatch):
    """Every request has found the case (and so none has followed yet) before any of them
    writes; where the database serialises writers (SQLite), the wait times out and they go one
    by one."""
    barrier, read = Barrier(N), follows.public_case

    def public_case(number):
        found = read(number)
        with contextlib.suppress(BrokenBarrierError):
            barrier.wait(timeout=3)
        return found

    monkeypatch.setattr(follows, "public_case", public_case)


def test_ten_follows_at_once_store_one(live, read_together):
    app, headers = live

    def tap(_):
        return app.test_client().post(f"/api/v1/reports/{NUMBER}/follow", headers=headers)

    with ThreadPoolExecutor(N) as pool:
        results = list(pool.map(tap, range(N)))
    assert Counter(r.status_code for r in results) == {200: N}, [
        (r.status_code, r.get_json()) for r in results
    ]
    for resp in results:
        assert resp.get_json() == {"number": NUMBER, "following": True, "followers": 1}
    with app.app_context():
        rows = db.session.scalar(select(func.count()).select_from(follows.ReportFollow))
        assert rows == 1
