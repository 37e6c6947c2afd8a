"""Pushing messages to /wechat/mp as WeChat's servers do (plain mode, signed with the configured
token), for the tests of the public account's handlers in any package."""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
import xml.etree.ElementTree as ET
from urllib.parse import urlencode
from xml.sax.saxutils import escape

ACCOUNT = "gh_10f6c3c3ac5a"
_ids = itertools.count(int(time.time()) * 1000)
_stamps = itertools.count(int(time.time()))


def signed_url(app) -> str:
    """The callback URL with a fresh timestamp, nonce and signature."""
    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
    parts = sorted([app.config["WECHAT_MP_TOKEN"], timestamp, nonce])
    signature = hashlib.sha1("".join(parts).encode()).hexdigest()  # noqa: S324 (protocol)
    return "/wechat/mp?" + urlencode({"timestamp": timestamp, "nonce": nonce,
                                      "signature": signature})  # fmt: skip


def _xml(sender: str, msg_type: str, body: str, msg_id: bool = True) -> str:
    # Events carry no MsgId: WeChat's retry key is sender + CreateTime, so each gets its own.
    stamp = int(time.time()) if msg_id else next(_stamps)
    ident = f"<MsgId>{next(_ids)}</MsgId>" if msg_id else ""
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName><CreateTime>{stamp}</CreateTime>"
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>{body}{ident}</xml>")  # fmt: skip


def text(sender: str, content: str) -> str:
    return _xml(sender, "text", f"<Content><![CDATA[{content}]]></Content>")


def location(sender: str, lat: float, lng: float, label: str = "") -> str:
    body = (f"<Location_X>{lat}</Location_X><Location_Y>{lng}</Location_Y><Scale>15</Scale>"
            f"<Label><![CDATA[{label}]]></Label>")  # fmt: skip
    return _xml(sender, "location", body)


def event(sender: str, name: str, key: str | None = None, scan: str | None = None) -> str:
    body = f"<Event><![CDATA[{name}]]></Event>"
    if key is not None:
        body += f"<EventKey><![CDATA[{key}]]></EventKey>"
    if scan is not None:
        body += (f"<ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType>"
                 f"<ScanResult>{escape(scan)}</ScanResult></ScanCodeInfo>")  # fmt: skip
    return _xml(sender, "event", body, msg_id=False)


def push(client, app, xml: str) -> str | None:
    """POST a message; the passive reply's text (None when the answer is ``success``)."""
    resp = client.post(signed_url(app), data=xml.encode(), content_type="text/xml")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    if resp.get_data() == b"success":
        return None
    root = ET.fromstring(resp.get_data())  # noqa: S314 (our own reply)
    return root.findtext("Content")
