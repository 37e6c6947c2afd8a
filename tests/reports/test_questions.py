"""Per-category follow-up questions: data on the category (seeded, edited by admins), asked on
the citizen's form, answered with the report, shown to the dispatcher; an urgent answer makes the
case 紧急."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from app.auth.models import Role
from app.extensions import db
from reports import questions
from reports.models import Category, Report
from tests.reports.conftest import INSIDE_WEST, jpeg_bytes

COVER = "小区门口一处雨水井盖不见了，晚上很危险"


@pytest.fixture
def asked(city):
    """The shipped questions on the test city's categories."""
    seeded = questions.load_seed()
    for category in db.session.scalars(select(Category)):
        category.questions = seeded.get(category.code)
    db.session.flush()
    return seeded


def body(photo_id: str, **extra) -> dict:
    return {"description": COVER, "photos": [photo_id], "lat": INSIDE_WEST[0],
            "lng": INSIDE_WEST[1], "category": "BJ0103"} | extra  # fmt: skip


def reports() -> int:
    return db.session.scalar(select(func.count()).select_from(Report))


def test_the_shipped_questions_are_valid_data_for_real_categories():
    import csv

    from tests.reports.conftest import CATEGORIES_CSV

    seeded = questions.load_seed()
    with CATEGORIES_CSV.open(encoding="utf-8") as fh:
        codes = {r["code"] for r in csv.DictReader(fh)}
    assert set(seeded) <= codes and len(seeded) >= 30
    cover = [q["label"] for q in seeded["BJ0103"]]
    assert cover[:2] == ["井盖是否缺失或被移开，井口敞开？", "是否已有人员受伤或车辆受损？"]
    assert any(q.get("urgent_if") for qs in seeded.values() for q in qs)


def test_an_urgent_answer_reaches_the_dispatcher_first(client, city, asked, make_citizen,
                                                       auth_header, photo):  # fmt: skip
    citizen = make_citizen("q-urgent")
    answers = {"missing": "是", "injured": "否", "place": "人行道"}
    resp = client.post("/api/v1/reports", json=body(photo(citizen), answers=answers),
                       headers=auth_header(citizen))  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    mine = resp.get_json()
    assert [(a["label"], a["answer"]) for a in mine["answers"]] == [
        ("井盖是否缺失或被移开，井口敞开？", "是"),
        ("是否已有人员受伤或车辆受损？", "否"),
        ("井盖在什么位置？", "人行道"),
    ]
    calm = client.post("/api/v1/reports", json=body(photo(citizen), answers={"missing": "否"},
                                                     description="雨水井盖松动，踩上去咣当响",
                                                     lat=INSIDE_WEST[0] + 0.005),
                       headers=auth_header(citizen))  # fmt: skip
    assert calm.status_code == 201, calm.get_json()

    staff = auth_header(city.dispatcher)
    case = client.get(f"/api/v1/staff/reports/{mine['number']}", headers=staff).get_json()
    assert case["urgent"] is True
    assert [a["urgent"] for a in case["answers"]] == [True, False, False]
    other = client.get(f"/api/v1/staff/reports/{calm.get_json()['number']}", headers=staff)
    assert other.get_json()["urgent"] is False
    queue = client.get("/api/v1/staff/reports", headers=staff).get_json()["items"]
    flags = {item["number"]: item["urgent"] for item in queue}
    assert flags == {mine["number"]: True, calm.get_json()["number"]: False}
    # Newest first everywhere, but in the queues waiting for someone the urgent case leads.
    assert [i["number"] for i in queue] == [calm.get_json()["number"], mine["number"]]
    assert mine["state"] == calm.get_json()["state"] == "dispatched"
    waiting = client.get("/api/v1/staff/reports?state=dispatched", headers=staff).get_json()
    assert [i["number"] for i in waiting["items"]] == [mine["number"], calm.get_json()["number"]]


def test_a_required_question_left_open_is_refused_and_nothing_stored(client, city, asked,
                                                                    make_citizen, auth_header,
                                                                    photo):  # fmt: skip
    citizen = make_citizen("q-required")
    resp = client.post("/api/v1/reports", json=body(photo(citizen), answers={"injured": "否"}),
                       headers=auth_header(citizen))  # fmt: skip
    assert resp.status_code == 422
    fields = resp.get_json()["error"]["fields"]
    assert fields == {"answers.missing": ["请回答：井盖是否缺失或被移开，井口敞开？"]}
    assert reports() == 0


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"missing": "可能"}, "answers.missing", "请从以下选项中选择：是、否"),
        ({"missing": "是", "place": "河里"}, "answers.place",
         "请从以下选项中选择：机动车道、非机动车道、人行道、小区或绿地内"),
        ({"missing": "是", "colour": "红"}, "answers.colour", "该问题类别没有这个追问"),
    ],
)  # fmt: skip
def test_answers_the_question_does_not_take_are_refused(client, city, asked, make_citizen,
                                                        auth_header, photo, answers, field,
                                                        message):  # fmt: skip
    citizen = make_citizen("q-wrong")
    resp = client.post("/api/v1/reports", json=body(photo(citizen), answers=answers),
                       headers=auth_header(citizen))  # fmt: skip
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"] == {field: [message]}
    assert reports() == 0


def test_answers_without_a_category_are_refused(client, city, asked, make_citizen, auth_header,
                                                photo):  # fmt: skip
    citizen = make_citizen("q-nocat")
    resp = client.post("/api/v1/reports", json=body(photo(citizen), category=None,
                                                    answers={"missing": "是"}),
                       headers=auth_header(citizen))  # fmt: skip
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"] == {"answers": ["请先选择问题类别，再回答补充问题"]}


def test_a_multipart_form_sends_the_answers_as_json_text(client, city, asked, make_citizen,
                                                         auth_header):  # fmt: skip
    citizen = make_citizen("q-multipart")
    data = {"description": COVER, "lat": str(INSIDE_WEST[0]), "lng": str(INSIDE_WEST[1]),
            "category": "BJ0103", "answers": json.dumps({"missing": "是"}, ensure_ascii=False),
            "photos": [(io.BytesIO(jpeg_bytes()), "a.jpg")]}  # fmt: skip
    resp = client.post("/api/v1/reports", data=data, content_type="multipart/form-data",
                       headers=auth_header(citizen))  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    assert db.session.scalar(select(Report.urgent)) is True
    data |= {"answers": "{不是JSON", "photos": [(io.BytesIO(jpeg_bytes()), "b.jpg")]}
    bad = client.post("/api/v1/reports", data=data, content_type="multipart/form-data",
                      headers=auth_header(citizen))  # fmt: skip
    assert bad.status_code == 422
    assert bad.get_json()["error"]["fields"] == {"answers": ["追问的回答格式不正确"]}


def test_a_retry_with_other_answers_is_not_taken_for_the_same_report(client, city, asked,
                                                                     make_citizen, auth_header,
                                                                     photo):  # fmt: skip
    citizen = make_citizen("q-retry")
    headers = auth_header(citizen) | {"Idempotency-Key": "q-retry-0001"}
    first = body(photo(citizen), answers={"missing": "否"})
    assert client.post("/api/v1/reports", json=first, headers=headers).status_code == 201
    again = client.post("/api/v1/reports", json=first, headers=headers)
    assert again.status_code == 200
    changed = client.post("/api/v1/reports", json=first | {"answers": {"missing": "是"}},
                          headers=headers)  # fmt: skip
    assert changed.status_code == 422
    assert changed.get_json()["error"]["code"] == "idempotency_key_reused"
    assert reports() == 1


def test_a_hotline_operator_may_leave_required_questions_open(client, city, asked, auth_header):
    entry = {"channel": "hotline", "description": "市民来电：测试一区某路口雨水井盖丢失",
             "lat": INSIDE_WEST[0], "lng": INSIDE_WEST[1], "category": "BJ0103",
             "answers": {"injured": "是"}}  # fmt: skip
    resp = client.post("/api/v1/staff/reports", json=entry, headers=auth_header(city.dispatcher))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["urgent"] is True


def test_the_report_keeps_the_question_as_it_was_asked(client, city, asked, make_citizen,
                                                       auth_header, photo, make_staff):  # fmt: skip
    citizen = make_citizen("q-asked")
    resp = client.post("/api/v1/reports", json=body(photo(citizen), answers={"missing": "否"}),
                       headers=auth_header(citizen))  # fmt: skip
    number = resp.get_json()["number"]
    admin = auth_header(make_staff("q-admin", roles=(Role.ADMIN,)))
    cover = db.session.scalar(select(Category).where(Category.code == "BJ0103"))
    changed = [{"key": "missing", "label": "井口是否敞开？", "kind": "yes_no"}]
    resp = client.patch(f"/api/v1/admin/categories/{cover.id}", json={"questions": changed},
                        headers=admin)  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    case = client.get(f"/api/v1/staff/reports/{number}", headers=auth_header(city.dispatcher))
    assert case.get_json()["answers"][0]["label"] == "井盖是否缺失或被移开，井口敞开？"
    public = {c["code"]: c for c in client.get("/api/v1/categories").get_json()}
    assert public["BJ0103"]["questions"] == [changed[0] | {"required": False}]


@pytest.mark.parametrize(
    ("questions_in", "reason"),
    [
        ([{"key": "a", "label": "是什么？", "kind": "choice", "options": ["只有一个"]}],
         "第1个追问：单选题应有2至8个选项，每项1至20个字"),
        ([{"key": "a", "label": "有人受伤吗？", "kind": "yes_no", "urgent_if": ["可能"]}],
         "第1个追问：紧急条件应是该题的某个答案"),
        ([{"key": "Bad Key", "label": "有人受伤吗？", "kind": "yes_no"}],
         "第1个追问：标识应为小写英文字母开头的字母、数字或下划线（至多24个）"),
        ([{"key": "a", "label": "甲？", "kind": "yes_no"}, {"key": "a", "label": "乙？",
                                                           "kind": "yes_no"}],
         "追问的标识不能重复"),
        ([{"key": "a", "label": "说说？", "kind": "essay"}],
         "第1个追问：题型应为 是/否、单选 或 填空"),
    ],
)  # fmt: skip
def test_an_admin_gets_a_clear_reason_for_a_bad_question(client, city, asked, make_staff,
                                                         auth_header, questions_in,
                                                         reason):  # fmt: skip
    admin = auth_header(make_staff("q-admin2", roles=(Role.ADMIN,)))
    cover = db.session.scalar(select(Category).where(Category.code == "BJ0103"))
    before = list(cover.questions)
    resp = client.patch(f"/api/v1/admin/categories/{cover.id}",
                        json={"questions": questions_in}, headers=admin)  # fmt: skip
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"] == {"questions": [reason]}
    db.session.expire_all()
    assert db.session.get(Category, cover.id).questions == before


def test_an_admin_can_clear_the_questions(client, city, asked, make_staff, auth_header):
    admin = auth_header(make_staff("q-admin3", roles=(Role.ADMIN,)))
    cover = db.session.scalar(select(Category).where(Category.code == "BJ0103"))
    resp = client.patch(f"/api/v1/admin/categories/{cover.id}", json={"questions": []},
                        headers=admin)  # fmt: skip
    assert resp.status_code == 200 and resp.get_json()["questions"] == []
    public = {c["code"]: c for c in client.get("/api/v1/categories").get_json()}
    assert public["BJ0103"]["questions"] == []
