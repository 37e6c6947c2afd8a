"""Report numbers under concurrent submissions (issue 18: the day's number is taken last).

Twelve citizens submit at once on a database whose transactions commit. Each report is written
with a stand-in number, routed and dispatched, and takes the day's number as its last step.
Expected: twelve reports numbered 000001 to 000012 of the day (distinct, no gap), and every
place a citizen reads the number shows the real one: the first timeline step
(问题已提交（编号…）) and the dispatch notice queued for WeChat. No stand-in is left anywhere.
"""

from __future__ import annotations

import io
import re
import threading

import pytest
from sqlalchemy import select

from app.auth import service as auth_service
from app.auth.models import Department, WechatApp
from app.extensions import db
from reports.models import OutboxMessage, Report, TimelineEntry
from tests.conftest import committed_app
from tests.reports.conftest import INSIDE_WEST, WEST, district, jpeg_bytes, load_categories

N = 12


@pytest.fixture
def live(live_db_url, tmp_path, rate_limiter):
    """A committed app with the test city's west district and N citizens' tokens."""
    app = committed_app(live_db_url, tmp_path)
    with app.app_context():
        load_categories()
        west = Department(code="T-W", name="测试一区城管局", kind="district",
                          handles="enforcement,municipal,street,sanitation")  # fmt: skip
        district("T-W", "测试一区", WEST, west)
        tokens = []
        for i in range(N):
            user, _ = auth_service.citizen_from_wechat(
                WechatApp.MINIPROGRAM, app.config["WECHAT_MINI_APP_ID"], f"o-number-{i}"
            )
            tokens.append(auth_service.issue_token(user=user)[0])
        db.session.commit()
    try:
        yield app, tokens
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_reports_submitted_at_once_get_the_days_numbers_without_gaps(live):
    app, tokens = live
    barrier, answers, lock = threading.Barrier(N), [], threading.Lock()

    def submit(i: int) -> None:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {tokens[i]}", "Idempotency-Key": f"number-{i}"}
        photo = io.BytesIO(jpeg_bytes((i * 20, 60, 30)))
        upload = client.post("/api/v1/media", data={"file": (photo, "p.jpg")}, headers=headers,
                             content_type="multipart/form-data")  # fmt: skip
        assert upload.status_code in (200, 201), upload.get_json()
        body = {"description": f"测试一区第{i}号井盖破损，车辆经过很危险", "category": "BJ0103",
                "lat": INSIDE_WEST[0] + i * 0.002, "lng": INSIDE_WEST[1],  # 220 m apart
                "photos": [upload.get_json()["id"]]}  # fmt: skip
        barrier.wait(timeout=60)
        resp = client.post("/api/v1/reports", json=body, headers=headers)
        with lock:
            answers.append((resp.status_code, resp.get_json()))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)

    assert sorted(status for status, _ in answers) == [201] * N, answers
    numbers = sorted(body["number"] for _, body in answers)
    day = numbers[0][:8]
    assert numbers == [f"{day}-{k:06d}" for k in range(1, N + 1)]  # distinct, no gap
    for _, body in answers:  # what the citizen is shown at once
        assert body["state"] == "dispatched", body
        first = body["timeline"][0]
        assert first["text"] == f"问题已提交（编号{body['number']}），等待受理", first

    with app.app_context():
        reports = {r.id: r.number for r in db.session.scalars(select(Report))}
        assert sorted(reports.values()) == numbers
        notes = db.session.scalars(select(TimelineEntry.public_note).where(
            TimelineEntry.action == "submit")).all()  # fmt: skip
        assert sorted(notes) == sorted(f"问题已提交（编号{n}），等待受理" for n in numbers)
        notices = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "wechat_notice")).all()  # fmt: skip
        assert len(notices) == N
        for msg in notices:
            assert msg.payload["number"] == reports[msg.report_id]
        for text in [*notes, *(str(m.payload) for m in notices), *reports.values()]:
            assert not re.search(r"~[0-9a-f]{16}", text), text  # no stand-in left
