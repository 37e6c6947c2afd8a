"""A shop plate scanned from the public account's menu (扫码查店铺, a ``scancode_push`` or
``scancode_waitmsg`` button): WeChat pushes the plate's text in ScanCodeInfo/ScanResult and this
handler (order 30) answers with the shop, read through the same per-process cache as the shop page
(shops.lookup).

A plate encodes ``HTTP://HOST/S/CODE`` in capitals (shops.codes.plate_url, QR alphanumeric mode);
any letter case of scheme, host, path and code is accepted here, as by the page ``/s/<code>``.
See docs/wechat_plates.md.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app

from shops.errors import ShopCodeReplaced, ShopCodeUnknown
from shops.lookup import lookup
from wechat.models import MpInboundMessage
from wechat.mp_callback import Inbound

SCAN_EVENTS = frozenset({"scancode_push", "scancode_waitmsg"})
NOT_A_PLATE = (
    "您扫描的不是本市“一店一码”店铺二维码。店铺二维码张贴在店铺门口，扫描后可查看店铺信息。"
)
UNKNOWN = "未找到该店铺二维码，可能已失效。如发现问题，仍可点击菜单“我要上报”反映。"


def scan_result(msg: Inbound) -> str | None:
    """The scanned text of a scan event, or None for any other message."""
    if msg.msg_type != "event" or (msg.event or "").lower() not in SCAN_EVENTS:
        return None
    info = msg.fields.get("ScanCodeInfo")
    value = info.get("ScanResult") if isinstance(info, dict) else None
    return value.strip() if isinstance(value, str) else ""


def plate_code(text: str) -> str | None:
    """The code segment a plate's URL carries (any letter case, http or https; not checked yet),
    when the URL is one of our plate pages; None for anything else."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    ours = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.hostname != ours.hostname or parts.port != ours.port:  # hostname is lower-cased
        return None
    base_path = ours.path.rstrip("/")
    path = parts.path
    if base_path and path.lower().startswith(base_path.lower() + "/"):
        path = path[len(base_path) :]
    segments = path.strip("/").split("/")
    if len(segments) != 2 or segments[0].lower() != "s":
        return None
    return segments[1]


def shop_reply(code: str) -> str:
    """What the account answers for a plate's code: the shop and its page, or why not."""
    found, _ = lookup(code)
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    if found.error is ShopCodeUnknown:
        return UNKNOWN
    if found.error is ShopCodeReplaced:
        return f"{ShopCodeReplaced.message}。"
    shop = found.view()
    if found.error is not None:
        return f"{found.message}。"
    lines = [f"【{shop['name']}】"]
    if (shop.get("industry") or {}).get("name"):
        lines.append(f"行业：{shop['industry']['name']}")
    if shop.get("address"):
        lines.append(f"地址：{shop['address']}")
    if shop.get("business_hours"):
        lines.append(f"营业时间：{shop['business_hours']}")
    owner = " ".join(x for x in (shop.get("owner_name"), shop.get("owner_phone")) if x)
    if owner:
        lines.append(f"负责人：{owner}")
    lines.append(f"查看店铺信息、门前三包责任或反映问题：{base}/s/{shop['code']}")
    return "\n".join(lines)


def answer_scan(msg: Inbound, row: MpInboundMessage) -> str | None:
    """Handler (order 30): a scan's answer; None for messages that are not scans."""
    text = scan_result(msg)
    if text is None:
        return None
    code = plate_code(text)
    if code is None:
        return NOT_A_PLATE
    return shop_reply(code)
