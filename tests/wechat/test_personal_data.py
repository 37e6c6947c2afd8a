"""The public account's part of a citizen's data: shown on "我的数据", gone with the account."""

from __future__ import annotations

from sqlalchemy import func, select

from app.auth import service as auth_service
from app.auth.models import WechatApp
from app.extensions import db
from reports.mp_chat_models import ChatState, MpChat
from wechat.models import MpFollower, MpInboundMessage


def message(app_id: str, openid: str, text: str) -> MpInboundMessage:
    return MpInboundMessage(app_id=app_id, dedupe_key=f"{openid}-{text}", msg_type="text",
                            from_openid=openid, to_user="gh_demo", content=text,
                            raw_xml="<xml/>")  # fmt: skip


def test_messages_followers_and_chats_are_exported_and_erased(app, client, auth_header):
    mp = app.config["WECHAT_MP_APP_ID"]
    citizen, _ = auth_service.citizen_from_wechat(WechatApp.MP, mp, "o-mp-leaving")
    db.session.add_all([
        message(mp, "o-mp-leaving", "东门井盖坏了"), message(mp, "o-mp-staying", "别人的消息"),
        MpFollower(app_id=mp, openid="o-mp-leaving", subscribed=True),
        MpFollower(app_id=mp, openid="o-mp-staying", subscribed=True),
        MpChat(app_id=mp, openid="o-mp-leaving", state=ChatState.DESCRIBING, description="井盖"),
    ])  # fmt: skip
    db.session.flush()
    headers = auth_header(citizen)

    sections = client.get("/api/v1/me/data", headers=headers).get_json()["sections"]
    assert [m["content"] for m in sections["wechat"]["messages"]] == ["东门井盖坏了"]
    assert sections["wechat"]["followers"][0]["subscribed"] is True

    resp = client.delete("/api/v1/me", json={"confirm": "确认注销"},
                         headers=headers | {"Idempotency-Key": "mp-leaving-01"})  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["steps"]["wechat"] == 2
    left = {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (MpInboundMessage, MpFollower, MpChat)
    }
    assert left == {"MpInboundMessage": 1, "MpFollower": 1, "MpChat": 0}  # only the other's
