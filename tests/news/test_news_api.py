"""The news APIs: editors write, publish and withdraw; citizens read only what is published."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.audit import AuditLog
from app.auth.models import Role
from app.extensions import db
from app.news.models import NewsStatus
from app.news.service import seed_demo_news
from tests.conftest import error_of
from tests.news.conftest import PUBLIC_API, STAFF_API

NEW = {"title": "关于开展春季市容环境集中整治的通告", "summary": "重点清理积存垃圾。",
       "body": "为改善城市环境，开展集中整治。\n\n请沿街商户落实门前三包。"}  # fmt: skip


def create(client, headers, **fields) -> dict:
    resp = client.post(STAFF_API, json={**NEW, **fields}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def audits(action: str) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_an_editor_writes_a_draft_that_citizens_do_not_see(client, editor, dispatcher):
    a = create(client, editor)
    assert a["status"] == "draft" and a["status_label"] == "草稿" and a["version"] == 1
    assert a["paragraphs"] == ["为改善城市环境，开展集中整治。", "请沿街商户落实门前三包。"]
    assert a["author"] == dispatcher.display_name
    assert client.get(PUBLIC_API).get_json()["total"] == 0
    resp = client.get(f"{PUBLIC_API}/{a['id']}")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "news_not_found"
    [entry] = audits("news.create")
    assert entry.actor_staff_id == dispatcher.id and entry.detail["after"]["title"] == NEW["title"]


def test_publish_then_withdraw(client, editor):
    a = create(client, editor)
    resp = client.post(f"{STAFF_API}/{a['id']}/publish", json={"version": a["version"]},
                       headers=editor)  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    published = resp.get_json()
    assert published["status"] == "published" and published["published_at"]
    public = client.get(f"{PUBLIC_API}/{a['id']}").get_json()
    assert public["title"] == NEW["title"] and public["summary"] == NEW["summary"]
    assert not {"author", "status", "version", "created_at"} & set(public)
    assert client.get(PUBLIC_API).get_json()["total"] == 1

    again = client.post(f"{STAFF_API}/{a['id']}/publish", json={}, headers=editor)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "invalid_transition"

    resp = client.post(f"{STAFF_API}/{a['id']}/withdraw", json={}, headers=editor)
    assert resp.status_code == 200 and resp.get_json()["status_label"] == "已撤回"
    assert client.get(f"{PUBLIC_API}/{a['id']}").status_code == 404
    assert client.get(PUBLIC_API).get_json()["items"] == []
    assert [len(audits(x)) for x in ("news.publish", "news.withdraw")] == [1, 1]

    # Republished, it keeps its first publication time (a correction is not new news).
    back = client.post(f"{STAFF_API}/{a['id']}/publish", json={}, headers=editor).get_json()
    assert back["published_at"] == published["published_at"]


def test_withdrawing_a_draft_is_a_conflict(client, editor):
    a = create(client, editor)
    resp = client.post(f"{STAFF_API}/{a['id']}/withdraw", json={}, headers=editor)
    assert resp.status_code == 409
    assert resp.get_json()["error"]["message"] == "只有已发布的文章可以撤回"


def test_edit_needs_the_current_version(client, editor):
    a = create(client, editor)
    resp = client.patch(f"{STAFF_API}/{a['id']}", json={"title": "新标题", "version": 1},
                        headers=editor)  # fmt: skip
    assert resp.status_code == 200 and resp.get_json()["title"] == "新标题"
    assert resp.get_json()["version"] == 2
    stale = client.patch(f"{STAFF_API}/{a['id']}", json={"title": "旧页面的修改", "version": 1},
                         headers=editor)  # fmt: skip
    assert stale.status_code == 409
    assert error_of(stale) == {"code": "stale_version",
                                         "message": "该文章已被他人修改，请刷新后重试"}  # fmt: skip
    missing = client.patch(f"{STAFF_API}/{a['id']}", json={"title": "x"}, headers=editor)
    assert missing.status_code == 422 and "version" in missing.get_json()["error"]["fields"]
    stale_publish = client.post(f"{STAFF_API}/{a['id']}/publish", json={"version": 1},
                                headers=editor)  # fmt: skip
    assert stale_publish.status_code == 409
    [entry] = audits("news.update")
    assert entry.detail == {"before": {"title": NEW["title"]}, "after": {"title": "新标题"}}


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"title": "标" * 61}, "title"), ({"title": "   "}, "title"), ({"body": ""}, "body"),
     ({"summary": "摘" * 201}, "summary"), ({"cover": "no-such-photo"}, "cover")],
)  # fmt: skip
def test_bad_input_is_422(client, editor, fields, field):
    resp = client.post(STAFF_API, json={**NEW, **fields}, headers=editor)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]


def test_a_sixty_character_title_is_accepted(client, editor):
    assert create(client, editor, title="标" * 60)["title"] == "标" * 60


def test_cover_must_be_a_staff_photo(client, editor, dispatcher, make_citizen, photo):
    citizens = photo(make_citizen("o-news-citizen"))
    resp = client.post(STAFF_API, json={**NEW, "cover": citizens}, headers=editor)
    assert resp.status_code == 422 and "cover" in resp.get_json()["error"]["fields"]
    mine = photo(dispatcher)
    a = create(client, editor, cover=mine)
    assert a["cover"]["id"] == mine and a["cover"]["url"]
    client.post(f"{STAFF_API}/{a['id']}/publish", json={}, headers=editor)
    listed = client.get(PUBLIC_API).get_json()["items"][0]
    assert listed["cover"]["id"] == mine and listed["cover"]["url"].startswith("http")
    removed = client.patch(f"{STAFF_API}/{a['id']}", json={"cover": None, "version": 2},
                           headers=editor).get_json()  # fmt: skip
    assert removed["cover"] is None


def test_only_admins_and_dispatchers_edit(client, handler, make_staff, auth_header, article,
                                         make_citizen):  # fmt: skip
    a = article()
    for method, url in (("get", STAFF_API), ("post", STAFF_API), ("get", f"{STAFF_API}/{a.id}"),
                        ("patch", f"{STAFF_API}/{a.id}"), ("post", f"{STAFF_API}/{a.id}/publish"),
                        ("post", f"{STAFF_API}/{a.id}/withdraw")):  # fmt: skip
        resp = getattr(client, method)(url, json={**NEW, "version": 1}, headers=handler)
        assert resp.status_code == 403, (method, url)
        assert resp.get_json()["error"]["code"] == "forbidden"
    citizen = client.get(STAFF_API, headers=auth_header(make_citizen("o-news-c2")))
    assert citizen.status_code == 403 and citizen.get_json()["error"]["code"] == "staff_only"
    assert client.get(STAFF_API).status_code == 401
    admin = auth_header(make_staff("news-admin", (Role.ADMIN,)))
    assert client.post(STAFF_API, json=NEW, headers=admin).status_code == 201


def test_staff_list_pages_and_filters(client, editor, article):
    for i in range(3):
        article(f"草稿{i}")
    article("已发布的通告", status=NewsStatus.PUBLISHED)
    article("撤回的通告", status=NewsStatus.WITHDRAWN)
    page = client.get(STAFF_API, query_string={"per_page": 2, "page": 2}, headers=editor)
    data = page.get_json()
    assert data["total"] == 5 and len(data["items"]) == 2 and data["page"] == 2
    assert "body" not in data["items"][0]
    drafts = client.get(STAFF_API, query_string={"status": "draft"}, headers=editor).get_json()
    assert drafts["total"] == 3 and {i["status"] for i in drafts["items"]} == {"draft"}
    bad = client.get(STAFF_API, query_string={"status": "deleted"}, headers=editor)
    assert bad.status_code == 422


def test_public_list_is_newest_first_and_paged(client, article):
    for day in (3, 9, 6):
        article(f"11月{day}日通告", status=NewsStatus.PUBLISHED,
                published_at=datetime(2026, 11, day, tzinfo=UTC))  # fmt: skip
    article("草稿不公开")
    data = client.get(PUBLIC_API, query_string={"per_page": 2}).get_json()
    assert data["total"] == 3
    assert [i["title"] for i in data["items"]] == ["11月9日通告", "11月6日通告"]
    rest = client.get(PUBLIC_API, query_string={"per_page": 2, "page": 2}).get_json()
    assert [i["title"] for i in rest["items"]] == ["11月3日通告"]


def test_summary_falls_back_to_the_body(client, article):
    a = article(status=NewsStatus.PUBLISHED, body="甲" * 100)
    summary = client.get(f"{PUBLIC_API}/{a.id}").get_json()["summary"]
    assert summary == "甲" * 80 + "…"


def test_demo_news_is_seeded_once(db_session, make_staff):
    admin = make_staff("news-seed-admin", (Role.ADMIN,))
    assert seed_demo_news(admin) == 3
    assert seed_demo_news(admin) == 0
    from app.news.service import public_list

    items, total = public_list(1, 10)
    assert total == 3 and all("演示" in a.body for a in items)
    assert all(len(a.title) <= 60 for a in items)
