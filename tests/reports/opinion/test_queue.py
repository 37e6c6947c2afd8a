"""The observers' queue through the API: list, item, 转为案件 (channel 网络舆情, linked both ways,
shown on the case page), 标记无关, 答复, 回访, each idempotent; who may act; the counts; and ten
parallel 转为案件 requests against a committed database making exactly one case."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.auth import service as auth_service
from app.auth.models import Role
from app.db import utcnow
from app.extensions import db
from reports.models import Channel, Report, ReportState
from reports.opinion import service, tasks
from reports.opinion.models import ItemState, OpinionItem, OpinionSource, SourceKind
from reports.opinion.parse import Post
from tests.conftest import committed_app
from tests.console.conftest import login_as

API = "/api/v1/staff/opinion"


def by_title(title: str) -> OpinionItem:
    return db.session.scalar(select(OpinionItem).where(OpinionItem.title == title))


@pytest.fixture
def fetched(app, sources, city):
    tasks.fetch_round()
    return by_title("雨湖区建设路口井盖破了一个大洞")


def test_observer_turns_a_post_into_a_case_replies_and_follows_up(
    client, auth_header, city, fetched, make_staff
):
    headers = auth_header(city.dispatcher)
    queue = client.get(f"{API}/items?state=pending", headers=headers).get_json()
    assert queue["total"] == 5 and {i["state_label"] for i in queue["items"]} == {"待处理"}
    assert client.get(f"{API}/items?state=irrelevant", headers=headers).get_json()["total"] == 3

    item = client.get(f"{API}/items/{fetched.id}", headers=headers).get_json()
    assert item["source"] == "湘潭市民网络问政" and item["relevant"]
    assert item["suggested_category_name"]

    # A reply before the case is refused, in Chinese.
    resp = client.post(f"{API}/items/{fetched.id}/reply", json={"text": "已处理"}, headers=headers)
    assert (
        resp.status_code == 409
        and resp.get_json()["error"]["message"] == "请先将该信息转为案件，再记录答复"
    )
    # No place at all: the observer is asked for the address.
    resp = client.post(
        f"{API}/items/{fetched.id}/case", json={"description": "井盖破了一个大洞"}, headers=headers
    )
    assert resp.status_code == 422

    body = {"description": "建设路口井盖破损，有安全隐患", "address": "雨湖区建设路与韶山路交叉口"}
    first = client.post(f"{API}/items/{fetched.id}/case", json=body, headers=headers)
    assert first.status_code == 200, first.get_json()
    number = first.get_json()["case_number"]
    assert first.get_json()["created"] and first.get_json()["state_label"] == "已转案件"
    again = client.post(f"{API}/items/{fetched.id}/case", json=body, headers=headers).get_json()
    assert again["case_number"] == number and not again["created"]

    report = db.session.scalar(select(Report).where(Report.number == number))
    assert report.channel == Channel.OPINION and report.channel.label == "网络舆情"
    assert report.state == ReportState.REPORTED and report.triage_reason == "no_location"
    assert report.description.endswith(f"（来源：网络舆情·湘潭市民网络问政《{fetched.title}》）")
    assert report.address == body["address"]
    assert report.created_by_staff_id == city.dispatcher.id

    # The case page shows the post.
    login_as(client, "dispatcher")
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "舆情原帖" in page and fetched.link in page and "尚未答复" in page

    resp = client.post(f"{API}/items/{fetched.id}/irrelevant", json={}, headers=headers)
    assert resp.status_code == 409
    assert (
        resp.get_json()["error"]["message"] == f"该信息已转为案件（编号{number}），不能再标记为无关"
    )

    reply = {
        "text": "您好，已转雨湖区城管局处理，井盖已更换。",
        "replied_at": "2026-12-01T10:00:00",
    }
    resp = client.post(f"{API}/items/{fetched.id}/reply", json=reply, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["replied_at"].startswith("2026-12-01T02:00")
    assert (
        client.post(f"{API}/items/{fetched.id}/reply", json=reply, headers=headers).status_code
        == 200
    )
    other = client.post(f"{API}/items/{fetched.id}/reply", json={"text": "另一条"}, headers=headers)
    assert other.status_code == 409 and other.get_json()["error"]["message"] == "该信息已记录答复"

    followup = {"result": "电话回访，发帖人表示满意", "satisfaction": "satisfied"}
    resp = client.post(f"{API}/items/{fetched.id}/followup", json=followup, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["satisfaction_label"] == "满意"
    assert (
        client.post(
            f"{API}/items/{fetched.id}/followup", json=followup, headers=headers
        ).status_code
        == 200
    )

    # 标记无关 on a pending post; again changes nothing.
    ad = by_title("人行道上乱停电动车挡住盲道")
    for _ in range(2):
        resp = client.post(
            f"{API}/items/{ad.id}/irrelevant", json={"note": "重复反映"}, headers=headers
        )
        assert resp.status_code == 200 and resp.get_json()["state_label"] == "无关"

    year, month = service.local_year(), utcnow().astimezone(service.LOCAL_TZ).month
    counts = client.get(f"{API}/counts?year={year}", headers=headers).get_json()
    assert counts["total"] == {
        "found": 8,
        "relevant": 5,
        "cases": 1,
        "replied": 1,
        "followed_up": 1,
    }
    this_month = counts["months"][month - 1]
    assert (this_month["found"], this_month["cases"], this_month["followed_up"]) == (8, 1, 1)
    assert counts["years"][0] == {"year": year, **counts["total"]}

    # Who may: a handler may not; a department-bound dispatcher sees only cases in its districts.
    handler = auth_header(city.west_handler)
    assert client.get(f"{API}/items", headers=handler).status_code == 403
    bound = make_staff("west_dispatcher", roles=(Role.DISPATCHER,), department=city.west)
    listed = client.get(f"{API}/items?state=case", headers=auth_header(bound)).get_json()
    assert listed["total"] == 0  # the case has no district yet
    resp = client.get(f"{API}/items/{fetched.id}", headers=auth_header(bound))
    assert resp.status_code == 403


def test_sources_and_keywords_are_managed_by_admins(
    client, auth_header, city, make_staff, feeds, keywords
):
    admin = auth_header(make_staff("opinion_admin", roles=(Role.ADMIN,)))
    page_source = {"name": "某某论坛", "kind": "page", "url": feeds.url("/board.html")}
    resp = client.post(f"{API}/sources", json=page_source, headers=admin)
    assert resp.status_code == 422  # a page needs its rule
    page_source["rule"] = {"item": "li.post", "title": "a.title", "link": "a.title@href"}
    resp = client.post(f"{API}/sources", json=page_source, headers=admin)
    assert resp.status_code == 201, resp.get_json()
    source_id = resp.get_json()["id"]
    assert client.post(f"{API}/sources", json=page_source, headers=admin).status_code == 409
    resp = client.patch(f"{API}/sources/{source_id}", json={"is_active": False}, headers=admin)
    assert resp.status_code == 200 and not resp.get_json()["is_active"]
    dispatcher = auth_header(city.dispatcher)
    assert client.get(f"{API}/sources", headers=dispatcher).status_code == 200
    assert client.post(f"{API}/sources", json=page_source, headers=dispatcher).status_code == 403

    resp = client.put(
        f"{API}/keywords", json={"include": ["井盖", " 路灯 "], "exclude": ["井盖"]}, headers=admin
    )
    assert resp.status_code == 409
    assert resp.get_json()["error"]["message"] == "同一个词不能同时在两个列表中：井盖"
    resp = client.put(
        f"{API}/keywords", json={"include": ["井盖", " 路灯 "], "exclude": ["出售"]}, headers=admin
    )
    assert resp.get_json() == {"include": ["井盖", "路灯"], "exclude": ["出售"]}
    assert service.keyword_lists() == (["井盖", "路灯"], ["出售"])


N = 10


def test_ten_parallel_requests_make_one_case(live_db_url, tmp_path, rate_limiter):
    app = committed_app(live_db_url, tmp_path)
    with app.app_context():
        staff = auth_service.create_staff(
            "observer", "correct-horse-battery", ["dispatcher"], actor_label="test"
        )
        source = OpinionSource(name="测试论坛", kind=SourceKind.RSS, url="http://127.0.0.1:9/x")
        db.session.add(source)
        db.session.flush()
        service.store_posts(
            source,
            [
                Post(
                    guid="g1",
                    title="岳塘区宝塔路夜市烧烤占道经营",
                    body="宝塔路每天晚上烧烤摊占道经营，油烟很大",
                    link="http://bbs.example/t/1",
                )
            ],
        )
        item_id = db.session.scalar(select(OpinionItem.id))
        token = auth_service.issue_token(staff=staff)[0]
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"description": "宝塔路夜市烧烤占道经营，油烟扰民", "address": "岳塘区宝塔路"}

    def convert(_):
        return app.test_client().post(f"{API}/items/{item_id}/case", json=body, headers=headers)

    try:
        with ThreadPoolExecutor(N) as pool:
            results = list(pool.map(convert, range(N)))
        statuses = Counter(r.status_code for r in results)
        assert statuses == {200: N}, [(r.status_code, r.get_json()) for r in results]
        assert len({r.get_json()["case_number"] for r in results}) == 1
        assert sum(r.get_json()["created"] for r in results) == 1
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Report)) == 1
            item = db.session.get(OpinionItem, item_id)
            assert item.state == ItemState.CASE and item.case_number
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
