"""Submission, routing and the case workflow through the API, as citizens and staff use it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, func, select

from app.extensions import db
from reports.models import OutboxMessage, Report, ReportState, TimelineEntry
from tests.reports.conftest import INSIDE_EAST, INSIDE_WEST

COVER = "测试一区小北一路一处雨水井盖严重破损，车辆经过很危险"


def submit(client, headers, photo_ids, *, point=INSIDE_WEST, key=None, **extra):
    body = {"description": COVER, "photos": photo_ids}
    if point is not None:
        body |= {"lat": point[0], "lng": point[1]}
    body |= extra
    hdrs = dict(headers) | ({"Idempotency-Key": key} if key else {})
    return client.post("/api/v1/reports", json=body, headers=hdrs)


def act(client, headers, number, action, **body):
    return client.post(f"/api/v1/staff/reports/{number}/actions/{action}", json=body,
                       headers=headers)  # fmt: skip


@pytest.fixture
def citizen(make_citizen):
    return make_citizen("o-reporter-1")


def test_confident_report_is_dispatched_without_a_human(client, city, citizen, auth_header, photo):
    resp = submit(client, auth_header(citizen), [photo(citizen)], category="BJ0103")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert re.fullmatch(r"\d{8}-\d{6}", body["number"])
    assert body["state"] == "dispatched" and body["state_label"] == "已派遣"
    assert body["department"] == "测试一区城管局"
    texts = [e["text"] for e in body["timeline"]]
    assert texts[-1] == "已派遣至测试一区城管局处置"
    report = db.session.scalar(select(Report).where(Report.number == body["number"]))
    assert report.due_at > report.dispatched_at
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_category_type_picks_the_unit_below_the_district(client, city, citizen, auth_header, photo):
    resp = submit(client, auth_header(citizen), [photo(citizen)], category="SJ0102",
                  description="小区门口暴露垃圾堆了好几天没人清理，气味很大")  # fmt: skip
    assert resp.get_json()["department"] == "测试一区环卫中心"


@pytest.mark.parametrize(
    ("point", "extra", "reason"),
    [
        (None, {"address": "测试一区某某路12号", "category": "BJ0103"}, "no_location"),
        (INSIDE_WEST, {"description": "嗯嗯啊啊测试一下随便写点"}, "low_confidence"),
    ],
)
def test_doubtful_reports_wait_in_triage(
    client, city, citizen, auth_header, photo, point, extra, reason
):
    resp = submit(client, auth_header(citizen), [photo(citizen)], point=point, **extra)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["state"] == "reported"
    staff_headers = auth_header(city.dispatcher)
    queue = client.get("/api/v1/staff/reports?triage=1", headers=staff_headers).get_json()
    assert [i["triage_reason"] for i in queue["items"]] == [reason]


def test_idempotency_key_returns_the_first_report(client, city, citizen, auth_header, photo):
    headers = auth_header(citizen)
    ids = [photo(citizen)]
    first = submit(client, headers, ids, key="retry-1", category="BJ0103")
    again = submit(client, headers, ids, key="retry-1", category="BJ0103")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["number"] == again.get_json()["number"]
    assert db.session.scalar(select(func.count()).select_from(Report)) == 1
    other = submit(client, headers, ids, key="retry-2", category="BJ0103",
                   point=(INSIDE_WEST[0] + 0.01, INSIDE_WEST[1]))  # fmt: skip
    assert other.get_json()["number"] != first.get_json()["number"]


def test_bad_input_is_refused_with_field_errors(client, city, citizen, auth_header, photo):
    headers = auth_header(citizen)
    cases = [
        ({"description": "短", "lat": 41.8, "lng": 123.35, "photos": [photo(citizen)]},
         "description"),
        ({"description": COVER, "lat": 41.8, "photos": [photo(citizen)]}, "location"),
        ({"description": COVER, "lat": 41.8, "lng": 123.35, "photos": []}, "photos"),
        ({"description": COVER, "lat": 41.8, "lng": 123.35, "photos": ["nope"]}, "photos"),
        ({"description": COVER, "lat": 91, "lng": 123.35, "photos": [photo(citizen)]}, "lat"),
        ({"description": COVER, "lat": 41.8, "lng": 123.35, "coord_sys": "utm",
          "photos": [photo(citizen)]}, "coord_sys"),
        ({"description": COVER, "lat": 41.8, "lng": 123.35, "category": "XX9999",
          "photos": [photo(citizen)]}, "category"),
    ]  # fmt: skip
    for body, field in cases:
        resp = client.post("/api/v1/reports", json=body, headers=headers)
        assert resp.status_code == 422, (field, resp.get_json())
        assert field in resp.get_json()["error"]["fields"], (field, resp.get_json())
    assert db.session.scalar(select(func.count()).select_from(Report)) == 0


def test_someone_elses_photo_cannot_be_attached(client, city, make_citizen, auth_header, photo):
    owner, thief = make_citizen("o-owner"), make_citizen("o-thief")
    resp = submit(client, auth_header(thief), [photo(owner)], category="BJ0103")
    assert resp.status_code == 422
    assert "photos" in resp.get_json()["error"]["fields"]


def test_wgs84_point_is_stored_in_gcj02_and_returned_in_the_callers_system(
    client, city, citizen, auth_header, photo
):
    from app.geo import coords

    wgs = coords.convert(INSIDE_WEST[0], INSIDE_WEST[1], "gcj02", "wgs84")
    resp = submit(client, auth_header(citizen), [photo(citizen)], point=wgs,
                  coord_sys="wgs84", category="BJ0103")  # fmt: skip
    number = resp.get_json()["number"]
    report = db.session.scalar(select(Report).where(Report.number == number))
    assert coords.haversine_m(report.lat, report.lng, *INSIDE_WEST) < 0.5
    back = client.get(f"/api/v1/reports/{number}?coord_sys=wgs84",
                      headers=auth_header(citizen)).get_json()  # fmt: skip
    assert coords.haversine_m(back["lat"], back["lng"], *wgs) < 0.5


def test_full_workflow_and_the_citizens_public_timeline(client, city, citizen, auth_header, photo):
    number = submit(client, auth_header(citizen), [photo(citizen)], category="BJ0103"
                    ).get_json()["number"]  # fmt: skip
    handler = auth_header(city.west_handler)
    assert act(client, handler, number, "accept").status_code == 200
    reply = "已更换新井盖，路面恢复通行"
    no_photo = act(client, handler, number, "feedback", note="已更换井盖", public_reply=reply)
    assert no_photo.status_code == 422
    assert "photos" in no_photo.get_json()["error"]["fields"]
    done = act(client, handler, number, "feedback", note="已更换新井盖", public_reply=reply,
               photos=[photo(city.west_handler, (20, 200, 20))])  # fmt: skip
    assert done.get_json()["state"] == "handled"
    closed = act(client, auth_header(city.inspector), number, "verify_pass", note="现场核查合格")
    assert closed.get_json()["state"] == "closed"
    archived = act(client, auth_header(city.dispatcher), number, "archive")
    assert archived.get_json()["state"] == "archived"

    mine = client.get(f"/api/v1/reports/{number}", headers=auth_header(citizen)).get_json()
    page = str(mine)
    assert "west_handler" not in page and "inspector" not in page and "现场核查合格" not in page
    assert [e["state"] for e in mine["timeline"]] == [
        "reported",
        "registered",
        "dispatched",
        "in_progress",
        "handled",
        "closed",
    ]
    assert mine["timeline"][4]["department"] == "测试一区城管局"
    assert mine["timeline"][4]["text"] == reply and mine["public_reply"] == reply
    assert [p["stage"] for p in mine["timeline"][4]["photos"]] == ["after"]
    assert {p["stage"] for p in mine["photos"]} == {"report", "after"}
    assert mine["can_rate"] is True
    rated = client.post(f"/api/v1/reports/{number}/rating", json={"rating": 5, "comment": "很快"},
                        headers=auth_header(citizen))  # fmt: skip
    assert rated.status_code == 200 and rated.get_json()["rating"] == 5
    again = client.post(f"/api/v1/reports/{number}/rating", json={"rating": 1},
                        headers=auth_header(citizen))  # fmt: skip
    assert again.status_code == 409


def test_illegal_moves_and_wrong_department_are_refused(
    client, city, citizen, make_citizen, auth_header, photo
):
    number = submit(client, auth_header(citizen), [photo(citizen)], category="BJ0103"
                    ).get_json()["number"]  # fmt: skip
    closing_early = act(client, auth_header(city.inspector), number, "verify_pass")
    assert closing_early.status_code == 409
    assert closing_early.get_json()["error"]["code"] == "invalid_transition"
    east = auth_header(city.east_handler)
    assert client.get(f"/api/v1/staff/reports/{number}", headers=east).status_code == 403
    refused = act(client, east, number, "accept")
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "out_of_scope"
    wrong_role = act(client, auth_header(city.west_handler), number, "void", note="x")
    assert wrong_role.status_code == 403
    assert wrong_role.get_json()["error"]["code"] == "role_forbidden"
    east_queue = client.get("/api/v1/staff/reports", headers=east).get_json()
    assert east_queue["total"] == 0
    stranger = auth_header(make_citizen("o-stranger"))
    assert client.get(f"/api/v1/reports/{number}", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/staff/reports/{number}",
                      headers=auth_header(citizen)).status_code == 403  # fmt: skip


def test_return_and_redispatch(client, city, citizen, auth_header, photo):
    number = submit(client, auth_header(citizen), [photo(citizen)], category="BJ0103",
                    point=INSIDE_WEST).get_json()["number"]  # fmt: skip
    no_reason = act(client, auth_header(city.west_handler), number, "return")
    assert no_reason.status_code == 422
    back = act(client, auth_header(city.west_handler), number, "return", note="不属于本区")
    assert back.get_json()["state"] == "registered"
    dispatcher = auth_header(city.dispatcher)
    again = act(client, dispatcher, number, "dispatch", department_id=city.east.id)
    assert again.get_json()["department"] == "测试二区城管局"
    staff_view = client.get(f"/api/v1/staff/reports/{number}", headers=dispatcher).get_json()
    returned = [e for e in staff_view["timeline"] if e["action"] == "return"][0]
    assert returned["department"] == "测试一区城管局" and returned["note"] == "不属于本区"
    assert act(client, auth_header(city.east_handler), number, "accept").status_code == 200


def test_extension_moves_the_due_time(client, city, citizen, auth_header, photo):
    number = submit(client, auth_header(citizen), [photo(citizen)], category="BJ0103"
                    ).get_json()["number"]  # fmt: skip
    handler, dispatcher = auth_header(city.west_handler), auth_header(city.dispatcher)
    before = client.get(f"/api/v1/staff/reports/{number}", headers=dispatcher).get_json()
    asked = act(client, handler, number, "request_extension", note="需采购新井盖",
                extension={"amount": 2, "unit": "days"})  # fmt: skip
    assert asked.get_json()["pending_extension"]["amount"] == 2
    twice = act(client, handler, number, "request_extension", note="再延",
                extension={"amount": 1, "unit": "days"})  # fmt: skip
    assert twice.status_code == 409
    approved = act(client, dispatcher, number, "approve_extension")
    body = approved.get_json()
    assert body["extension_count"] == 1 and body["pending_extension"] is None
    assert body["due_at"] > before["due_at"]


def test_rework_after_failed_verification(client, city, citizen, auth_header, photo):
    number = submit(client, auth_header(citizen), [photo(citizen)], category="BJ0103"
                    ).get_json()["number"]  # fmt: skip
    handler = auth_header(city.west_handler)
    act(client, handler, number, "feedback", note="已修", public_reply="井盖已重新安装固定",
        photos=[photo(city.west_handler)])  # fmt: skip
    failed = act(client, auth_header(city.inspector), number, "verify_fail", note="井盖仍松动")
    assert failed.get_json()["state"] == "in_progress"
    assert failed.get_json()["rework_count"] == 1


def test_duplicates_are_flagged_and_merged(client, city, make_citizen, auth_header, photo):
    first_citizen, second_citizen = make_citizen("o-first"), make_citizen("o-second")
    first = submit(client, auth_header(first_citizen), [photo(first_citizen)],
                   category="BJ0103").get_json()  # fmt: skip
    near = (INSIDE_WEST[0] + 0.0002, INSIDE_WEST[1])  # about 22 m north
    second = submit(client, auth_header(second_citizen), [photo(second_citizen)],
                    category="BJ0103", point=near).get_json()  # fmt: skip
    assert second["state"] == "reported"
    dispatcher = auth_header(city.dispatcher)
    detail = client.get(f"/api/v1/staff/reports/{second['number']}", headers=dispatcher).get_json()
    assert detail["triage_reason"] == "possible_duplicate"
    assert detail["possible_duplicate_of"] == first["number"]
    far = submit(
        client,
        auth_header(second_citizen),
        [photo(second_citizen)],
        category="BJ0103",
        point=(INSIDE_WEST[0] + 0.002, INSIDE_WEST[1]),
    ).get_json()
    assert far["state"] == "dispatched"  # 220 m away: a different cover
    merged = act(client, dispatcher, second["number"], "merge", target=first["number"])
    assert merged.get_json()["state"] == "merged"
    seen = client.get(f"/api/v1/reports/{second['number']}",
                      headers=auth_header(second_citizen)).get_json()  # fmt: skip
    assert seen["merged_into"] == first["number"]
    assert seen["timeline"][-1]["text"] == "您反映的问题与已有案件相同，已合并办理"
    followed = client.get(f"/api/v1/reports/{first['number']}",
                          headers=auth_header(second_citizen)).get_json()  # fmt: skip
    assert followed["state"] == "dispatched" and followed["department"] == "测试一区城管局"
    assert followed["photos"] == [] and followed["can_rate"] is False
    assert COVER not in str(followed)  # not the first citizen's words
    stranger = auth_header(make_citizen("o-third"))
    assert client.get(f"/api/v1/reports/{first['number']}", headers=stranger).status_code == 404
    db.session.execute(delete(OutboxMessage))
    act(client, auth_header(city.west_handler), first["number"], "feedback", note="已更换",
        public_reply="井盖已更换，路面恢复通行", photos=[photo(city.west_handler)])  # fmt: skip
    told = db.session.scalars(select(OutboxMessage)).all()
    assert sorted(m.payload["user_id"] for m in told) == sorted(
        [first_citizen.id, second_citizen.id]
    )


def test_reject_needs_a_known_reason(client, city, citizen, auth_header, photo):
    number = submit(client, auth_header(citizen), [photo(citizen)], point=None,  # in triage
                    address="测试一区某路12号", category="BJ0103").get_json()["number"]  # fmt: skip
    dispatcher = auth_header(city.dispatcher)
    assert act(client, dispatcher, number, "reject", reason="bored").status_code == 422
    done = act(client, dispatcher, number, "reject", reason="out_of_scope")
    assert done.get_json()["state"] == "rejected"
    mine = client.get(f"/api/v1/reports/{number}", headers=auth_header(citizen)).get_json()
    assert mine["timeline"][-1]["text"] == "经核实，您反映的问题不予立案：不属于城管职责范围"


def test_every_transition_writes_a_timeline_entry(client, city, citizen, auth_header, photo):
    number = submit(client, auth_header(citizen), [photo(citizen)], category="BJ0103"
                    ).get_json()["number"]  # fmt: skip
    act(client, auth_header(city.west_handler), number, "accept")
    act(client, auth_header(city.dispatcher), number, "suspend", note="需协调产权单位")
    act(client, auth_header(city.dispatcher), number, "resume")
    report = db.session.scalar(select(Report).where(Report.number == number))
    actions = db.session.scalars(select(TimelineEntry.action).where(
        TimelineEntry.report_id == report.id).order_by(TimelineEntry.id)).all()  # fmt: skip
    assert actions == ["submit", "register", "dispatch", "accept", "suspend", "resume"]
    assert report.state == ReportState.IN_PROGRESS


def test_stale_version_is_a_conflict(client, city, citizen, auth_header, photo):
    body = submit(client, auth_header(citizen), [photo(citizen)], category="BJ0103").get_json()
    detail = client.get(f"/api/v1/staff/reports/{body['number']}",
                        headers=auth_header(city.west_handler)).get_json()  # fmt: skip
    act(client, auth_header(city.west_handler), body["number"], "accept")
    stale = act(client, auth_header(city.dispatcher), body["number"], "suspend", note="x",
                version=detail["version"])  # fmt: skip
    assert stale.status_code == 409
    assert stale.get_json()["error"]["code"] == "stale_version"


def test_my_reports_lists_only_mine(client, city, make_citizen, auth_header, photo):
    me, other = make_citizen("o-me"), make_citizen("o-other")
    submit(client, auth_header(me), [photo(me)], category="BJ0103")
    submit(client, auth_header(other), [photo(other)], category="SJ0102",
           point=INSIDE_EAST)  # fmt: skip
    mine = client.get("/api/v1/reports", headers=auth_header(me)).get_json()
    assert mine["total"] == 1 and mine["items"][0]["category"] == "雨水井盖"


def test_submissions_are_rate_limited_per_citizen(
    app, client, city, make_citizen, auth_header, photo, monkeypatch
):
    monkeypatch.setitem(app.config, "RATELIMIT_REPORTS", "2/hour")
    busy, other = make_citizen("o-busy"), make_citizen("o-calm")
    statuses = [
        submit(client, auth_header(busy), [photo(busy)], category="BJ0103",
               point=(INSIDE_WEST[0] + i * 0.01, INSIDE_WEST[1])).status_code
        for i in range(3)
    ]  # fmt: skip
    assert statuses == [201, 201, 429]
    assert submit(client, auth_header(other), [photo(other)], category="BJ0103",
                  point=INSIDE_EAST).status_code == 201  # fmt: skip
