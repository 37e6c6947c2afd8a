"""The case workflow people expect (issue 14), through the API as each person uses it:
改派 to another department, a 回退 that reaches the dispatcher, the responsible unit suggested for
dispatch, the handler's public reply, a dissatisfied citizen's reopen and 补充说明."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from app.extensions import db
from reports import reference
from reports.models import OutboxMessage, Report, ReportState, TimelineEntry
from tests.conftest import error_of
from tests.reports.conftest import INSIDE_EAST, INSIDE_WEST

COVER = "测试一区小北一路一处雨水井盖严重破损，车辆经过很危险"
REPLY = "破损的雨水井盖已更换，路面恢复通行"
T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shenyang


def submit(client, headers, photo_ids, *, point=INSIDE_WEST, **extra) -> dict:
    body = {"description": COVER, "photos": photo_ids, "lat": point[0], "lng": point[1]} | extra
    resp = client.post("/api/v1/reports", json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def act(client, headers, number, action, **body):
    return client.post(f"/api/v1/staff/reports/{number}/actions/{action}", json=body,
                       headers=headers)  # fmt: skip


def staff_case(client, headers, number) -> dict:
    resp = client.get(f"/api/v1/staff/reports/{number}", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def mine(client, headers, number) -> dict:
    resp = client.get(f"/api/v1/reports/{number}", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def queue(client, headers, **args) -> list[dict]:
    resp = client.get("/api/v1/staff/reports", query_string=args, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]


@pytest.fixture
def citizen(make_citizen):
    return make_citizen("o-expected-workflow")


@pytest.fixture
def dispatched(client, city, citizen, auth_header, photo):
    """A citizen's 雨水井盖 report in 测试一区, dispatched to 测试一区城管局 by the system."""

    def make(point=INSIDE_WEST, category="BJ0103") -> str:
        body = submit(client, auth_header(citizen), [photo(citizen)], point=point,
                      category=category)  # fmt: skip
        assert body["state"] == "dispatched"
        return body["number"]

    return make


@pytest.fixture
def closed(client, city, auth_header, photo, dispatched):
    """A dispatched case handled with a public reply, verified and closed."""

    def make(point=INSIDE_WEST) -> str:
        number = dispatched(point)
        handler = auth_header(city.west_handler)
        assert act(client, handler, number, "accept").status_code == 200
        done = act(client, handler, number, "feedback", note="更换井盖一套", public_reply=REPLY,
                   photos=[photo(city.west_handler, (20, 200, 20))])  # fmt: skip
        assert done.status_code == 200, done.get_json()
        passed = act(client, auth_header(city.inspector), number, "verify_pass")
        assert passed.get_json()["state"] == "closed"
        return number

    return make


# ---------------------------------------------------------------- 改派 (re-dispatch)


def test_a_dispatcher_redispatches_to_another_department_and_the_clock_restarts(
    client, city, citizen, auth_header, dispatched
):
    with freeze_time(T0):
        number = dispatched()
    before = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    later = T0 + timedelta(days=1, hours=3)
    with freeze_time(later):
        dispatcher = auth_header(city.dispatcher)
        moved = act(client, dispatcher, number, "redispatch", department_id=city.east.id,
                    note="该路段由测试二区负责养护")  # fmt: skip
    assert moved.status_code == 200, moved.get_json()
    body = moved.get_json()
    assert body["state"] == "dispatched" and body["department"] == "测试二区城管局"
    report = db.session.scalar(select(Report).where(Report.number == number))
    assert report.dispatched_at == later
    assert report.due_at == reference.due_time(later, report.category) > later
    entry = [e for e in body["timeline"] if e["action"] == "redispatch"][0]
    assert (
        entry["text"] == "已改派至测试二区城管局处置"
        and entry["note"] == "该路段由测试二区负责养护"
    )
    assert entry["data"]["from_department"] == "测试一区城管局" and entry["actor"]

    seen = mine(client, auth_header(citizen), number)
    assert seen["timeline"][-1]["text"] == "已改派至测试二区城管局处置"
    assert seen["department"] == "测试二区城管局"
    assert "负责养护" not in str(seen)  # the reason is internal
    notices = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert len(notices) == before + 1
    assert notices[-1].payload["text"] == "已改派至测试二区城管局处置"

    # The receiving department finds it flagged 改派 at the top of its 待签收 queue, with why.
    east = auth_header(city.east_handler)
    first = queue(client, east, state="dispatched")[0]
    assert first["number"] == number and first["attention_label"] == "改派"
    assert first["attention_note"] == "该路段由测试二区负责养护"
    assert act(client, east, number, "accept").status_code == 200
    assert staff_case(client, east, number)["attention"] is None  # acted on
    # The department that lost it no longer sees it.
    west = auth_header(city.west_handler)
    assert client.get(f"/api/v1/staff/reports/{number}", headers=west).status_code == 403


def test_redispatch_refuses_the_same_department_a_missing_reason_and_handlers(
    client, city, auth_header, dispatched
):
    number = dispatched()
    dispatcher = auth_header(city.dispatcher)
    same = act(client, dispatcher, number, "redispatch", department_id=city.west.id, note="重派")
    assert same.status_code == 422
    assert same.get_json()["error"]["fields"] == {
        "department": ["改派的处置部门不能与当前处置部门相同"]
    }
    no_reason = act(client, dispatcher, number, "redispatch", department_id=city.east.id)
    assert no_reason.status_code == 422 and "note" in no_reason.get_json()["error"]["fields"]
    nowhere = act(client, dispatcher, number, "redispatch", department_id=99999, note="改派")
    assert nowhere.status_code == 422 and "department" in nowhere.get_json()["error"]["fields"]
    handler = act(client, auth_header(city.west_handler), number, "redispatch",
                  department_id=city.east.id, note="不归我们")  # fmt: skip
    assert handler.status_code == 403 and handler.get_json()["error"]["code"] == "role_forbidden"
    report = db.session.scalar(select(Report).where(Report.number == number))
    assert report.department_id == city.west.id
    assert "redispatch" in [a["name"] for a in staff_case(client, dispatcher, number)
                            ["allowed_actions"]]  # fmt: skip


def test_an_in_progress_case_may_be_redispatched_a_handled_one_not(
    client, city, auth_header, photo, dispatched
):
    number = dispatched()
    handler, dispatcher = auth_header(city.west_handler), auth_header(city.dispatcher)
    act(client, handler, number, "accept")
    act(client, handler, number, "request_extension", note="需采购井盖",
        extension={"amount": 2, "unit": "days"})  # fmt: skip
    moved = act(client, dispatcher, number, "redispatch", department_id=city.east.id, note="改派")
    assert moved.status_code == 200
    assert moved.get_json()["pending_extension"] is None  # the old unit's request goes with it
    east = auth_header(city.east_handler)
    act(client, east, number, "feedback", note="已修", public_reply=REPLY,
        photos=[photo(city.east_handler)])  # fmt: skip
    late = act(client, dispatcher, number, "redispatch", department_id=city.west.id, note="改回")
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "invalid_transition"


# ---------------------------------------------------------------- 回退 reaches the dispatcher


def test_a_returned_case_waits_at_the_top_of_the_dispatch_queue_with_the_reason(
    client, city, citizen, auth_header, photo, dispatched
):
    number = dispatched()
    dispatcher = auth_header(city.dispatcher)
    # A newer case waiting for dispatch, registered by the dispatcher.
    newer = submit(client, auth_header(citizen), [photo(citizen)], point=INSIDE_EAST,
                   description="嗯嗯啊啊测试一下随便写点")["number"]  # fmt: skip
    assert act(client, dispatcher, newer, "register", category="SJ0102").status_code == 200
    assert [i["number"] for i in queue(client, dispatcher, state="registered")] == [newer]

    back = act(client, auth_header(city.west_handler), number, "return",
               note="该井盖属于燃气公司，不归本局处置")  # fmt: skip
    assert back.status_code == 200
    items = queue(client, dispatcher, state="registered")
    assert [i["number"] for i in items] == [number, newer]  # the returned one first
    assert items[0]["attention"] == "returned" and items[0]["attention_label"] == "被退回"
    assert items[0]["attention_note"] == "该井盖属于燃气公司，不归本局处置"
    assert items[1]["attention"] is None
    case = staff_case(client, dispatcher, number)
    assert case["attention_label"] == "被退回" and case["return_count"] == 1
    assert case["attention_note"] == "该井盖属于燃气公司，不归本局处置"

    again = act(client, dispatcher, number, "dispatch", department_id=city.east.id)
    assert again.status_code == 200 and again.get_json()["attention"] is None
    assert [i["number"] for i in queue(client, dispatcher, state="registered")] == [newer]


# ---------------------------------------------------------------- the suggested department


def test_staff_see_the_unit_automatic_dispatch_would_pick(
    client, city, citizen, make_citizen, auth_header, photo
):
    # Routed by the system: 暴露垃圾 (sanitation) in 测试一区 goes to its 环卫中心.
    auto = submit(client, auth_header(citizen), [photo(citizen)], category="SJ0102")
    assert auto["department"] == "测试一区环卫中心"
    # The same kind of report a few metres away waits as a possible duplicate: the dispatcher
    # is offered the unit the system picked for the first.
    other = make_citizen("o-neighbour")
    near = (INSIDE_WEST[0] + 0.0001, INSIDE_WEST[1])
    waiting = submit(client, auth_header(other), [photo(other)], point=near, category="SJ0102")
    assert waiting["state"] == "reported"
    case = staff_case(client, auth_header(city.dispatcher), waiting["number"])
    assert case["suggested_department"] == {"id": city.west_sanitation.id, "code": "T-W-HW",
                                            "name": "测试一区环卫中心"}  # fmt: skip
    # A 雨水井盖 (municipal) there would go to the district bureau itself: the category decides.
    report = db.session.scalar(select(Report).where(Report.number == waiting["number"]))
    report.category = reference.category_by_code("BJ0103")
    db.session.flush()
    case = staff_case(client, auth_header(city.dispatcher), waiting["number"])
    assert case["suggested_department"]["name"] == "测试一区城管局"


def test_no_suggestion_without_a_place(client, city, citizen, auth_header, photo):
    body = {"description": COVER, "photos": [photo(citizen)], "category": "BJ0103",
            "address": "测试一区某某路12号"}  # fmt: skip
    number = client.post("/api/v1/reports", json=body, headers=auth_header(citizen)).get_json()[
        "number"]  # fmt: skip
    assert staff_case(client, auth_header(city.dispatcher), number)["suggested_department"] is None


# ---------------------------------------------------------------- the public reply


def test_feedback_needs_a_public_reply_which_the_citizen_reads(
    client, city, citizen, auth_header, photo, dispatched
):
    number = dispatched()
    handler = auth_header(city.west_handler)
    after = [photo(city.west_handler)]
    for reply in (None, "", "   ", "已修复", "修" * 501):
        refused = act(client, handler, number, "feedback", note="内部：更换井盖一套，费用另报",
                      public_reply=reply, photos=after)  # fmt: skip
        assert refused.status_code == 422, reply
        assert "public_reply" in refused.get_json()["error"]["fields"], reply
    db.session.execute(OutboxMessage.__table__.delete())
    done = act(client, handler, number, "feedback", note="内部：更换井盖一套，费用另报",
               public_reply=f"  {REPLY}  ", photos=after)  # fmt: skip
    assert done.status_code == 200, done.get_json()
    staff_entry = [e for e in done.get_json()["timeline"] if e["action"] == "feedback"][0]
    assert staff_entry["text"] == REPLY and staff_entry["note"] == "内部：更换井盖一套，费用另报"

    seen = mine(client, auth_header(citizen), number)
    assert seen["public_reply"] == REPLY
    assert seen["timeline"][-1]["text"] == REPLY
    assert "费用另报" not in str(seen)
    notice = db.session.scalars(select(OutboxMessage)).one()
    assert notice.payload["text"] == REPLY and notice.payload["state"] == "处置完成"


def test_a_case_handled_before_replies_existed_reads_as_it_did(
    client, city, citizen, auth_header, photo, dispatched
):
    number = dispatched()
    report = db.session.scalar(select(Report).where(Report.number == number))
    report.state = ReportState.HANDLED
    db.session.add(TimelineEntry(report=report, action="feedback", from_state="dispatched",
                                 to_state="handled", actor_kind="staff",
                                 department_id=city.west.id, note="已修",
                                 public_note="测试一区城管局已处置完成，等待核查",
                                 is_public=True, data={}))  # fmt: skip
    db.session.flush()
    seen = mine(client, auth_header(citizen), number)
    assert seen["public_reply"] is None
    assert seen["timeline"][-1]["text"] == "测试一区城管局已处置完成，等待核查"


# ---------------------------------------------------------------- reopen and 补充说明


def test_a_dissatisfied_citizen_reopens_a_closed_case_within_the_window(
    client, city, citizen, auth_header, closed
):
    with freeze_time(T0):
        number = closed()
    me = auth_header(citizen)
    with freeze_time(T0 + timedelta(days=6, hours=23)):
        me = auth_header(citizen)
        seen = mine(client, me, number)
        assert seen["can_reopen"] is True and seen["public_reply"] == REPLY
        assert seen["reopen_until"].startswith("2026-12-14T02:00")
        short = client.post(f"/api/v1/reports/{number}/reopen", json={"reason": "  不行  "},
                            headers=me)  # fmt: skip
        assert short.status_code == 422 and "reason" in short.get_json()["error"]["fields"]
        resp = client.post(f"/api/v1/reports/{number}/reopen",
                           json={"reason": "井盖仍然松动，车辆经过有响声"}, headers=me)  # fmt: skip
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        assert body["state"] == "registered" and body["state_label"] == "已立案"
        assert body["can_reopen"] is False and body["closed_at"] is None
        assert body["timeline"][-1]["text"] == ("市民对处理结果不满意，申请重新办理："
                                                "井盖仍然松动，车辆经过有响声")  # fmt: skip
        again = client.post(f"/api/v1/reports/{number}/reopen",
                            json={"reason": "还是没有修好啊"}, headers=me)  # fmt: skip
        assert again.status_code == 409
        assert again.get_json()["error"]["code"] == "already_reopened"

    report = db.session.scalar(select(Report).where(Report.number == number))
    assert report.reopen_count == 1 and report.department_id is None
    dispatcher = auth_header(city.dispatcher)
    first = queue(client, dispatcher, state="registered")[0]
    assert first["number"] == number and first["attention_label"] == "市民要求重新办理"
    assert first["attention_note"] == "井盖仍然松动，车辆经过有响声"
    reopens = db.session.scalar(select(func.count()).select_from(TimelineEntry)
                                .where(TimelineEntry.action == "reopen"))  # fmt: skip
    assert reopens == 1  # what the statistics count
    # Back through the workflow: dispatched again, the flag gone.
    assert act(client, dispatcher, number, "dispatch", department_id=city.west.id
               ).get_json()["attention"] is None  # fmt: skip


def test_no_reopen_after_the_window_or_of_an_open_case_or_of_someone_elses(
    app, client, city, citizen, make_citizen, auth_header, closed, dispatched, monkeypatch
):
    with freeze_time(T0):
        number = closed()
    with freeze_time(T0 + timedelta(days=7, minutes=1)):
        me = auth_header(citizen)
        assert mine(client, me, number)["can_reopen"] is False
        late = client.post(f"/api/v1/reports/{number}/reopen", json={"reason": "井盖又坏了"},
                           headers=me)  # fmt: skip
        assert late.status_code == 409
        assert error_of(late) == {
            "code": "reopen_window_passed",
            "message": "结案已超过7天，不能再申请重新办理；如问题仍然存在，请重新上报"}  # fmt: skip
        monkeypatch.setitem(app.config, "REOPEN_DAYS", 10)  # the window is configuration
        assert mine(client, me, number)["can_reopen"] is True
        stranger = auth_header(make_citizen("o-stranger"))
        other = client.post(f"/api/v1/reports/{number}/reopen", json={"reason": "井盖又坏了"},
                            headers=stranger)  # fmt: skip
        assert other.status_code == 404
    open_case = dispatched()
    still_open = client.post(f"/api/v1/reports/{open_case}/reopen", json={"reason": "怎么还没处理"},
                             headers=auth_header(citizen))  # fmt: skip
    assert still_open.status_code == 409 and still_open.get_json()["error"]["code"] == "not_closed"
    assert db.session.scalar(select(func.sum(Report.reopen_count))) == 0


def test_a_citizen_adds_a_comment_staff_read_it_and_a_retry_adds_nothing(
    client, city, citizen, auth_header, dispatched, closed
):
    number = dispatched()
    me = auth_header(citizen)
    assert mine(client, me, number)["can_comment"] is True
    for _ in range(2):  # a retried send
        resp = client.post(f"/api/v1/reports/{number}/comments",
                           json={"text": "晚上没有路灯，更加危险"}, headers=me)  # fmt: skip
        assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["timeline"][-1]["text"] == "市民补充说明：晚上没有路灯，更加危险"
    case = staff_case(client, auth_header(city.west_handler), number)
    comments = [e for e in case["timeline"] if e["action"] == "comment"]
    assert [(e["text"], e["actor"]) for e in comments] == [("市民补充说明：晚上没有路灯，更加危险",
                                                            "市民")]  # fmt: skip
    empty = client.post(f"/api/v1/reports/{number}/comments", json={"text": " 。"}, headers=me)
    assert empty.status_code == 422 and "text" in empty.get_json()["error"]["fields"]
    done = closed((INSIDE_WEST[0] + 0.01, INSIDE_WEST[1]))  # another cover, 1 km north
    assert mine(client, me, done)["can_comment"] is False
    late = client.post(f"/api/v1/reports/{done}/comments", json={"text": "谢谢处理"}, headers=me)
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "not_open"
