"""WeChat pushing copies of one message at once (its retries overlap a slow answer), and one
citizen's messages arriving together, against a database whose transactions really commit (an
SQLite file, or a fresh MariaDB database under TEST_DATABASE_URL): one stored row and one
handling per message, every copy answered 200 with the same reply, never a 5xx."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from tests.wechat import mp_push
from tests.wechat.test_mp_callback import reply_fields
from wechat.models import MpFollower, MpInboundMessage, MpNonce
from wechat.mp_callback import add_handler

N = 8
WELCOME = "欢迎关注！点击菜单“我要上报”反映问题。"


@pytest.fixture
def live(live_db_url, tmp_path):
    """A second app on its own committed database (the models' schema: quicker than the
    migrations, which tests/test_migrations.py checks), with a handler that counts what it
    handles and holds its transaction open a moment, so the copies meet."""
    app = create_app("testing", {
        "SQLALCHEMY_DATABASE_URI": live_db_url, "CHANGES_FILE": str(tmp_path / "seq.bin"),
        "UPLOAD_DIR": str(tmp_path / "uploads"), "RATELIMIT_ENABLED": False, "REDIS_URL": "",
        "WECHAT_MP_WELCOME": WELCOME})  # fmt: skip
    handled: list[str] = []
    lock = threading.Lock()

    def slow_counter(msg, row):
        with lock:
            handled.append(msg.msg_id or msg.event)
        time.sleep(0.2)
        return None  # the other handlers (and the welcome text) answer

    add_handler(app, slow_counter, order=-1)
    app.extensions["test.handled"] = handled
    with app.app_context():
        db.create_all()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def post_all(app, calls: list[tuple[str, str]]) -> list:
    """POST each (url, body) from its own thread, all at once."""
    barrier = threading.Barrier(len(calls))

    def post(call):
        url, body = call
        client = app.test_client()
        barrier.wait()
        return client.post(url, data=body.encode(), content_type="text/xml")

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(post, calls))


def count(app, model) -> int:
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(model))
        finally:
            db.session.remove()


@pytest.mark.parametrize("kind", ["text", "event"])
def test_parallel_copies_of_one_push_store_one_row_and_answer_alike(live, kind):
    body = (
        mp_push.text("o-race-copies", "南湖路井盖破损")
        if kind == "text"  # retried by MsgId
        else mp_push.event("o-race-copies", "subscribe")  # by FromUserName + CreateTime
    )
    # Half are WeChat's retries under the same signed URL, half arrive under fresh nonces.
    same = mp_push.signed_url(live)
    calls = [(same, body)] * (N // 2) + [(mp_push.signed_url(live), body) for _ in range(N // 2)]

    results = post_all(live, calls)

    assert Counter(r.status_code for r in results) == {200: N}, [
        r.get_data(as_text=True)[:300] for r in results if r.status_code != 200
    ]
    assert {reply_fields(r.data)["Content"] for r in results} == {WELCOME}
    assert len(live.extensions["test.handled"]) == 1  # one handling
    assert count(live, MpInboundMessage) == 1
    assert count(live, MpFollower) == 1
    assert count(live, MpNonce) == 1 + N // 2  # every pair remembered (no Redis here)
    with live.app_context():
        assert db.session.scalar(select(MpInboundMessage.reply)) == WELCOME
        db.session.remove()


def test_one_citizens_messages_arriving_together_are_each_stored_and_answered(live):
    calls = [(mp_push.signed_url(live), mp_push.text("o-race-burst", f"第{i}条")) for i in range(N)]

    results = post_all(live, calls)

    assert Counter(r.status_code for r in results) == {200: N}, [
        r.get_data(as_text=True)[:300] for r in results if r.status_code != 200
    ]
    assert all(reply_fields(r.data)["Content"] == WELCOME for r in results)
    assert len(live.extensions["test.handled"]) == N
    assert count(live, MpInboundMessage) == N
    assert count(live, MpFollower) == 1
