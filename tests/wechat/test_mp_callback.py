"""The public-account callback /wechat/mp, seen as WeChat's servers see it.

Safe-mode tests use WeChat's official sample (token ``spamtest``, EncodingAESKey
``abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG``, appid ``wx2c2769f8efd9abc2``), the same vector
wechatpy and WeChat's own WXBizMsgCrypt samples are checked against. Replies are decrypted here with
``cryptography`` directly, independently of the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import struct
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from freezegun import freeze_time
from sqlalchemy import func, select

from app.extensions import db
from wechat import mp_callback
from wechat.models import MpInboundMessage

WELCOME = "欢迎关注测试城管！点击菜单“我要上报”反映问题。"

# WeChat's official safe-mode sample.
SAMPLE_TOKEN = "spamtest"
SAMPLE_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SAMPLE_APP_ID = "wx2c2769f8efd9abc2"
SAMPLE_TIMESTAMP = "1409735669"
SAMPLE_NONCE = "1320562132"
SAMPLE_SIGNATURE = "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"
SAMPLE_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
SAMPLE_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGH"
    "QHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tE"
    "DYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZb"
    "Gpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5"
    "rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
SAMPLE_BODY = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>"
    "<CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId>"
    f"<Encrypt><![CDATA[{SAMPLE_ENCRYPT}]]></Encrypt></xml>"
)

TOKEN = "test-mp-token"
APP_ID = "wxmptest000000001"
ACCOUNT = "gh_10f6c3c3ac5a"
CITIZEN = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"


def sha1_sorted(*parts: str) -> str:
    """WeChat's signature, computed independently of wechat.mp_callback."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 (protocol)


def plain_url(token: str = TOKEN, timestamp: str | None = None, nonce: str | None = None, **extra):
    """Callback URL with a valid plain-mode signature (or the given overrides). Like WeChat, it
    stamps the current time and a fresh nonce unless told otherwise."""
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    nonce = str(secrets.randbelow(10**10)) if nonce is None else nonce
    query = {"timestamp": timestamp, "nonce": nonce, "openid": CITIZEN}
    query["signature"] = sha1_sorted(token, timestamp, nonce)
    query.update(extra)
    return "/wechat/mp?" + urlencode(query)


def text_xml(content: str = "南湖路井盖破损", msg_id: str = "6054768590064713728", sender=CITIZEN):
    """A plain text message as WeChat pushes it."""
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
        "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def event_xml(event: str, key: str | None = None, sender=CITIZEN, create_time: int = 1700000100):
    """An event push (subscribe, CLICK, ...)."""
    key_xml = f"<EventKey><![CDATA[{key}]]></EventKey>" if key is not None else ""
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{key_xml}</xml>"
    )


def rows() -> list[MpInboundMessage]:
    """Every stored inbound message, oldest first."""
    return list(db.session.scalars(select(MpInboundMessage).order_by(MpInboundMessage.id)))


def row_count() -> int:
    """How many inbound messages are stored."""
    return db.session.scalar(select(func.count()).select_from(MpInboundMessage))


def reply_fields(body: bytes) -> dict[str, str]:
    """The children of a reply's <xml> root (fails if the reply is not valid XML)."""
    root = ET.fromstring(body)  # noqa: S314 (our own reply, already DTD-free)
    assert root.tag == "xml"
    return {child.tag: (child.text or "") for child in root}


def decrypt_reply(encrypt: str, aes_key: str, app_id: str) -> str:
    """Open a safe-mode reply: AES-256-CBC, IV = key[:16], PKCS#7 to 32, random16+len+xml+appid."""
    key = base64.b64decode(aes_key + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()
    pad = plain[-1]
    assert 1 <= pad <= 32 and plain.endswith(bytes([pad]) * pad)
    plain = plain[:-pad]
    (length,) = struct.unpack(">I", plain[16:20])
    assert plain[20 + length :].decode() == app_id
    return plain[20 : 20 + length].decode()


@pytest.fixture
def mp(app, monkeypatch):
    """A plain-mode account with a known token, appid and welcome text."""
    monkeypatch.setitem(app.config, "WECHAT_MP_TOKEN", TOKEN)
    monkeypatch.setitem(app.config, "WECHAT_MP_APP_ID", APP_ID)
    monkeypatch.setitem(app.config, "WECHAT_MP_AES_KEY", "")
    monkeypatch.setitem(app.config, "WECHAT_MP_WELCOME", WELCOME)
    return app


@pytest.fixture
def sample_account(app, monkeypatch):
    """The account of WeChat's official safe-mode sample, at the sample's own time (its signed
    timestamp is from 2014: any other clock refuses it as stale)."""
    monkeypatch.setitem(app.config, "WECHAT_MP_TOKEN", SAMPLE_TOKEN)
    monkeypatch.setitem(app.config, "WECHAT_MP_APP_ID", SAMPLE_APP_ID)
    monkeypatch.setitem(app.config, "WECHAT_MP_AES_KEY", SAMPLE_AES_KEY)
    monkeypatch.setitem(app.config, "WECHAT_MP_WELCOME", WELCOME)
    with freeze_time(datetime.fromtimestamp(int(SAMPLE_TIMESTAMP) + 1, UTC)):
        yield app


def sample_url(**overrides: str) -> str:
    """The official sample's safe-mode callback URL."""
    query = {
        "signature": SAMPLE_SIGNATURE,
        "timestamp": SAMPLE_TIMESTAMP,
        "nonce": SAMPLE_NONCE,
        "openid": CITIZEN,
        "encrypt_type": "aes",
        "msg_signature": SAMPLE_MSG_SIGNATURE,
    }
    query.update(overrides)
    return "/wechat/mp?" + urlencode(query)


def assert_error(resp, status: int, code: str) -> None:
    """WeChat gets the status and the app's one JSON error shape."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.get_json()["error"]["code"] == code


# --- URL check --------------------------------------------------------------------------------


def test_url_check_echoes_echostr_for_the_official_sample_signature(client, sample_account):
    query = urlencode(
        {
            "signature": SAMPLE_SIGNATURE,
            "timestamp": SAMPLE_TIMESTAMP,
            "nonce": SAMPLE_NONCE,
            "echostr": "shr5ch",
        }
    )
    resp = client.get(f"/wechat/mp?{query}")
    assert resp.status_code == 200
    assert resp.mimetype == "text/plain"
    assert resp.get_data(as_text=True) == "shr5ch"


def test_url_check_refuses_a_forged_signature(client, mp):
    url = plain_url(signature="0" * 40, echostr="7071637412881337")
    resp = client.get(url)
    assert_error(resp, 403, "invalid_signature")
    assert "7071637412881337" not in resp.get_data(as_text=True)


def test_url_check_signed_with_another_token_is_refused(client, mp):
    resp = client.get(plain_url(token="someone-elses-token", echostr="abc"))
    assert_error(resp, 403, "invalid_signature")


@pytest.mark.parametrize("missing", ["signature", "timestamp", "nonce"])
def test_url_check_without_signature_parts_is_refused(client, mp, missing):
    query = {"timestamp": "1700000000", "nonce": "42", "echostr": "abc"}
    query["signature"] = sha1_sorted(TOKEN, "1700000000", "42")
    del query[missing]
    resp = client.get("/wechat/mp?" + urlencode(query))
    assert_error(resp, 403, "invalid_signature")


def test_url_check_without_echostr_is_a_bad_request(client, mp):
    assert_error(client.get(plain_url()), 400, "missing_echostr")


# --- plain mode -------------------------------------------------------------------------------


def test_text_message_gets_the_welcome_reply_and_is_stored(client, mp):
    resp = client.post(plain_url(), data=text_xml("南湖路井盖破损"), content_type="text/xml")

    assert resp.status_code == 200
    assert resp.mimetype == "application/xml"
    reply = reply_fields(resp.data)
    assert reply["ToUserName"] == CITIZEN
    assert reply["FromUserName"] == ACCOUNT
    assert reply["MsgType"] == "text"
    assert reply["Content"] == WELCOME
    assert reply["CreateTime"].isdigit()

    [row] = rows()
    assert (row.app_id, row.msg_type, row.event) == (APP_ID, "text", None)
    assert (row.from_openid, row.to_user) == (CITIZEN, ACCOUNT)
    assert row.msg_id == "6054768590064713728"
    assert row.content == "南湖路井盖破损"
    assert row.create_time.timestamp() == 1700000000
    assert row.raw_xml == text_xml("南湖路井盖破损")
    assert row.replied is True
    assert row.received_at is not None


def test_welcome_text_comes_from_config_at_request_time(client, mp, monkeypatch):
    monkeypatch.setitem(mp.config, "WECHAT_MP_WELCOME", "您好，这里是城管热线。")
    resp = client.post(plain_url(), data=text_xml())
    assert reply_fields(resp.data)["Content"] == "您好，这里是城管热线。"


def test_welcome_text_with_cdata_terminator_still_yields_valid_xml(client, mp, monkeypatch):
    monkeypatch.setitem(mp.config, "WECHAT_MP_WELCOME", "a]]>b<c>&d")
    resp = client.post(plain_url(), data=text_xml())
    assert reply_fields(resp.data)["Content"] == "a]]>b<c>&d"


def test_empty_welcome_answers_success(client, mp, monkeypatch):
    monkeypatch.setitem(mp.config, "WECHAT_MP_WELCOME", "")
    resp = client.post(plain_url(), data=text_xml())
    assert resp.get_data(as_text=True) == "success"
    assert rows()[0].replied is False


def test_encrypt_type_raw_is_plain_mode(client, mp):
    resp = client.post(plain_url(encrypt_type="raw"), data=text_xml())
    assert reply_fields(resp.data)["Content"] == WELCOME


def test_subscribe_event_gets_the_welcome_reply(client, mp):
    resp = client.post(plain_url(), data=event_xml("subscribe", key="qrscene_shop_1024"))

    reply = reply_fields(resp.data)
    assert (reply["ToUserName"], reply["FromUserName"]) == (CITIZEN, ACCOUNT)
    assert reply["Content"] == WELCOME
    [row] = rows()
    assert (row.msg_type, row.event, row.content) == ("event", "subscribe", "qrscene_shop_1024")
    assert row.msg_id is None
    assert row.replied is True


@pytest.mark.parametrize(
    "body",
    [
        event_xml("unsubscribe"),
        event_xml("CLICK", key="MENU_REPORT"),
        event_xml("VIEW", key="https://example.com/h5/report"),
        event_xml("LOCATION"),
        (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{CITIZEN}]]></FromUserName><CreateTime>1700000200"
            "</CreateTime><MsgType><![CDATA[image]]></MsgType>"
            "<PicUrl><![CDATA[http://mmbiz.qpic.cn/x]]></PicUrl>"
            "<MediaId><![CDATA[media_1]]></MediaId><MsgId>1234567890123456</MsgId></xml>"
        ),
    ],
    ids=["unsubscribe", "click", "view", "location", "image"],
)
def test_other_messages_and_events_answer_success(client, mp, body):
    resp = client.post(plain_url(), data=body)
    assert resp.status_code == 200
    assert resp.get_data(as_text=True) == "success"
    [row] = rows()
    assert row.replied is False
    assert row.raw_xml == body


# --- WeChat's retries -------------------------------------------------------------------------


def test_same_msgid_twice_stores_one_row_and_answers_both(client, mp):
    first = client.post(plain_url(), data=text_xml(msg_id="6054768590064713728"))
    retry = client.post(plain_url(nonce="999"), data=text_xml(msg_id="6054768590064713728"))

    assert reply_fields(first.data)["Content"] == WELCOME
    assert reply_fields(retry.data)["Content"] == WELCOME
    assert row_count() == 1
    client.post(plain_url(), data=text_xml(msg_id="6054768590064713729"))
    assert row_count() == 2


def test_event_retry_stores_one_row(client, mp):
    for _ in range(3):
        resp = client.post(plain_url(), data=event_xml("subscribe"))
        assert reply_fields(resp.data)["Content"] == WELCOME
    assert row_count() == 1

    for _ in range(2):
        assert client.post(plain_url(), data=event_xml("CLICK", key="M")).data == b"success"
    assert row_count() == 2  # same user and second, different event: a different push


def test_events_of_different_users_in_the_same_second_are_kept_apart(client, mp):
    # Differing only in letter case: MariaDB's case-insensitive collation must not merge them.
    for sender in ("oAbCdEf123", "oabcdef123", "oZZZ_other-user"):
        client.post(plain_url(), data=event_xml("CLICK", key="MENU_REPORT", sender=sender))
    assert [r.from_openid for r in rows()] == ["oAbCdEf123", "oabcdef123", "oZZZ_other-user"]


def test_a_retry_gets_the_first_answer_and_runs_no_handler(client, mp, monkeypatch):
    # One INSERT ignoring the stored key decides (concurrent copies: tests/wechat/
    # test_mp_callback_races.py); a retry is answered from the stored reply, and its handlers do
    # not run, so a conversation step is never taken twice.
    calls = []

    def handler(msg, row):
        calls.append(row.id)
        return f"第{len(calls)}次处理"

    monkeypatch.setitem(mp.extensions, mp_callback.HANDLERS, [(0, 0, handler)])
    first = client.post(plain_url(), data=text_xml())
    retry = client.post(plain_url(), data=text_xml())

    assert reply_fields(first.data)["Content"] == reply_fields(retry.data)["Content"] == "第1次处理"
    assert len(calls) == 1 and calls == [rows()[0].id]
    assert row_count() == 1 and rows()[0].reply == "第1次处理"


# --- hostile or broken input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + text_xml("&xxe;"),
        '<!doctype xml [<!entity a "aaaaaaaaaa">]>' + text_xml("&a;"),
        "<!ENTITY a 'b'>" + text_xml(),
    ],
    ids=["external-entity", "lowercase", "bare-entity"],
)
def test_dtd_or_entity_declaration_is_refused_before_parsing(client, mp, body):
    resp = client.post(plain_url(), data=body.encode())
    assert_error(resp, 400, "xml_declaration_forbidden")
    assert row_count() == 0


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><ToUserName>",
        b"not xml at all",
        b"<root><a>1</a></root>",
        b"<xml/>",
        b"\xff\xfe<\x00x\x00",
        text_xml().encode("utf-16-le"),
    ],
    ids=["truncated", "text", "wrong-root", "empty-root", "utf16-bom", "utf16"],
)
def test_invalid_xml_is_a_bad_request(client, mp, body):
    assert_error(client.post(plain_url(), data=body), 400, "invalid_xml")
    assert row_count() == 0


def test_message_without_sender_is_a_bad_request(client, mp):
    body = "<xml><MsgType>text</MsgType><Content>x</Content><MsgId>1</MsgId></xml>"
    assert_error(client.post(plain_url(), data=body), 400, "invalid_message")
    assert row_count() == 0


def test_empty_body_is_a_bad_request(client, mp):
    assert_error(client.post(plain_url(), data=b""), 400, "empty_body")


def test_body_at_the_size_limit_is_stored_whole(client, mp):
    base = len(text_xml("").encode())
    chinese = "城" * ((mp_callback.MAX_BODY_BYTES - base) // 3)
    content = chinese + "x" * (mp_callback.MAX_BODY_BYTES - base - len(chinese.encode()))
    body = text_xml(content).encode()
    assert len(body) == mp_callback.MAX_BODY_BYTES

    assert client.post(plain_url(), data=body).status_code == 200
    assert rows()[0].raw_xml.encode() == body

    too_big = text_xml(content + "x", msg_id="6054768590064713720").encode()
    assert_error(client.post(plain_url(), data=too_big), 413, "payload_too_large")
    assert row_count() == 1


def test_oversized_body_is_refused(client, mp):
    body = text_xml("城" * 30_000)  # about 90 KB of UTF-8
    assert_error(client.post(plain_url(), data=body.encode()), 413, "payload_too_large")
    assert row_count() == 0


def test_forged_signature_post_is_refused_and_stores_nothing(client, mp):
    resp = client.post(plain_url(token="guessed-token"), data=text_xml())
    assert_error(resp, 403, "invalid_signature")
    resp = client.post("/wechat/mp?timestamp=1&nonce=2", data=text_xml())
    assert_error(resp, 403, "invalid_signature")
    assert row_count() == 0


def test_unknown_encrypt_type_is_a_bad_request(client, mp):
    resp = client.post(plain_url(encrypt_type="des"), data=text_xml())
    assert_error(resp, 400, "unsupported_encrypt_type")


# --- safe mode (AES) --------------------------------------------------------------------------


def test_safe_mode_official_sample_is_decrypted_stored_and_answered_encrypted(
    client, sample_account
):
    resp = client.post(sample_url(), data=SAMPLE_BODY, content_type="text/xml")

    assert resp.status_code == 200, resp.get_data(as_text=True)
    envelope = reply_fields(resp.data)
    assert envelope["Nonce"] == SAMPLE_NONCE
    expected_sig = sha1_sorted(
        SAMPLE_TOKEN, envelope["TimeStamp"], envelope["Nonce"], envelope["Encrypt"]
    )
    assert envelope["MsgSignature"] == expected_sig
    reply = reply_fields(decrypt_reply(envelope["Encrypt"], SAMPLE_AES_KEY, SAMPLE_APP_ID).encode())
    assert (reply["ToUserName"], reply["FromUserName"]) == (CITIZEN, ACCOUNT)
    assert (reply["MsgType"], reply["Content"]) == ("text", WELCOME)

    [row] = rows()
    assert (row.app_id, row.msg_type, row.content) == (SAMPLE_APP_ID, "text", "abcdteT")
    assert (row.from_openid, row.to_user) == (CITIZEN, ACCOUNT)
    assert row.msg_id == "6054768590064713728"
    assert row.create_time.timestamp() == 1409735668
    assert "<Content><![CDATA[abcdteT]]></Content>" in row.raw_xml
    assert "Encrypt" not in row.raw_xml


def test_safe_mode_retry_stores_one_row(client, sample_account):
    for _ in range(2):
        resp = client.post(sample_url(), data=SAMPLE_BODY)
        assert "<Encrypt>" in resp.get_data(as_text=True)
    assert row_count() == 1


def test_safe_mode_ignores_unsigned_plaintext_fields_of_the_envelope(client, sample_account):
    forged = SAMPLE_BODY.replace("abcdteT", "forged").replace(CITIZEN, "oForgedUser")
    resp = client.post(sample_url(), data=forged)
    assert resp.status_code == 200
    [row] = rows()
    assert (row.content, row.from_openid) == ("abcdteT", CITIZEN)


def test_safe_mode_plaintext_for_another_appid_is_refused(client, sample_account, monkeypatch):
    monkeypatch.setitem(sample_account.config, "WECHAT_MP_APP_ID", "wx0000000000000000")
    resp = client.post(sample_url(), data=SAMPLE_BODY)
    assert_error(resp, 403, "invalid_appid")
    assert row_count() == 0


def test_safe_mode_tampered_encrypt_fails_the_msg_signature(client, sample_account):
    tampered = SAMPLE_BODY.replace(SAMPLE_ENCRYPT[:8], "AAAAAAAA")
    resp = client.post(sample_url(), data=tampered)
    assert_error(resp, 403, "invalid_signature")
    assert row_count() == 0


def test_safe_mode_resigned_garbage_encrypt_fails_to_decrypt(client, sample_account):
    garbage = SAMPLE_ENCRYPT[:-24] + "="  # no longer whole AES blocks
    body = SAMPLE_BODY.replace(SAMPLE_ENCRYPT, garbage)
    sig = sha1_sorted(SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, garbage)
    resp = client.post(sample_url(msg_signature=sig), data=body)
    assert_error(resp, 400, "decrypt_failed")
    assert row_count() == 0


@pytest.mark.parametrize("msg_signature", ["", "0" * 40, SAMPLE_SIGNATURE])
def test_safe_mode_wrong_or_missing_msg_signature_is_refused(client, sample_account, msg_signature):
    resp = client.post(sample_url(msg_signature=msg_signature), data=SAMPLE_BODY)
    assert_error(resp, 403, "invalid_signature")
    assert row_count() == 0


def test_safe_mode_without_a_configured_aes_key_is_refused_clearly(
    client, sample_account, monkeypatch
):
    monkeypatch.setitem(sample_account.config, "WECHAT_MP_AES_KEY", "")
    resp = client.post(sample_url(), data=SAMPLE_BODY)
    assert_error(resp, 503, "aes_key_not_configured")
    assert row_count() == 0


def test_safe_mode_envelope_without_encrypt_is_a_bad_request(client, sample_account):
    resp = client.post(sample_url(), data=text_xml())
    assert_error(resp, 400, "missing_encrypt")


def test_safe_mode_doctype_envelope_is_refused(client, sample_account):
    body = '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/hosts">]>' + SAMPLE_BODY
    assert_error(client.post(sample_url(), data=body), 400, "xml_declaration_forbidden")
    assert row_count() == 0
