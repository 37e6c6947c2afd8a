"""A citizen reports a littering car; a reviewer decides; rules, caps, budget, first reporter."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.media import service as media_service
from app.media.models import Media
from app.storage import get_storage
from reports.littering import ledger
from reports.littering.models import EntryState, LitteringReport, RewardEntry
from reports.models import OutboxMessage
from tests.reports.conftest import INSIDE_EAST, OUTSIDE
from tests.reports.littering.conftest import ago


def test_citizen_reports_and_follows_it(make_citizen, people, rule, submit, client, auth_header):
    citizen = make_citizen("o-lit-1")
    resp = submit(citizen, plate=" 辽a·12345 ", key="k1", vehicle_type="car")
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert body["number"].startswith("CC")
    assert body["plate"] == "辽A12345"
    assert (body["status"], body["status_label"]) == ("pending", "待审核")
    assert len(body["evidence"]) == 2 and all(e["url"] for e in body["evidence"])
    again = submit(citizen, key="k1")
    assert again.status_code == 200 and again.json["number"] == body["number"]
    mine = client.get("/api/v1/littering/reports", headers=auth_header(citizen)).json
    assert [r["number"] for r in mine["items"]] == [body["number"]]
    assert mine["rewards"]["paid_fen"] == 0
    other = make_citizen("o-lit-2")
    assert (
        client.get(
            f"/api/v1/littering/reports/{body['number']}", headers=auth_header(other)
        ).status_code
        == 404
    )


def test_bad_reports_are_refused_with_field_errors(make_citizen, people, rule, submit, upload):
    citizen = make_citizen("o-lit-3")
    one = submit(citizen, photos=upload(citizen, 1))
    assert one.status_code == 422 and "2至9张照片" in one.json["error"]["fields"]["media"][0]
    plate = submit(citizen, plate="辽12345")
    assert plate.status_code == 422 and "车牌号" in plate.json["error"]["fields"]["plate"][0]
    future = submit(citizen, occurred_at="2099-01-01T10:00:00+08:00")
    assert future.status_code == 422 and "occurred_at" in future.json["error"]["fields"]
    late = submit(citizen, occurred_at=ago(hours=80))
    assert "72小时" in late.json["error"]["fields"]["occurred_at"][0]
    someone = make_citizen("o-lit-4")
    theirs = submit(citizen, photos=upload(someone, 2))
    assert theirs.status_code == 422 and "不属于您" in theirs.json["error"]["fields"]["media"][0]
    nowhere = submit(citizen, lat=None, lng=None)
    assert nowhere.status_code == 422 and "location" in nowhere.json["error"]["fields"]
    assert db.session.scalar(select(LitteringReport.id)) is None  # nothing half-written


def test_reviewer_marks_valid_reward_and_lead(
    make_citizen, people, rule, submit, review, client, auth_header
):
    citizen = make_citizen("o-lit-5")
    number = submit(citizen).json["number"]
    queue = client.get(
        "/api/v1/staff/littering/reports?state=pending", headers=auth_header(people.reviewer)
    ).json
    assert [r["number"] for r in queue["items"]] == [number]
    assert review(people.handler, number).status_code == 403
    assert review(citizen, number).status_code == 403
    resp = review(people.reviewer, number, version=1)
    assert resp.status_code == 200, resp.json
    assert resp.json["state"] == "valid" and resp.json["rule_version"] == rule.version
    assert resp.json["reward"]["amount_fen"] == 5000
    assert resp.json["lead"]["state_label"] == "待处理"
    seen = client.get(f"/api/v1/littering/reports/{number}", headers=auth_header(citizen)).json
    assert seen["status_label"] == "有效" and seen["reward"]["amount_yuan"] == "50"
    notices = db.session.scalars(select(OutboxMessage)).all()
    assert any("奖励50元待发放" in m.payload["text"] for m in notices)
    again = review(people.reviewer, number)
    assert again.status_code == 409 and again.json["error"]["code"] == "already_reviewed"
    assert ledger.check().ok


def test_invalid_needs_a_reason_the_citizen_reads(
    make_citizen, people, rule, submit, review, client, auth_header
):
    citizen = make_citizen("o-lit-6")
    number = submit(citizen).json["number"]
    assert review(people.reviewer, number, "invalid").status_code == 422
    assert review(people.reviewer, number, "invalid", reason="plate_unreadable").status_code == 200
    seen = client.get(f"/api/v1/littering/reports/{number}", headers=auth_header(citizen)).json
    assert (seen["status_label"], seen["invalid_reason"]) == ("无效", "车牌无法辨认")
    assert seen["reward"] is None


def test_stale_version_is_a_conflict(make_citizen, people, rule, submit, review):
    number = submit(make_citizen("o-lit-7")).json["number"]
    resp = review(people.reviewer, number, version=99)
    assert resp.status_code == 409 and resp.json["error"]["code"] == "stale_version"


def test_first_reporter_only(make_citizen, people, rule, submit, review, client, auth_header):
    first, second = make_citizen("o-lit-8"), make_citizen("o-lit-9")
    a = submit(first, plate="辽B88888").json["number"]
    b = submit(second, plate="辽B88888", lat=INSIDE_EAST[0] - 0.0, lng=123.3551).json["number"]
    blocked = review(people.reviewer, b)
    assert blocked.status_code == 409 and blocked.json["error"]["code"] == "earlier_report_pending"
    detail = client.get(
        f"/api/v1/staff/littering/reports/{b}", headers=auth_header(people.reviewer)
    ).json
    assert [r["number"] for r in detail["same_car"]] == [a]  # shown side by side
    assert review(people.reviewer, a).json["state"] == "valid"
    later = review(people.reviewer, b).json
    assert later["state"] == "duplicate" and later["reward"] is None
    assert later["duplicate_of"] == a
    seen = client.get(f"/api/v1/littering/reports/{b}", headers=auth_header(second)).json
    assert seen["status_label"] == "重复"
    assert db.session.scalar(select(RewardEntry.report_id)) is not None
    assert len(db.session.scalars(select(RewardEntry)).all()) == 1


def test_same_plate_far_apart_or_later_is_not_a_duplicate(
    make_citizen, people, rule, submit, review
):
    a = submit(make_citizen("o-lit-10"), plate="辽C11111").json["number"]
    far = submit(
        make_citizen("o-lit-11"), plate="辽C11111", lat=INSIDE_EAST[0], lng=INSIDE_EAST[1]
    ).json["number"]
    hours_later = submit(
        make_citizen("o-lit-12"), plate="辽C11111", occurred_at=ago(minutes=30 + 120)
    ).json["number"]
    for number in (a, far, hours_later):
        assert review(people.reviewer, number).json["state"] == "valid"


def test_daily_count_cap(make_citizen, people, rule, submit, review, upload):
    rule.cap_day_count = 2
    citizen = make_citizen("o-lit-13")
    states = []
    for i in range(3):
        number = submit(citizen, plate=f"辽D1234{i}").json["number"]
        states.append(review(people.reviewer, number).json)
    assert [s["reward"] is not None for s in states] == [True, True, False]
    assert "当日奖励次数上限（2次）" in states[2]["reward_note"]


def test_monthly_amount_cap(make_citizen, people, rule, submit, review):
    rule.cap_month_fen = 12000
    citizen = make_citizen("o-lit-14")
    rewards = [
        review(people.reviewer, submit(citizen, plate=f"辽E5555{i}").json["number"]).json
        for i in range(3)
    ]
    assert [r["reward"] and r["reward"]["amount_fen"] for r in rewards] == [5000, 5000, None]
    assert "本月奖励金额上限（120元）" in rewards[2]["reward_note"]


def test_budget_exhausted_rewards_wait_for_the_next_budget(
    make_citizen, people, rule, submit, review, client, auth_header
):
    rule.budget_fen = 10000
    states = []
    for i in range(3):
        citizen = make_citizen(f"o-lit-b{i}")
        states.append(review(people.reviewer, submit(citizen, plate=f"辽F0000{i}").json["number"]))
    entries = db.session.scalars(select(RewardEntry).order_by(RewardEntry.id)).all()
    assert [e.state for e in entries] == [
        EntryState.ACCRUED,
        EntryState.ACCRUED,
        EntryState.WAITING_BUDGET,
    ]
    assert "预算已用完" in states[2].json["reward_note"]
    assert ledger.accrue_waiting() == 0  # still no budget: nothing silently dropped, it waits
    resp = client.post(
        "/api/v1/staff/littering/rules",
        json={"budget_fen": 20000},
        headers=auth_header(people.admin),
    )
    assert resp.status_code == 201 and resp.json["version"] == rule.version + 1
    assert ledger.accrue_waiting() == 1
    db.session.expire_all()
    assert db.session.get(RewardEntry, entries[2].id).state == EntryState.ACCRUED
    assert ledger.check().ok


def test_rules_are_versioned_and_only_admins_change_them(people, rule, client, auth_header):
    assert (
        client.post(
            "/api/v1/staff/littering/rules",
            json={"reward_fen": 6000},
            headers=auth_header(people.finance),
        ).status_code
        == 403
    )
    bad = client.post(
        "/api/v1/staff/littering/rules",
        json={"region_codes": ["NOPE"]},
        headers=auth_header(people.admin),
    )
    assert bad.status_code == 422
    ok = client.post(
        "/api/v1/staff/littering/rules",
        json={"reward_fen": 6000},
        headers=auth_header(people.admin),
    )
    assert ok.json["reward_fen"] == 6000 and ok.json["cap_day_count"] == rule.cap_day_count
    history = client.get("/api/v1/staff/littering/rules", headers=auth_header(people.reviewer)).json
    assert [h["version"] for h in history["history"]] == [rule.version + 1, rule.version]


def test_outside_the_programme_area(
    make_citizen, people, rule, submit, review, client, auth_header
):
    number = submit(make_citizen("o-lit-15"), lat=OUTSIDE[0], lng=OUTSIDE[1]).json["number"]
    detail = client.get(
        f"/api/v1/staff/littering/reports/{number}", headers=auth_header(people.reviewer)
    ).json
    assert "outside_area" in [s["code"] for s in detail["signals"]]
    resp = review(people.reviewer, number)
    assert resp.status_code == 409 and resp.json["error"]["code"] == "outside_area"
    assert review(people.reviewer, number, "invalid", reason="outside_area").status_code == 200


def _signals(client, staff, number, auth_header) -> dict[str, str]:
    detail = client.get(f"/api/v1/staff/littering/reports/{number}", headers=auth_header(staff))
    return {s["code"]: s["label"] for s in detail.json["signals"]}


def test_signal_same_picture_sent_again(
    make_citizen, people, rule, submit, upload, client, auth_header
):
    one, two = make_citizen("o-lit-s1"), make_citizen("o-lit-s2")
    photos = upload(one, 2)
    first = submit(one, photos=photos, plate="辽G12345").json["number"]
    # The same pictures uploaded again by another account: stored again, so re-encoded.
    stored = [
        get_storage().get(db.session.scalar(select(Media.storage_key).where(Media.public_id == p)))
        for p in photos
    ]
    again = [media_service.store_upload(data, two).public_id for data in stored]
    second = submit(two, photos=again, plate="辽G12399").json["number"]
    labels = _signals(client, people.reviewer, second, auth_header)
    assert first in labels["same_picture"]


def test_signal_capture_time_far_from_stated(
    make_citizen, people, rule, submit, upload, client, auth_header
):
    citizen = make_citizen("o-lit-s3")
    number = submit(citizen, photos=upload(citizen, 2, exif_time="2020:01:01 08:00:00")).json
    labels = _signals(client, people.reviewer, number["number"], auth_header)
    assert "文件拍摄时间与填写的时间相差" in labels["capture_time"]
    fresh = submit(citizen, plate="辽G00001").json["number"]
    assert "capture_time" not in _signals(client, people.reviewer, fresh, auth_header)


def test_signal_banned_device_and_shared_device(
    make_citizen, people, rule, upload, client, auth_header
):
    resp = client.post(
        "/api/v1/staff/littering/bans",
        json={"kind": "device", "value": "dev-1", "reason": "多次虚假举报"},
        headers=auth_header(people.reviewer),
    )
    assert resp.status_code == 201
    numbers = []
    for i in range(3):
        citizen = make_citizen(f"o-lit-d{i}")
        resp = client.post(
            "/api/v1/littering/reports",
            json={
                "plate": f"辽H1234{i}",
                "plate_colour": "blue",
                "occurred_at": ago(minutes=5),
                "address": "测试路1号",
                "media": upload(citizen, 2),
            },
            headers=auth_header(citizen) | {"X-Device-Id": "dev-1"},
        )
        assert resp.status_code == 201, resp.json
        numbers.append(resp.json["number"])
    labels = _signals(client, people.reviewer, numbers[-1], auth_header)
    assert "多次虚假举报" in labels["banned"]
    assert "同一设备30天内有3个账号" in labels["shared_device"]


def test_signal_same_plate_again_and_again(make_citizen, people, rule, submit, client, auth_header):
    citizen = make_citizen("o-lit-s4")
    numbers = [submit(citizen, plate="辽J55555").json["number"] for _ in range(3)]
    assert "repeat_plate" not in _signals(client, people.reviewer, numbers[0], auth_header)
    assert (
        "已举报同一车牌2次"
        in _signals(client, people.reviewer, numbers[2], auth_header)["repeat_plate"]
    )
