"""牛皮癣: numbers recorded from photos, one notice by SMS (also under parallel clicks), delivery
with retries and receipts through the gateway emulator, marks, 销案 and escalation."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth import service as auth_service
from app.db import commit, utcnow
from app.extensions import db
from app.media import service as media_service
from reports.models import OutboxMessage, Report
from reports.smallads import delivery, phones, service
from reports.smallads.models import AdEvidence, Advertiser, Event, SmsMessage
from tests.conftest import committed_app
from tests.reports.conftest import INSIDE_EAST, INSIDE_WEST, jpeg_bytes

API = "/api/v1/staff/smallads"


@pytest.mark.parametrize(("text", "found"), [
    ("专业开锁 139 1234 5678", ["13912345678"]),
    ("电话：l3912345678 微信同号", ["13912345678"]),
    ("办证刻章 O24-8765 4321", ["024-87654321"]),
    ("疏通下水道 0411-8765432 186-0000-2148", ["0411-8765432", "18600002148"]),
    ("BOSS 直聘 2024年", []),
    ("12345678901", []),
])  # fmt: skip
def test_numbers_are_read_through_ocr_confusions(text, found):
    assert phones.numbers_in(text) == found


def _capture(client, headers, photo, numbers, point=INSIDE_WEST, key=None):
    body = {"photo": photo, "numbers": numbers, "lat": point[0], "lng": point[1],
            "address": "测试一区某小区楼道"}  # fmt: skip
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(f"{API}/captures", json=body, headers=headers | extra)


def test_a_number_collects_its_photos_and_is_noticed_once(client, city, auth_header, app):
    inspector = auth_header(city.inspector)
    first = media_service.store_upload(jpeg_bytes(), city.inspector).public_id
    second = media_service.store_upload(jpeg_bytes((1, 2, 3)), city.inspector).public_id
    resp = _capture(client, inspector, first, ["139 1234 5678", "024-12345678"], key="k1")
    assert resp.status_code == 201, resp.get_json()
    again = _capture(client, inspector, first, ["139 1234 5678", "024-12345678"], key="k1")
    assert again.status_code == 200 and again.get_json()["id"] == resp.get_json()["id"]
    assert _capture(client, inspector, second, ["13912345678"], INSIDE_EAST).status_code == 201
    bad = _capture(client, inspector, second, ["1391234"])
    assert bad.status_code == 422 and "号码格式不正确" in str(bad.get_json())

    dispatcher = auth_header(city.dispatcher)
    rows = client.get(f"{API}/advertisers", headers=dispatcher).get_json()["items"]
    mobile = next(a for a in rows if a["kind"] == "mobile")
    assert mobile["phone"] == "13912345678" and mobile["evidence"] == 2
    # A handler of the west district sees it (a photo there), masked.
    west = client.get(f"{API}/advertisers", headers=auth_header(city.west_handler)).get_json()
    assert {a["phone"] for a in west["items"]} == {"139****5678", "024-****5678"}

    landline = next(a for a in rows if a["kind"] == "landline")
    refused = client.post(f"{API}/advertisers/{landline['id']}/notice", json={}, headers=dispatcher)
    assert refused.status_code == 409 and "固定电话无法接收短信" in str(refused.get_json())

    for _ in range(3):
        resp = client.post(f"{API}/advertisers/{mobile['id']}/notice", json={}, headers=dispatcher)
        assert resp.status_code == 200, resp.get_json()
    view = resp.get_json()
    assert view["state_label"] == "已通知待到案" and view["deadline_at"]
    assert [m["kind_label"] for m in view["messages"]] == ["到案通知"]

    emu = app.extensions["sms_emulator"]
    before = len(emu.messages("13912345678"))
    assert delivery.deliver_due() == 1
    assert delivery.poll_receipts() == 1
    assert len(emu.messages("13912345678")) == before + 1
    msg = db.session.scalar(select(SmsMessage).where(SmsMessage.phone == "13912345678"))
    assert msg.state.label == "已送达" and msg.receipt_code == "DELIVERED"

    url = f"{API}/advertisers/{mobile['id']}"
    early = client.post(f"{url}/close", json={}, headers=dispatcher)
    assert early.status_code == 409 and "销案前须登记当事人到案" in str(early.get_json())
    handler = auth_header(city.west_handler)
    for action in ("appear", "appear", "clean"):
        assert client.post(f"{url}/{action}", json={}, headers=handler).status_code == 200
    closed = client.post(f"{url}/close", json={"note": "已罚款并清理"}, headers=handler).get_json()
    assert closed["state_label"] == "已销案"
    assert [e["label"] for e in closed["events"]].count("当事人到案") == 1


def test_reminders_in_working_time_then_escalation_to_an_enforcement_case(city, app):
    media = media_service.store_upload(jpeg_bytes(), city.inspector)
    capture, _ = service.record_capture(
        city.inspector,
        service.CaptureIn(
            photo=media.public_id, numbers=["18600002148"], lat=INSIDE_WEST[0], lng=INSIDE_WEST[1]
        ),
    )
    advertiser = capture_advertiser(capture)
    service.send_notice(advertiser, city.dispatcher)
    delivery.deliver_due()
    cal = service.reference.work_calendar()
    # Too soon after the notice, then due, then the day's cap.
    later = cal.add_working_hours(utcnow(), app.config["SMALLADS_REMINDER_GAP_HOURS"] + 0.1)
    assert service.queue_reminders(utcnow()) == 0 or not cal.is_working_time(utcnow())
    sent = service.queue_reminders(later)
    assert sent == 1
    assert service.queue_reminders(later) == 0  # the gap again
    reminder = db.session.scalar(select(SmsMessage).where(SmsMessage.kind == "reminder"))
    assert reminder.dedupe_key == f"reminder:{advertiser.id}:1"
    assert service.queue_reminders(cal.add_working_hours(advertiser.deadline_at, 1)) == 0

    assert service.escalate_overdue(advertiser.deadline_at + timedelta(minutes=1)) == 1
    assert advertiser.state.label == "已移交立案"
    case = db.session.get(Report, advertiser.case_report_id)
    assert case.category.name == "非法小广告" and len(case.photos) == 1
    assert case.department is None or "enforcement" in case.department.handled_types
    assert service.escalate_overdue(advertiser.deadline_at + timedelta(days=9)) == 0


def capture_advertiser(capture) -> Advertiser:
    return db.session.scalar(select(Advertiser).join(service.AdEvidence).where(
        service.AdEvidence.capture_id == capture.id))  # fmt: skip


# ---------------------------------------------------------------- parallel and faults

N = 10


@pytest.fixture
def live(live_db_url, tmp_path, rate_limiter):
    app = committed_app(live_db_url, tmp_path, SMS_RETRY_SCALE=0.0)
    with app.app_context():
        dispatcher = auth_service.create_staff("ads_dispatcher", "correct-horse-battery",
                                               ["dispatcher"], actor_label="test")  # fmt: skip
        inspector = auth_service.create_staff("ads_inspector", "correct-horse-battery",
                                              ["inspector"], actor_label="test")  # fmt: skip
        media = media_service.store_upload(jpeg_bytes(), inspector)
        capture, _ = service.record_capture(
            inspector,
            service.CaptureIn(photo=media.public_id, numbers=["13700001234"], lat=41.8, lng=123.35),
        )
        advertiser_id = capture_advertiser(capture).id
        token = auth_service.issue_token(staff=dispatcher)[0]
        app.config["TEST_INSPECTOR"] = {
            "Authorization": f"Bearer {auth_service.issue_token(staff=inspector)[0]}"
        }
        app.config["TEST_PHOTO"] = media_service.store_upload(
            jpeg_bytes((9, 9, 9)), inspector
        ).public_id
        db.session.commit()
    try:
        yield app, {"Authorization": f"Bearer {token}"}, advertiser_id
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_ten_parallel_notices_send_one_sms_even_when_the_answer_is_lost(live):
    app, headers, advertiser_id = live

    def notice(_):
        with app.test_client() as client:
            return client.post(f"{API}/advertisers/{advertiser_id}/notice", json={},
                               headers=headers)  # fmt: skip

    with ThreadPoolExecutor(N) as pool:
        results = list(pool.map(notice, range(N)))
    assert Counter(r.status_code for r in results) == {200: N}, [r.get_json() for r in results]
    emu = app.extensions["sms_emulator"]
    emu.inject("sent-then-503")  # the gateway sends it, the answer is lost
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SmsMessage)) == 1
        assert delivery.deliver_due() == 1
        msg = db.session.scalar(select(SmsMessage))
        assert msg.state.value == "queued" and msg.ambiguous
        outbox = db.session.get(OutboxMessage, msg.outbox_id)
        outbox.next_attempt_at = utcnow()
        commit()
        assert delivery.deliver_due() == 1  # asks the gateway first: it has it
        msg = db.session.scalar(select(SmsMessage))
        assert msg.state.value == "sent" and msg.attempts == 2
    assert len(emu.messages("13700001234")) == 1

    # Ten taps on 登记到案: one mark in the log; ten retries of one capture: one capture.
    def appear(_):
        with app.test_client() as client:
            return client.post(f"{API}/advertisers/{advertiser_id}/appear", json={},
                               headers=headers)  # fmt: skip

    def capture(_):
        body = {"photo": app.config["TEST_PHOTO"], "numbers": ["13700001234", "13700005678"],
                "lat": 41.8, "lng": 123.35}  # fmt: skip
        with app.test_client() as client:
            return client.post(
                f"{API}/captures",
                json=body,
                headers=app.config["TEST_INSPECTOR"] | {"Idempotency-Key": "c-1"},
            )

    with ThreadPoolExecutor(N) as pool:
        marks = list(pool.map(appear, range(N)))
        captures = list(pool.map(capture, range(N)))
    assert Counter(r.status_code for r in marks) == {200: N}
    assert Counter(r.status_code for r in captures) == {201: 1, 200: N - 1}, [
        r.get_json() for r in captures]  # fmt: skip
    with app.app_context():
        events = db.session.scalars(select(Event.action).where(
            Event.advertiser_id == advertiser_id)).all()  # fmt: skip
        assert events.count("appear") == 1
        assert db.session.scalar(select(func.count()).select_from(Advertiser)) == 2
        assert db.session.scalar(select(func.count()).select_from(AdEvidence)) == 3
