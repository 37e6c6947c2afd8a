"""Several workers share the outbox: each message is taken by one of them and sent once.

The cluster test found two workers sending 11 of 14 reward notices twice: a worker locked a
batch of due rows, committed after the first, and with that commit lost the locks on the rest,
which the other worker then claimed as well. Rows are now claimed one at a time
(``reports.notify.claim_each``)."""

from __future__ import annotations

import os
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.auth import service as auth_service
from app.auth.models import WechatApp
from app.extensions import db
from reports import notify
from reports.models import OutboxMessage, OutboxStatus
from tests.conftest import at_once, committed_app

NOTICES = 24


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("mysql"),
    reason="several workers share an outbox on MariaDB (SKIP LOCKED); SQLite runs one worker",
)
def test_two_workers_send_each_notice_once(live_db_url, tmp_path, monkeypatch):
    live = committed_app(live_db_url, tmp_path, WECHAT_SUBSCRIBE_LONG_TERM=True)
    emulator = live.extensions["wechat_emulator"]
    with live.app_context():
        app_id = live.config["WECHAT_MINI_APP_ID"]
        people = [
            auth_service.citizen_from_wechat(WechatApp.MINIPROGRAM, app_id, f"o-outbox-{i}")[0]
            for i in range(4)
        ]
        db.session.flush()
        for n in range(NOTICES):
            notify.enqueue_notice(people[n % 4].id, f"CC-TEST-{n:03d}", "已到账",
                                  "奖励已到账", page="pages/x", path="/h5/x")  # fmt: skip
        db.session.commit()
        db.session.remove()
    send = notify.wx.send_subscribe_message

    def slow_send(*args, **kwargs):  # a WeChat call takes a while: the other worker runs on
        threading.Event().wait(0.01)
        return send(*args, **kwargs)

    monkeypatch.setattr(notify.wx, "send_subscribe_message", slow_send)
    counts = at_once(live, lambda: notify.deliver_due(batch=50))
    received = Counter(
        m["data"]["character_string1"]["value"]
        for i in range(4)
        for m in emulator.messages(touser=f"o-outbox-{i}")
    )
    assert len(received) == NOTICES and max(received.values()) == 1, received
    assert sum(c["sent"] for c in counts) == NOTICES
    assert all(c["sent"] for c in counts), counts  # both workers took a share
    with live.app_context():
        rows = db.session.execute(
            select(OutboxMessage.status, func.max(OutboxMessage.attempts)).group_by(
                OutboxMessage.status
            )
        ).all()
        assert rows == [(OutboxStatus.SENT, 1)]
        db.session.remove()
        db.engine.dispose()
