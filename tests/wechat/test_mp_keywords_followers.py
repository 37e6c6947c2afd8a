"""Keyword replies (admin-edited) and followers (subscribe, unsubscribe, last message) of the
public account, through the callback as WeChat pushes messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update

from app import changes
from app.auth.models import Role
from app.changes import ChangeCounter
from app.db import utcnow
from app.extensions import db
from tests.conftest import error_of
from tests.wechat import mp_push
from wechat import followers, keywords
from wechat.models import KEYWORDS_TOPIC, MpFollower, MpKeyword

KEYWORDS = "/api/v1/admin/wechat/keywords"


@pytest.fixture
def admin_headers(make_staff, auth_header):
    return auth_header(make_staff("kw-admin", (Role.ADMIN,)))


def test_keywords_answer_exact_then_longest_contained_and_admins_edit_them(
    app, client, admin_headers
):
    def add(keyword, reply, match="exact"):
        resp = client.post(KEYWORDS, json={"keyword": keyword, "reply": reply, "match": match},
                           headers=admin_headers)  # fmt: skip
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()

    hours = add("办公时间", "工作日 8:30-17:00 受理。")
    add("井盖", "井盖问题请点击菜单“我要上报”。", "contains")
    add("井盖破损", "井盖破损请尽快上报，注意绕行。", "contains")
    assert hours["match_label"] == "完全匹配"

    say = lambda text: mp_push.push(client, app, mp_push.text("o-kw-1", text))  # noqa: E731
    assert say(" 办公时间 ") == "工作日 8:30-17:00 受理。"
    assert say("请问办公时间是几点") != "工作日 8:30-17:00 受理。"  # exact only
    assert say("南湖路有个井盖破损了") == "井盖破损请尽快上报，注意绕行。"  # the longest wins
    assert say("井盖响") == "井盖问题请点击菜单“我要上报”。"

    again = client.post(KEYWORDS, json={"keyword": "办公时间", "reply": "x"}, headers=admin_headers)
    assert again.status_code == 409 and error_of(again)["message"] == "关键词“办公时间”已存在"

    off = client.patch(f"{KEYWORDS}/{hours['id']}", json={"active": False}, headers=admin_headers)
    assert off.status_code == 200 and off.get_json()["active"] is False
    assert say("办公时间") != "工作日 8:30-17:00 受理。"  # the welcome text instead
    assert client.delete(f"{KEYWORDS}/{hours['id']}", headers=admin_headers).status_code == 204
    listed = client.get(KEYWORDS, headers=admin_headers).get_json()["items"]
    assert [k["keyword"] for k in listed] == ["井盖", "井盖破损"]


def test_keywords_saved_by_another_process_answer_once_it_is_known(app, client, monkeypatch):
    """The keywords are kept in memory per process: a save elsewhere on this host is announced
    and answers the next message; one on another host, at the next counter read."""
    monkeypatch.setitem(app.config, "CACHE_CHECK_SECONDS", 3600)
    say = lambda: mp_push.push(client, app, mp_push.text("o-kw-2", "投诉电话"))  # noqa: E731
    assert say() != "请拨打 12345"
    # Another process saves a keyword: its row and the counter move, this process saw no write.
    now = utcnow()
    row = {"keyword": "投诉电话", "match": "exact", "reply": "请拨打 12345", "active": True}
    db.session.execute(insert(MpKeyword).values(row | {"created_at": now, "updated_at": now}))
    db.session.execute(update(ChangeCounter).where(ChangeCounter.name == KEYWORDS_TOPIC)
                       .values(value=ChangeCounter.value + 1))  # fmt: skip
    db.session.flush()
    assert say() != "请拨打 12345"  # another host's save: not before the next counter read

    changes.announce([KEYWORDS_TOPIC])  # a process on this host committed it

    assert say() == "请拨打 12345"


def test_followers_subscribe_write_and_unsubscribe(app, client):
    openid = "o-follower-1"
    mp_push.push(client, app, mp_push.event(openid, "subscribe"))
    row = followers.follower(openid)
    assert row.subscribed and row.subscribed_at is not None and row.last_message_at is None
    assert not followers.in_service_window(openid)

    # A menu click opens no 48-hour window (WeChat: 3 messages within a minute); a message does.
    mp_push.push(client, app, mp_push.event(openid, "CLICK", key="SOMETHING"))
    db.session.expire_all()
    assert followers.follower(openid).last_message_at is None
    assert followers.follower(openid).last_seen_at is not None
    mp_push.push(client, app, mp_push.text(openid, "你好"))
    db.session.expire_all()
    row = followers.follower(openid)
    assert row.last_message_at is not None and followers.in_service_window(openid)
    later = row.last_message_at + timedelta(hours=48)
    assert not followers.in_service_window(openid, now=later)

    mp_push.push(client, app, mp_push.event(openid, "unsubscribe"))
    db.session.expire_all()
    row = followers.follower(openid)
    assert not row.subscribed and row.unsubscribed_at is not None
    assert not followers.in_service_window(openid)
    # Someone we never saw subscribe (followed before this table existed) is recorded too.
    mp_push.push(client, app, mp_push.text("o-follower-2", "你好"))
    assert followers.follower("o-follower-2").subscribed
    count = db.session.scalar(select(func.count()).select_from(MpFollower))
    assert count == 2


def test_a_create_that_loses_the_race_is_told_the_keyword_exists(
    client, admin_headers, monkeypatch
):
    """Two creates of one keyword at once both pass the lookup; the unique index decides, and the
    loser gets 409 (as a retried create does), never a 5xx."""
    body = {"keyword": "投诉电话", "reply": "请拨打 12345"}
    assert client.post(KEYWORDS, json=body, headers=admin_headers).status_code == 201
    monkeypatch.setattr(keywords, "_taken", lambda *args, **kwargs: None)  # the lookup missed it
    lost = client.post(KEYWORDS, json=body, headers=admin_headers)
    assert lost.status_code == 409 and error_of(lost)["message"] == "关键词“投诉电话”已存在"
    assert db.session.scalar(select(func.count()).select_from(MpKeyword)) == 1
