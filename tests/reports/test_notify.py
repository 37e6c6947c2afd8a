"""Notifications: queued in the same transaction, delivered by the worker through WeChat."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from reports.models import OutboxMessage, OutboxStatus
from reports.notify import deliver_due
from tests.reports.test_workflow import submit

SENT_ONE = {"sent": 1, "retry": 0, "failed": 0, "skipped": 0}
NOTHING = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}


def consent(client, headers, times: int = 1, template="emulator-subscribe-report-progress"):
    """The mini-program's subscribe prompt accepted ``times`` times (each its own prompt)."""
    for n in range(times):
        resp = client.post(
            "/api/v1/notifications/subscribe",
            json={"results": {template: "accept"}},
            headers=headers | {"Idempotency-Key": f"prompt-{n}"},
        )
        assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def outbox() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def emulator_messages(app, touser: str) -> list[dict]:
    return app.extensions["wechat_emulator"].messages(touser=touser)


def test_dispatch_notice_reaches_the_citizen(app, client, city, make_citizen, auth_header, photo):
    citizen = make_citizen("o-notify-1")
    consent(client, auth_header(citizen), 2)  # one for this step, one kept for the result
    number = submit(client, auth_header(citizen), [photo(citizen)], category="BJ0103").get_json()[
        "number"
    ]
    before = len(emulator_messages(app, "o-notify-1"))
    counts = deliver_due()
    assert counts == SENT_ONE
    (msg,) = outbox()
    assert msg.status == OutboxStatus.SENT and msg.attempts == 1
    sent = emulator_messages(app, "o-notify-1")[before:]
    assert len(sent) == 1
    assert sent[0]["touser"] == "o-notify-1"
    assert sent[0]["data"]["character_string1"]["value"] == number
    assert sent[0]["data"]["thing3"]["value"].startswith("已派遣至测试一区城管局")
    assert deliver_due() == NOTHING  # nothing sent twice


def test_quota_errors_are_recorded_not_retried(app, client, city, make_citizen, auth_header, photo):
    citizen = make_citizen("noquota-citizen")
    consent(client, auth_header(citizen), 2)
    submit(client, auth_header(citizen), [photo(citizen)], category="BJ0103")
    assert deliver_due() == NOTHING | {"failed": 1}
    (msg,) = outbox()
    assert msg.status == OutboxStatus.FAILED and msg.errcode == 43101
    assert deliver_due() == NOTHING


def test_busy_wechat_is_retried_later(app, client, city, make_citizen, auth_header, photo):
    citizen = make_citizen("busy-citizen")
    consent(client, auth_header(citizen), 2)
    submit(client, auth_header(citizen), [photo(citizen)], category="BJ0103")
    assert deliver_due() == NOTHING | {"retry": 1}
    (msg,) = outbox()
    assert msg.status == OutboxStatus.PENDING and msg.errcode == -1
    assert msg.next_attempt_at > msg.created_at
    assert deliver_due() == NOTHING  # not due yet
    # WeChat did not take the message: the consent it was to spend is still there.
    options = client.get("/api/v1/notifications/options", headers=auth_header(citizen))
    assert options.get_json()["miniprogram"]["remaining"] == 2


def test_the_notice_is_rolled_back_with_the_change(app, client, city, make_citizen, auth_header):
    citizen = make_citizen("o-notify-2")
    resp = submit(client, auth_header(citizen), ["no-such-photo"], category="BJ0103")
    assert resp.status_code == 422
    assert outbox() == []
