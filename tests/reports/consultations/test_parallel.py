"""One citizen's vote sent N times at once, for real: a database whose transactions commit (a
migrated SQLite file, or a fresh MariaDB database under TEST_DATABASE_URL). One response is
stored, with one of the answers sent; nobody sees a 5xx. Then the result note published by N
double clicks at once: one notification fan-out."""

from __future__ import annotations

import contextlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier, BrokenBarrierError

import pytest
from sqlalchemy import func, select

from app.auth import service as auth_service
from app.auth.models import Department, StaffUser, WechatApp
from app.db import utcnow
from app.extensions import db
from reports.consultations import participation
from reports.consultations.models import (
    ConsultationPhase,
    ConsultationProject,
    ConsultationResponse,
    PhaseKind,
    ProjectKind,
    ProjectStatus,
)
from reports.models import OutboxMessage
from tests.conftest import committed_app
from tests.reports.test_races import served

N = 10
VOTE = [
    {
        "key": "q1",
        "kind": "single",
        "title": "您支持哪个方案？",
        "options": ["一", "二", "三"],
        "required": True,
    }
]


@pytest.fixture
def live(live_db_url, tmp_path, rate_limiter):
    """A committed database with a published project whose vote is open, and a citizen."""
    app = committed_app(live_db_url, tmp_path)
    with app.app_context():
        department = Department(code="SY", name="沈阳市城市管理综合行政执法局")
        now = utcnow()
        vote = ConsultationPhase(
            kind=PhaseKind.PROPOSALS,
            title="问计",
            questions=VOTE,
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=9),
        )
        db.session.add(
            ConsultationProject(
                code="RACE2345",
                kind=ProjectKind.POCKET_PARK,
                name="口袋公园",
                description="x",
                lat=41.77,
                lng=123.364,
                department=department,
                status=ProjectStatus.PUBLISHED,
                published_at=now,
                phases=[vote],
            )
        )
        citizen, _ = auth_service.citizen_from_wechat(
            WechatApp.MINIPROGRAM, app.config["WECHAT_MINI_APP_ID"], "o-race-voter"
        )
        auth_service.create_staff("racer", "race-password-0", ["dispatcher"], actor_label="test")
        token = auth_service.issue_token(user=citizen)[0]
        db.session.commit()
    yield from served(app, token)


@pytest.fixture
def read_together(monkeypatch):
    """Every request has read the phase before any of them writes (under gunicorn they overlap
    on their own); where the database serialises writers (SQLite), the wait times out."""
    barrier, read = Barrier(N), participation.require_open

    def require_open(phase):
        read(phase)
        with contextlib.suppress(BrokenBarrierError):
            barrier.wait(timeout=3)

    monkeypatch.setattr(participation, "require_open", require_open)


def test_ten_votes_at_once_store_one_response(live, read_together):
    app, headers = live
    url = "/api/v1/consultations/projects/RACE2345/phases/proposals/response"

    def vote(i: int):
        return app.test_client().put(url, json={"answers": {"q1": i % 3}}, headers=headers)

    with ThreadPoolExecutor(N) as pool:
        results = list(pool.map(vote, range(N)))
    assert Counter(r.status_code for r in results) == {200: N}, [
        (r.status_code, r.get_json()) for r in results
    ]
    assert sum(r.get_json()["created"] for r in results) == 1
    with app.app_context():
        rows = db.session.scalars(select(ConsultationResponse)).all()
        assert len(rows) == 1
        assert rows[0].answers["q1"] in (0, 1, 2) and rows[0].changes <= N - 1
        staff = db.session.scalar(select(StaffUser).where(StaffUser.username == "racer"))
        staff_headers = {"Authorization": f"Bearer {auth_service.issue_token(staff=staff)[0]}"}
        project_id = db.session.scalar(select(ConsultationProject.id))
        db.session.commit()

    # The result note double-clicked: one fan-out of notices, every click answered.
    note = f"/api/v1/staff/consultations/projects/{project_id}/result"

    def publish(_):
        return app.test_client().post(note, json={"text": "采用方案一"}, headers=staff_headers)

    with ThreadPoolExecutor(N) as pool:
        clicks = list(pool.map(publish, range(N)))
    assert all(r.status_code in (200, 409) for r in clicks), [r.get_json() for r in clicks]
    assert sum(1 for r in clicks if r.status_code == 200 and r.get_json()["notified"]) == 1
    with app.app_context():
        fan_outs = db.session.scalar(select(func.count()).select_from(OutboxMessage))
        assert fan_outs == 1
