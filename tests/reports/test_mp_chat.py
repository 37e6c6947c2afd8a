"""Reporting in the public account's chat: the callback as WeChat calls it (signed XML), the
worker against the WeChat emulator over real HTTP, and two workers at once."""

from __future__ import annotations

import hashlib
import io
import itertools
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import requests
from PIL import Image
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app import create_app
from app.auth.models import WechatApp, WechatIdentity
from app.db import utcnow
from app.extensions import db
from app.media.models import Media
from app.storage import get_storage
from reports import mp_chat, notify
from reports.models import Channel, OutboxMessage, Report
from reports.mp_chat_models import ChatState, MpChat
from tests.conftest import at_once
from tests.reports.conftest import INSIDE_EAST, INSIDE_WEST, OUTSIDE
from wechat.emulator import emulator_from_config

TOKEN = "test-mp-token"
ACCOUNT = "gh_10f6c3c3ac5a"
WELCOME = "欢迎关注测试城管！"
_msg_ids = itertools.count(int(time.time()) * 1000)
_event_times = itertools.count(int(time.time()))  # events are told apart by CreateTime


# --- WeChat's side ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wechat_emulator(app):
    """The WeChat emulator as a real HTTP server (media kept in its memory)."""
    emulator = emulator_from_config(app.config)
    server = make_server("127.0.0.1", 0, emulator, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    emulator.url = f"http://127.0.0.1:{server.server_port}/"
    yield emulator
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def wechat_url(wechat_emulator):
    return wechat_emulator.url


@pytest.fixture
def mp(app, monkeypatch, wechat_url):
    """A plain-mode account whose API calls go to the emulator over HTTP."""
    monkeypatch.setitem(app.config, "WECHAT_MP_TOKEN", TOKEN)
    monkeypatch.setitem(app.config, "WECHAT_MP_AES_KEY", "")
    monkeypatch.setitem(app.config, "WECHAT_MP_WELCOME", WELCOME)
    monkeypatch.setitem(app.config, "WECHAT_API_BASE_URL", wechat_url)
    monkeypatch.setitem(
        app.config, "WECHAT_TOKEN_CACHE_PREFIX", f"zhcg-test:{secrets.token_hex(6)}"
    )
    return app


def upload_media(app, wechat_url: str, data: bytes) -> str:
    """Upload an image as a citizen's phone does through WeChat; its media_id."""
    http = requests.Session()
    http.trust_env = False
    body = {"grant_type": "client_credential", "appid": app.config["WECHAT_MP_APP_ID"],
            "secret": app.config["WECHAT_MP_APP_SECRET"]}  # fmt: skip
    token = http.post(f"{wechat_url}cgi-bin/stable_token", json=body, timeout=5)
    token = token.json()["access_token"]
    resp = http.post(f"{wechat_url}cgi-bin/media/upload",
                     params={"access_token": token, "type": "image"},
                     files={"media": ("p.jpg", data, "image/jpeg")}, timeout=5)  # fmt: skip
    return resp.json()["media_id"]


def gps_jpeg(seed: int) -> bytes:
    """A phone photo whose EXIF carries where it was taken."""
    img = Image.new("RGB", (64, 48), (seed * 40 % 255, 90, 60))
    exif = Image.Exif()
    exif[0x0110] = "PhoneModel X1000"
    exif.get_ifd(0x8825).update({1: "N", 2: (41.0, 48.0, 0.0), 3: "E", 4: (123.0, 21.0, 0.0)})
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


# --- the citizen's side: pushes signed as WeChat signs them -------------------------------------


def url() -> str:
    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
    signature = hashlib.sha1("".join(sorted((TOKEN, timestamp, nonce))).encode()).hexdigest()  # noqa: S324
    return "/wechat/mp?" + urlencode({"timestamp": timestamp, "nonce": nonce,
                                      "signature": signature})  # fmt: skip


def xml(sender: str, msg_type: str, body: str, msg_id: int | None = None) -> str:
    msg_id = next(_msg_ids) if msg_id is None else msg_id
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
            f"{body}<MsgId>{msg_id}</MsgId></xml>")  # fmt: skip


def text(sender, content, msg_id=None):
    return xml(sender, "text", f"<Content><![CDATA[{content}]]></Content>", msg_id)


def image(sender, media_id, msg_id=None):
    body = (f"<PicUrl><![CDATA[http://mmbiz.qpic.cn/{media_id[:8]}/0]]></PicUrl>"
            f"<MediaId><![CDATA[{media_id}]]></MediaId>")  # fmt: skip
    return xml(sender, "image", body, msg_id)


def location(sender, point, label="沈阳市铁西区测试路1号"):
    body = (f"<Location_X>{point[0]}</Location_X><Location_Y>{point[1]}</Location_Y>"
            f"<Scale>15</Scale><Label><![CDATA[{label}]]></Label>")  # fmt: skip
    return xml(sender, "location", body)


def click(sender, key="REPORT_IN_CHAT"):
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{next(_event_times)}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            "<Event><![CDATA[CLICK]]></Event>"
            f"<EventKey><![CDATA[{key}]]></EventKey></xml>")  # fmt: skip


def say(client, body: str) -> str:
    """Push a message; the account's passive text reply (empty for ``success``)."""
    resp = client.post(url(), data=body.encode(), content_type="text/xml")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    if resp.mimetype != "application/xml":
        return ""
    root = ET.fromstring(resp.data)  # noqa: S314 (our own reply)
    return root.findtext("Content") or ""


def chat_of(openid: str) -> MpChat:
    return db.session.scalars(select(MpChat).where(MpChat.openid == openid)
                              .order_by(MpChat.id.desc())).first()  # fmt: skip


# --- tests --------------------------------------------------------------------------------------


def test_a_citizen_reports_in_the_chat_and_the_worker_files_one_case(
    client, city, mp, wechat_url, wechat_emulator
):
    who = "o-chat-citizen-1"
    assert "第1步" in say(client, click(who))
    assert "至少5个字" in say(client, text(who, "井盖"))
    assert "请先用文字描述问题" in say(client, image(who, "m-too-early"))
    assert "第2步" in say(client, text(who, "铁西区测试路井盖破损，很危险"))
    assert "请先发送至少一张现场照片" in say(client, location(who, INSIDE_WEST))

    first = image(who, upload_media(mp, wechat_url, gps_jpeg(1)))
    assert "已收到第1张照片" in say(client, first)
    assert "已收到第1张照片" in say(client, first)  # WeChat's retry: the same answer, no step
    assert "补充到问题描述" in say(client, text(who, "旁边还有一个也松动了"))
    assert "暂不支持语音" in say(client, xml(who, "voice", "<MediaId>v1</MediaId>"))
    second = image(who, upload_media(mp, wechat_url, gps_jpeg(2)))
    assert "已收到第2张照片" in say(client, second)
    assert "不在本市范围内" in say(client, location(who, OUTSIDE))
    assert say(client, location(who, INSIDE_WEST)).startswith("已收到，正在登记")
    assert say(client, text(who, "谢谢")) == WELCOME  # the conversation is over

    assert mp_chat.file_ready_reports() == 1
    assert mp_chat.file_ready_reports() == 0  # nothing twice

    chat = chat_of(who)
    assert chat.state == ChatState.DONE and chat.last_error is None
    report = db.session.get(Report, chat.report_id)
    assert report.channel == Channel.MP_CHAT and report.channel.label == "公众号对话"
    assert report.description == "铁西区测试路井盖破损，很危险\n旁边还有一个也松动了"
    assert (report.lat, report.lng) == pytest.approx(INSIDE_WEST)
    assert report.address == "沈阳市铁西区测试路1号"
    identity = db.session.scalar(select(WechatIdentity).where(WechatIdentity.openid == who))
    assert identity.app_kind == WechatApp.MP and report.reporter_id == identity.user_id
    photos = [p.media for p in report.photos]
    assert len(photos) == 2
    for media in photos:
        stored = Image.open(io.BytesIO(get_storage().get(media.storage_key)))
        assert not stored.getexif().get_ifd(0x8825) and 0x0110 not in stored.getexif()
        assert media.gps_lat == pytest.approx(41.8)  # kept privately, as for every upload
    notice = db.session.scalar(select(OutboxMessage).where(OutboxMessage.report_id == report.id))
    assert notice.payload["number"] == report.number
    assert notice.payload["user_id"] == identity.user_id

    notify.deliver_due()  # the citizen wrote minutes ago: a customer-service text
    sent = wechat_emulator.messages(touser=who)[-1]
    assert report.number in sent["text"]["content"]
    assert f"/h5/reports/{report.number}" in sent["text"]["content"]


def test_cancel_timeout_and_the_photo_limit(client, city, mp):
    who = "o-chat-citizen-2"
    assert say(client, text(who, "取消")) == WELCOME  # nothing open: not ours
    say(client, text(who, "我要上报"))
    assert "您正在上报中" in say(client, click(who))
    assert say(client, text(who, "取消")).startswith("已取消本次上报")
    assert chat_of(who).state == ChatState.CANCELLED

    say(client, text(who, "上报"))
    say(client, text(who, "东边路灯不亮了好几天"))
    replies = [say(client, image(who, f"m-{i}")) for i in range(10)]
    assert "已收到第9张照片，照片已满9张" in replies[8]
    assert "最多只能发送9张照片" in replies[9]
    assert len(chat_of(who).photos) == 9

    chat_of(who).updated_at = utcnow() - timedelta(minutes=31)
    db.session.flush()
    reply = say(client, location(who, INSIDE_EAST))
    assert "超过30分钟没有继续，已自动取消" in reply and "请回复“上报”" in reply
    assert chat_of(who).state == ChatState.EXPIRED

    say(client, text(who, "上报"))
    chat_of(who).updated_at = utcnow() - timedelta(minutes=31)
    db.session.flush()
    reply = say(client, text(who, "上报"))
    assert "已自动取消" in reply and "第1步" in reply  # and a fresh one started
    assert chat_of(who).state == ChatState.DESCRIBING
    assert db.session.scalar(select(func.count()).select_from(Report)) == 0


def test_photos_wechat_cannot_hand_over(client, city, mp, wechat_url, monkeypatch):
    monkeypatch.setitem(mp.config, "MP_CHAT_FETCH_ATTEMPTS", 2)
    monkeypatch.setitem(mp.config, "MP_CHAT_RETRY_SECONDS", 0)
    who = "o-chat-citizen-3"
    say(client, text(who, "上报"))
    say(client, text(who, "路边垃圾桶满了没人清理"))
    say(client, image(who, "busy-1"))  # WeChat busy (-1): worth another try
    say(client, image(who, "no-such-media"))  # 40007: never
    say(client, image(who, upload_media(mp, wechat_url, gps_jpeg(3))))
    say(client, location(who, INSIDE_EAST))

    assert mp_chat.file_ready_reports() == 1
    chat = chat_of(who)
    assert chat.state == ChatState.READY and chat.attempts == 1 and "第1张照片" in chat.last_error
    assert mp_chat.file_ready_reports() == 1  # the last attempt: filed without them

    chat = chat_of(who)
    report = db.session.get(Report, chat.report_id)
    assert len(report.photos) == 1
    notice = db.session.scalar(select(OutboxMessage).where(OutboxMessage.report_id == report.id))
    assert "第1、2张照片已过期或无法从微信取回" in notice.payload["text"]


def test_two_workers_at_once_file_each_conversation_once(live_db_url, tmp_path, wechat_url):
    """Conversations ready in a committed database, two worker threads: one report each."""
    live = create_app("testing", {
        "SQLALCHEMY_DATABASE_URI": live_db_url, "UPLOAD_DIR": str(tmp_path / "uploads"),
        "CHANGES_FILE": str(tmp_path / "seq.bin"), "WECHAT_API_BASE_URL": wechat_url})  # fmt: skip
    with live.app_context():
        db.create_all()  # the schema only (the migrations are tested elsewhere): quicker
    media_ids = [upload_media(live, wechat_url, gps_jpeg(i)) for i in range(3)]
    with live.app_context():
        for i, media_id in enumerate(media_ids):
            db.session.add(MpChat(
                app_id=live.config["WECHAT_MP_APP_ID"], openid=f"o-race-{i}",
                state=ChatState.READY, description="铁西区测试路井盖破损，很危险",
                photos=[{"media_id": media_id, "pic_url": "", "msg_id": str(i)}],
                lat=INSIDE_WEST[0], lng=INSIDE_WEST[1], next_attempt_at=utcnow()))  # fmt: skip
        db.session.commit()
    at_once(live, mp_chat.file_ready_reports)
    with live.app_context():
        reports = list(db.session.scalars(select(Report)))
        assert len(reports) == 3 and {r.channel for r in reports} == {Channel.MP_CHAT}
        chats = list(db.session.scalars(select(MpChat)))
        assert {c.state for c in chats} == {ChatState.DONE}
        assert {c.report_id for c in chats} == {r.id for r in reports}
        assert db.session.scalar(select(func.count()).select_from(Media)) == 3
        db.session.remove()
        db.engine.dispose()
