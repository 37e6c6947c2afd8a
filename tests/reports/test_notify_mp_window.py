"""Case updates to citizens reachable only through the public account: a customer-service text
inside WeChat's 48-hour window (the citizen wrote to the account), else the template message;
the channel is kept on the outbox row."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.auth import service as auth_service
from app.auth.models import WechatApp
from app.extensions import db
from reports.models import OutboxMessage, OutboxStatus
from reports.notify import deliver_due, enqueue_notice
from tests.wechat import mp_push
from wechat import followers

NUMBER = "20261202-000042"


def mp_citizen(app, openid: str):
    user, _ = auth_service.citizen_from_wechat(WechatApp.MP, app.config["WECHAT_MP_APP_ID"], openid)
    return user


def notice(user) -> OutboxMessage:
    msg = enqueue_notice(user.id, NUMBER, "处置中", "已派遣至和平区城管执法局，请耐心等待",
                         page=f"pages/report/detail?number={NUMBER}",
                         path=f"/h5/reports/{NUMBER}")  # fmt: skip
    db.session.flush()
    return msg


def sent(app, openid: str) -> list[dict]:
    return app.extensions["wechat_emulator"].messages(touser=openid)


def test_inside_the_window_a_customer_service_text_goes(app, client):
    user = mp_citizen(app, "o-mp-window-1")
    mp_push.push(client, app, mp_push.text("o-mp-window-1", "南湖路井盖破损"))  # opens the window
    msg = notice(user)
    before = len(sent(app, "o-mp-window-1"))
    assert deliver_due()["sent"] == 1
    db.session.refresh(msg)
    assert msg.status == OutboxStatus.SENT and msg.via == "custom"
    (out,) = sent(app, "o-mp-window-1")[before:]
    assert out["kind"] == "custom"
    content = out["text"]["content"]
    base = app.config["PUBLIC_BASE_URL"]
    for part in (NUMBER, "状态：处置中", "已派遣至和平区城管执法局", f"{base}/h5/reports/{NUMBER}"):
        assert part in content


def test_outside_the_window_or_when_refused_the_template_goes(app, client):
    late = mp_citizen(app, "o-mp-window-2")
    mp_push.push(client, app, mp_push.text("o-mp-window-2", "你好"))
    row = followers.follower("o-mp-window-2")
    row.last_message_at -= timedelta(hours=49)
    # 45047: the window's five messages are used up (the emulator's "noquota" users).
    used_up = mp_citizen(app, "noquota-mp-3")
    mp_push.push(client, app, mp_push.text("noquota-mp-3", "你好"))
    never = mp_citizen(app, "o-mp-window-4")  # never wrote to the account
    messages = [notice(late), notice(used_up), notice(never)]
    assert deliver_due()["sent"] == 3
    for msg, openid in zip(messages, ("o-mp-window-2", "noquota-mp-3", "o-mp-window-4"),
                           strict=True):  # fmt: skip
        db.session.refresh(msg)
        assert msg.status == OutboxStatus.SENT and msg.via == "template", openid
        assert [m["kind"] for m in sent(app, openid)][-1:] == ["template"]


def test_a_busy_wechat_is_retried_and_the_channel_tried_is_kept(app, client):
    user = mp_citizen(app, "busy-mp-5")
    mp_push.push(client, app, mp_push.text("busy-mp-5", "你好"))
    msg = notice(user)
    assert deliver_due()["retry"] == 1
    db.session.refresh(msg)
    assert msg.status == OutboxStatus.PENDING and msg.via == "custom" and msg.errcode == -1
    stored = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id == msg.id)).one()
    assert stored.next_attempt_at > stored.created_at
