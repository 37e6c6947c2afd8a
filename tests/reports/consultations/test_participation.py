"""Citizens take part in a consultation: one response per phase, changed until the phase closes;
comments and proposals shown to others only once approved, with masked names; rate limits."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from app.auth.models import Role
from app.extensions import db
from reports.consultations.models import ConsultationResponse
from tests.conftest import error_of
from tests.reports.consultations.conftest import NEEDS, STAFF_API, make_project, phase_body


def count_responses() -> int:
    return db.session.scalar(select(func.count()).select_from(ConsultationResponse))


def test_an_answer_is_changed_not_repeated_until_the_phase_closes(
    client, city, park, make_citizen, auth_header
):
    citizen = auth_header(make_citizen())
    url = park.phase("needs") + "/response"
    assert client.get(url, headers=citizen).get_json()["submitted"] is False

    first = client.put(url, json={"answers": {"q1": [2, 0], "q2": 1}}, headers=citizen)
    assert first.status_code == 200 and first.get_json()["created"] is True
    assert first.get_json()["answers"] == {"q1": [0, 2], "q2": 1}
    again = client.put(
        url, json={"answers": {"q1": [1], "q2": 0, "q3": " 多种树 "}}, headers=citizen
    )
    assert again.status_code == 200 and again.get_json()["created"] is False
    assert count_responses() == 1
    assert client.get(url, headers=citizen).get_json()["answers"] == {
        "q1": [1],
        "q2": 0,
        "q3": "多种树",
    }
    project = client.get(f"/api/v1/consultations/projects/{park.code}").get_json()
    assert project["phases"][0]["responses"] == 1 and project["participants"] == 1

    staff = auth_header(city.dispatcher)
    client.post(f"{STAFF_API}/projects/{park.id}/phases/needs/close", headers=staff)
    late = client.put(url, json={"answers": {"q1": [0], "q2": 2}}, headers=citizen)
    assert late.status_code == 409
    assert error_of(late) == {"code": "phase_not_open", "message": "该阶段已结束，不能再提交"}
    upcoming = client.put(
        park.phase("outcome") + "/response", json={"answers": {"q1": 5}}, headers=citizen
    )
    assert upcoming.status_code == 409 and "尚未开始" in error_of(upcoming)["message"]


@pytest.mark.parametrize(
    ("answers", "fields"),
    [
        ({"q1": [0, 1, 2], "q2": 0}, {"answers.q1": ["最多选择2项"]}),
        ({"q1": [0], "q2": 7}, {"answers.q2": ["选项不存在"]}),
        ({"q1": [0]}, {"answers.q2": ["此题必答"]}),
        ({"q1": [0], "q2": 0, "q9": "x"}, {"answers.q9": ["没有这道题"]}),
        ({"q1": "座椅", "q2": True}, {"answers.q1": ["选项不存在"], "answers.q2": ["请选择一项"]}),
    ],
)
def test_wrong_answers_are_named_by_their_question(
    client, park, make_citizen, auth_header, answers, fields
):
    resp = client.put(
        park.phase("needs") + "/response",
        json={"answers": answers},
        headers=auth_header(make_citizen()),
    )
    assert resp.status_code == 422
    assert error_of(resp)["fields"] == fields
    assert count_responses() == 0


def test_questions_are_frozen_once_answered_but_dates_may_move(
    client, city, park, make_citizen, auth_header
):
    staff = auth_header(city.dispatcher)
    url = f"{STAFF_API}/projects/{park.id}/phases/needs"
    client.put(
        park.phase("needs") + "/response",
        json={"answers": {"q1": [0], "q2": 0}},
        headers=auth_header(make_citizen()),
    )
    changed = [dict(NEEDS[0], options=["座椅", "照明"]), *NEEDS[1:]]
    resp = client.put(url, json=phase_body(changed), headers=staff)
    assert resp.status_code == 409 and error_of(resp)["code"] == "questions_frozen"
    resp = client.put(url, json=phase_body(NEEDS, end=20, intro="延长两周"), headers=staff)
    assert resp.status_code == 200
    assert resp.get_json()["phases"][0]["intro"] == "延长两周"


def test_a_draft_is_not_public_and_a_bad_question_list_is_refused(client, city, auth_header):
    staff = auth_header(city.dispatcher)
    draft = make_project(client, staff, city.west.id, publish=False)
    assert client.get(f"/api/v1/consultations/projects/{draft.code}").status_code == 404
    assert client.get(f"/h5/consultations/{draft.code}").status_code == 404
    bad = [
        {"kind": "single", "title": "只有一个选项", "options": ["是"]},
        {"kind": "rating", "title": "评分", "options": ["好"]},
    ]
    resp = client.put(
        f"{STAFF_API}/projects/{draft.id}/phases/needs", json=phase_body(bad), headers=staff
    )
    assert resp.status_code == 422
    assert error_of(resp)["fields"] == {
        "questions.0": ["选择题至少需要两个选项"],
        "questions.1": ["评分（1-5星）题不需要选项"],
    }
    resp = client.put(
        f"{STAFF_API}/projects/{draft.id}/phases/needs",
        json=phase_body(NEEDS, start=5, end=1),
        headers=staff,
    )
    assert error_of(resp)["fields"] == {"closes_at": ["结束时间应晚于开始时间"]}


def test_comments_show_once_approved_with_a_masked_name(
    client, city, park, make_citizen, make_staff, auth_header
):
    author = make_citizen("o-author")
    author.nickname, author.phone = "张三丰", "13912345678"
    mine = auth_header(author)
    other = auth_header(make_citizen("o-other"))
    url = park.phase("proposals") + "/comments"
    body = {"kind": "proposal", "body": "东侧入口加无障碍坡道"}
    sent = client.post(url, json=body, headers=mine | {"Idempotency-Key": "k-1"})
    assert sent.status_code == 201
    retry = client.post(url, json=body, headers=mine | {"Idempotency-Key": "k-1"})
    assert retry.status_code == 200 and retry.get_json()["id"] == sent.get_json()["id"]
    reused = client.post(
        url, json=body | {"body": "别的内容"}, headers=mine | {"Idempotency-Key": "k-1"}
    )
    assert reused.status_code == 422 and error_of(reused)["code"] == "idempotency_key_reused"

    assert client.get(url).get_json()["items"] == []  # anyone: nothing yet
    assert client.get(url, headers=other).get_json()["items"] == []
    own = client.get(url, headers=mine).get_json()["items"]
    assert [(c["body"], c["status_label"], c["own"]) for c in own] == [
        ("东侧入口加无障碍坡道", "待审核", True)
    ]

    moderate = f"{STAFF_API}/comments/{sent.get_json()['id']}/moderation"
    resp = client.post(moderate, json={"decision": "approve"}, headers=auth_header(city.inspector))
    assert resp.status_code == 403  # inspectors do not moderate
    reviewer = auth_header(make_staff("reviewer1", roles=(Role.REVIEWER,)))
    assert client.post(moderate, json={"decision": "approve"}, headers=reviewer).status_code == 200
    shown = client.get(url).get_json()["items"]
    assert [(c["author"], c["kind_label"], c["body"]) for c in shown] == [
        ("张**", "建议", "东侧入口加无障碍坡道")
    ]
    page = client.get(f"/h5/consultations/{park.code}/proposals").get_data(as_text=True)
    assert "东侧入口加无障碍坡道" in page and "张**" in page
    assert "张三丰" not in page and "13912345678" not in page

    client.post(moderate, json={"decision": "reject", "reason": "重复"}, headers=reviewer)
    assert client.get(url).get_json()["items"] == []
    queue = client.get(f"{STAFF_API}/comments?status=rejected", headers=reviewer).get_json()
    assert [(c["reject_reason"], c["author"]) for c in queue["items"]] == [("重复", "张**")]


def test_comments_and_proposals_follow_the_phase(client, park, make_citizen, auth_header):
    citizen = auth_header(make_citizen())
    resp = client.post(
        park.phase("needs") + "/comments", json={"kind": "proposal", "body": "x"}, headers=citizen
    )
    assert resp.status_code == 409 and error_of(resp)["message"] == "该阶段不接受建议"
    resp = client.post(
        park.phase("outcome") + "/comments", json={"body": "还没开始"}, headers=citizen
    )
    assert resp.status_code == 409 and error_of(resp)["code"] == "phase_not_open"


def test_a_citizens_writes_are_rate_limited(
    app, client, park, make_citizen, auth_header, monkeypatch
):
    monkeypatch.setitem(app.config, "RATELIMIT_CONSULTATIONS", "3/minute")
    citizen = auth_header(make_citizen())
    url = park.phase("proposals") + "/response"
    codes = [
        client.put(url, json={"answers": {"q1": i % 2}}, headers=citizen).status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    other = auth_header(make_citizen("o-neighbour"))  # per citizen, not per address
    assert client.put(url, json={"answers": {"q1": 0}}, headers=other).status_code == 200
    assert client.get(url, headers=citizen).status_code == 200  # reads are not counted here


def test_signing_in_is_asked_for_on_the_phase_page(client, park):
    page = client.get(f"/h5/consultations/{park.code}/needs").get_data(as_text=True)
    assert "微信登录后参与" in page and "/auth/wechat" in page
    assert 'id="submit-btn"' not in page
    resp = client.put(park.phase("needs") + "/response", json={"answers": {"q1": [0], "q2": 0}})
    assert resp.status_code == 401


def test_the_lists_cost_the_same_queries_for_one_project_or_four(client, city, auth_header):
    """No query per project (N+1) in the public list, the staff list and the moderation queue."""
    staff = auth_header(city.dispatcher)
    urls = ("/api/v1/consultations/projects", f"{STAFF_API}/projects", "/h5/consultations")
    counts = []
    for n in (1, 3):
        for _ in range(n):
            make_project(client, staff, city.west.id)
        statements: list[str] = []

        def count(*args, _statements=statements):
            _statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            for url in urls:
                assert client.get(url, headers=staff).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        counts.append(len(statements))
    assert 5 < counts[0] == counts[1], counts
