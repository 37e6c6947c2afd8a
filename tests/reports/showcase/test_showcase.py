"""文明行为展示 through its APIs and pages: post -> review (approve / refuse with a reason the
author reads) -> the public gallery (masked authors, public photo copies, newest or most liked,
cursor pages), likes (one per person), abuse reports hiding a post, featured posts on the home
and 城管动态 pages, roles and district scope, and the citizen's personal data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update

from app.db import utcnow
from app.extensions import db
from app.media.models import Media
from app.storage import get_storage
from reports.showcase import personal
from reports.showcase.models import PostState, ShowcaseLike, ShowcasePost
from tests.reports.showcase.conftest import POSTS, STAFF_POSTS

BROWSER = {"Accept": "text/html"}


def ids(resp) -> list[int]:
    return [p["id"] for p in resp.get_json()["items"]]


# ---------------------------------------------------------------- post, review, gallery


def test_a_post_waits_for_review_then_shows_masked_with_its_public_photos(
    api, post_as, citizen, town, published
):
    author = citizen("张三丰")
    resp = post_as(author, "小区垃圾分类做得好", photos=2, district="T-W")
    assert resp.status_code == 201, resp.get_json()
    post = resp.get_json()
    assert (post["state"], post["state_label"], post["district"]) == (
        "pending",
        "待审核",
        "测试一区",
    )
    assert api("GET", POSTS).get_json()["items"] == []  # not shown before review
    assert api("GET", f"{POSTS}/{post['id']}").status_code == 404

    done = api("POST", f"{STAFF_POSTS}/{post['id']}/approve", town.reviewer, json={})
    assert done.status_code == 200 and done.get_json()["state_label"] == "展示中"
    assert published == [p["id"] for p in post["photos"]]  # public copies made on approval

    shown = api("GET", POSTS).get_json()["items"]
    assert [p["id"] for p in shown] == [post["id"]]
    item = shown[0]
    assert item["author"] == "张**" and item["district"] == "测试一区"
    assert [p["url"] for p in item["photos"]] == [
        f"/public/{p['id']}#public" for p in post["photos"]
    ]
    text = str(api("GET", f"{POSTS}/{post['id']}").get_json())
    assert "13812345678" not in text and "张三丰" not in text and "author_id" not in text


@pytest.mark.parametrize(
    "nickname, shown",
    [(None, "热心市民"), ("微信用户", "热心市民"), ("13812345678", "市民**"), ("tom", "市民**")],
)
def test_nicknames_that_could_name_someone_are_masked_whole(
    approved, api, citizen, nickname, shown, published
):
    approved(citizen(nickname))
    assert api("GET", POSTS).get_json()["items"][0]["author"] == shown


def test_a_refused_post_tells_its_author_why_and_stays_private(api, post_as, citizen, town):
    author = citizen()
    post_id = post_as(author).get_json()["id"]
    resp = api("POST", f"{STAFF_POSTS}/{post_id}/refuse", town.reviewer, json={"reason": "  "})
    assert resp.status_code == 422 and "reason" in resp.get_json()["error"]["fields"]
    resp = api(
        "POST",
        f"{STAFF_POSTS}/{post_id}/refuse",
        town.reviewer,
        json={"reason": "照片与文明行为无关"},
    )
    assert resp.status_code == 200
    mine = api("GET", "/api/v1/showcase/mine", author).get_json()["items"][0]
    assert (mine["state_label"], mine["reason"]) == ("未通过", "照片与文明行为无关")
    assert api("GET", f"{POSTS}/{post_id}").status_code == 404
    again = api("POST", f"{STAFF_POSTS}/{post_id}/refuse", town.reviewer, json={"reason": "再次"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "invalid_transition"


def test_a_retried_post_makes_one_post_and_a_reused_key_is_refused(api, post_as, citizen, town):
    author = citizen()
    first = post_as(author, key="k-1")
    body = {"text": "路口车辆礼让行人", "photos": [p["id"] for p in first.get_json()["photos"]]}
    retry = api("POST", POSTS, author, json=body, headers={"Idempotency-Key": "k-1"})
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.get_json()["id"] == first.get_json()["id"]
    other = api(
        "POST",
        POSTS,
        author,
        json=body | {"text": "另一段文字"},
        headers={"Idempotency-Key": "k-1"},
    )
    assert (
        other.status_code == 422 and other.get_json()["error"]["code"] == "idempotency_key_reused"
    )
    assert db.session.scalar(select(func.count()).select_from(ShowcasePost)) == 1


def test_photos_must_be_the_citizens_own_and_unused(api, post_as, citizen, town):
    author, other = citizen(), citizen("李四")
    theirs = post_as(other).get_json()["photos"][0]["id"]
    resp = api("POST", POSTS, author, json={"text": "文明行为", "photos": [theirs]})
    assert resp.status_code == 422 and "photos" in resp.get_json()["error"]["fields"]
    reused = api("POST", POSTS, other, json={"text": "再发一次", "photos": [theirs]})
    assert reused.status_code == 422 and "photos" in reused.get_json()["error"]["fields"]
    too_many = api("POST", POSTS, author, json={"text": "文明", "photos": ["a", "b", "c"]})
    assert too_many.status_code == 422
    assert (
        api(
            "POST", POSTS, author, json={"text": "文明", "photos": ["a"], "district": "X"}
        ).status_code
        == 422
    )


def test_the_gallery_sorts_newest_or_most_liked_in_cursor_pages(approved, api, citizen, published):
    people = [citizen(f"市民{i}") for i in range(4)]
    posts = [approved(people[0], f"第{i}条文明行为") for i in range(3)]
    now = utcnow()
    for post_id, hours in zip(posts, (1, 3, 2), strict=True):  # approved: 1 h, 3 h, 2 h ago
        db.session.execute(
            update(ShowcasePost)
            .where(ShowcasePost.id == post_id)
            .values(published_at=now - timedelta(hours=hours))
        )
    for who, post_id in ((people[1], posts[1]), (people[2], posts[1]), (people[1], posts[2])):
        assert api("POST", f"{POSTS}/{post_id}/like", who).status_code == 200

    page = api("GET", POSTS, query_string={"per_page": 2}).get_json()
    assert [p["id"] for p in page["items"]] == [posts[0], posts[2]] and page["next_cursor"]
    rest = api("GET", POSTS, query_string={"per_page": 2, "cursor": page["next_cursor"]})
    assert ids(rest) == [posts[1]] and rest.get_json()["next_cursor"] is None

    popular = api("GET", POSTS, query_string={"sort": "popular", "per_page": 2}).get_json()
    assert [(p["id"], p["like_count"]) for p in popular["items"]] == [(posts[1], 2), (posts[2], 1)]
    rest = api("GET", POSTS, query_string={"sort": "popular", "cursor": popular["next_cursor"]})
    assert ids(rest) == [posts[0]]
    mine = api("GET", POSTS, people[1], query_string={"sort": "popular"}).get_json()["items"]
    assert [p["liked"] for p in mine] == [True, True, False]
    bad = api("GET", POSTS, query_string={"cursor": "abc"})
    assert bad.status_code == 422 and "cursor" in bad.get_json()["error"]["fields"]


def test_a_gallery_page_costs_the_same_statements_whatever_its_size(
    approved, api, citizen, published, db_session
):
    for i in range(3):
        approved(citizen(f"市民{i}"), photos=2)
    engine, seen = db_session.get_bind().engine, []

    def count(*_args, **_kwargs):
        seen[-1] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        for per_page in (1, 3):
            seen.append(0)
            assert len(ids(api("GET", POSTS, query_string={"per_page": per_page}))) == per_page
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert seen[0] == seen[1] <= 6, seen


def test_one_like_per_person_and_unlike(approved, api, citizen, post_as, published):
    fan = citizen("粉丝")
    post_id = approved(citizen())
    for _ in range(2):
        resp = api("POST", f"{POSTS}/{post_id}/like", fan)
        assert resp.get_json() == {"liked": True, "like_count": 1}
    assert api("DELETE", f"{POSTS}/{post_id}/like", fan).get_json() == {
        "liked": False,
        "like_count": 0,
    }
    assert api("DELETE", f"{POSTS}/{post_id}/like", fan).get_json()["like_count"] == 0
    pending = post_as(citizen()).get_json()["id"]
    assert api("POST", f"{POSTS}/{pending}/like", fan).status_code == 404


def test_enough_reports_hide_a_post_and_reviewers_see_them(
    approved, api, citizen, town, published, app
):
    author = citizen()
    post_id = approved(author)
    api("POST", f"{STAFF_POSTS}/{post_id}/feature", town.reviewer, json={})
    own = api("POST", f"{POSTS}/{post_id}/flags", author, json={"reason": "fake"})
    assert own.status_code == 409 and own.get_json()["error"]["code"] == "showcase_own_post"
    flaggers = [citizen(f"举报人{i}") for i in range(app.config["SHOWCASE_HIDE_AFTER_FLAGS"])]
    first = api(
        "POST",
        f"{POSTS}/{post_id}/flags",
        flaggers[0],
        json={"reason": "privacy", "note": "有人脸"},
    )
    again = api("POST", f"{POSTS}/{post_id}/flags", flaggers[0], json={"reason": "fake"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert api("GET", POSTS).get_json()["items"]  # one report does not hide it
    for who in flaggers[1:]:
        assert (
            api("POST", f"{POSTS}/{post_id}/flags", who, json={"reason": "improper"}).status_code
            == 201
        )
    assert api("GET", POSTS).get_json()["items"] == []
    assert api("GET", "/api/v1/showcase/featured").get_json()["items"] == []
    mine = api("GET", "/api/v1/showcase/mine", author).get_json()["items"][0]
    assert mine["state_label"] == "已隐藏" and mine["reason"]

    listed = api("GET", STAFF_POSTS, town.reviewer, query_string={"flagged": "true"}).get_json()
    view = listed["items"][0]
    assert view["flag_count"] == 3 and view["flags"][-1]["reason_label"].startswith("泄露他人隐私")
    assert view["flags"][-1]["note"] == "有人脸" and view["flags"][-1]["reporter"] == "举**"
    restored = api("POST", f"{STAFF_POSTS}/{post_id}/approve", town.reviewer, json={}).get_json()
    assert restored["flag_count"] == 0 and {f["resolution_label"] for f in restored["flags"]} == {
        "举报不成立"
    }
    assert ids(api("GET", POSTS)) == [post_id]


# ---------------------------------------------------------------- who may do what


def test_roles_and_district_scope(api, post_as, citizen, town):
    author = citizen()
    west = post_as(author, district="T-W").get_json()["id"]
    east = post_as(author, "东边的文明行为", district="T-E").get_json()["id"]
    nowhere = post_as(author, "没有区县").get_json()["id"]
    assert api("GET", STAFF_POSTS, town.handler).status_code == 403
    assert api("GET", STAFF_POSTS, author).status_code == 403
    assert api("POST", POSTS, town.reviewer, json={}).status_code == 403
    assert api("POST", f"{STAFF_POSTS}/{west}/approve", town.dispatcher, json={}).status_code == 403

    assert sorted(ids(api("GET", STAFF_POSTS, town.reviewer))) == sorted([west, east, nowhere])
    assert ids(api("GET", STAFF_POSTS, town.west_reviewer)) == [west]
    assert api("GET", f"{STAFF_POSTS}/{east}", town.west_reviewer).status_code == 404
    assert (
        api("POST", f"{STAFF_POSTS}/{east}/approve", town.west_reviewer, json={}).status_code == 404
    )
    assert (
        api("POST", f"{STAFF_POSTS}/{west}/approve", town.west_reviewer, json={}).status_code == 200
    )
    # 精选: dispatchers (the news editors) too, on shown posts only
    assert api("POST", f"{STAFF_POSTS}/{east}/feature", town.dispatcher, json={}).status_code == 409
    assert api("POST", f"{STAFF_POSTS}/{west}/feature", town.dispatcher, json={}).status_code == 200
    assert api("DELETE", f"{POSTS}/{west}", citizen("别人")).status_code == 404


def test_featured_posts_show_on_the_home_and_news_pages(
    approved, api, citizen, town, client, published
):
    post_id = approved(citizen(), "公园环境干净整洁")
    home = client.get("/h5/", headers=BROWSER).get_data(as_text=True)
    assert "文明风采" not in home and 'id="entry-showcase"' in home
    api("POST", f"{STAFF_POSTS}/{post_id}/feature", town.reviewer, json={})
    assert ids(api("GET", "/api/v1/showcase/featured")) == [post_id]
    for url in ("/h5/", "/h5/news"):
        page = client.get(url, headers=BROWSER).get_data(as_text=True)
        assert "文明风采" in page and f'href="/h5/showcase/{post_id}"' in page and "张**" in page
    assert "文明风采" not in client.get("/h5/news?page=2", headers=BROWSER).get_data(as_text=True)


# ---------------------------------------------------------------- personal data


def test_export_erase_and_the_purge_of_refused_posts(
    approved, api, post_as, citizen, town, published
):
    author, fan = citizen(), citizen("粉丝")
    kept = approved(author, "保留的作品")
    liked = approved(fan, "粉丝的作品")
    api("POST", f"{POSTS}/{liked}/like", author)
    api("POST", f"{POSTS}/{kept}/like", fan)
    data = personal.export(author)
    assert [p["text"] for p in data["posts"]] == ["保留的作品"]
    assert data["likes"][0]["post_id"] == liked and data["flags"] == []

    keys = [
        m.storage_key for m in db.session.scalars(select(Media).where(Media.user_id == author.id))
    ]
    assert personal.erase(author) >= 3
    db.session.flush()
    assert db.session.get(ShowcasePost, kept) is None
    assert db.session.get(ShowcasePost, liked).like_count == 0
    assert not db.session.scalars(
        select(ShowcaseLike).where(ShowcaseLike.user_id == author.id)
    ).all()
    assert not db.session.scalars(select(Media).where(Media.storage_key.in_(keys))).all()

    refused = post_as(fan, "将被拒绝").get_json()["id"]
    api("POST", f"{STAFF_POSTS}/{refused}/refuse", town.reviewer, json={"reason": "无关"})
    cutoff = utcnow() + timedelta(minutes=1)
    assert personal.purge(cutoff, True) == 1 and db.session.get(ShowcasePost, refused)
    assert personal.purge(cutoff, False) == 1
    assert db.session.get(ShowcasePost, refused) is None
    assert db.session.get(ShowcasePost, liked).state == PostState.APPROVED


def test_a_deleted_posts_files_go_after_the_commit(api, post_as, citizen):
    author = citizen()
    post = post_as(author).get_json()
    media = db.session.scalar(select(Media).where(Media.public_id == post["photos"][0]["id"]))
    key = media.storage_key
    assert get_storage().exists(key)
    assert api("DELETE", f"{POSTS}/{post['id']}", author).status_code == 204
    assert not get_storage().exists(key)
    assert api("GET", "/api/v1/showcase/mine", author).get_json()["total"] == 0
