"""The public account's custom menu as data (自定义菜单): stored, edited by admins, pushed to
WeChat with ``cgi-bin/menu/create``.

The stored menu is WeChat's ``button`` array with two conveniences resolved when it is pushed: a
``url`` starting with ``/`` is a page of ours (PUBLIC_BASE_URL is put in front), and a
``miniprogram`` button without ``appid`` opens our mini-program (WECHAT_MINI_APP_ID).

WeChat's limits (自定义菜单 创建接口, https://developers.weixin.qq.com/doc/offiaccount/Custom_Menus/
Creating_Custom-Defined_Menu.html): 1 to 3 menus, each either an action or 1 to 5 sub-buttons;
names at most 16 bytes (menus) and 60 bytes (sub-buttons) in UTF-8 (a Chinese character is 3
bytes); ``key`` at most 128 bytes; ``url`` at most 1024 bytes. The same rules are checked here
(with Chinese messages naming the button) and by the emulator (with WeChat's error codes).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from flask import current_app
from sqlalchemy import select

from app import audit
from app.auth.models import StaffUser
from app.db import utcnow
from app.errors import ValidationFailed
from app.extensions import db
from wechat import service
from wechat.models import MpMenu

log = logging.getLogger(__name__)

# The key of the 对话上报 button: the report conversation starts on it (reports/mp_chat.py).
REPORT_IN_CHAT = "REPORT_IN_CHAT"
SCAN_SHOP = "SCAN_SHOP"

MAX_BUTTONS, MAX_SUB_BUTTONS = 3, 5
NAME_BYTES, SUB_NAME_BYTES, KEY_BYTES, URL_BYTES = 16, 60, 128, 1024
PAGEPATH_BYTES = 256

# type -> (label, required fields besides name)
TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "view": ("打开网页", ("url",)),
    "miniprogram": ("打开小程序", ("url", "pagepath")),
    "click": ("点击推送事件", ("key",)),
    "scancode_push": ("扫码推送事件", ("key",)),
    "scancode_waitmsg": ("扫码推送事件（显示“消息接收中”）", ("key",)),
    "location_select": ("发送位置", ("key",)),
    "pic_photo_or_album": ("拍照或从相册选图", ("key",)),
}
FIELD_LABELS = {"name": "名称", "type": "类型", "key": "事件标识", "url": "网页地址",
                "pagepath": "小程序页面", "appid": "小程序编号"}  # fmt: skip


def default_buttons() -> list[dict[str, Any]]:
    """The menu a new deployment starts with (pages of ours as paths)."""
    return [
        {"name": "我要上报", "sub_button": [
            {"type": "miniprogram", "name": "小程序上报", "pagepath": "pages/report/index",
             "url": "/h5/report"},
            {"type": "click", "name": "对话上报", "key": REPORT_IN_CHAT},
            {"type": "scancode_push", "name": "扫码查店铺", "key": SCAN_SHOP},
            {"type": "miniprogram", "name": "车窗抛物举报", "pagepath": "pages/littering/index",
             "url": "/h5/littering/new"},
        ]},
        {"name": "便民服务", "sub_button": [
            {"type": "view", "name": "找公厕", "url": "/nearby/toilet"},
            {"type": "view", "name": "找停车场", "url": "/nearby/parking"},
            {"type": "view", "name": "找公园", "url": "/nearby/park"},
        ]},
        {"name": "我的", "sub_button": [
            {"type": "view", "name": "我的上报", "url": "/h5/reports"},
            {"type": "view", "name": "城管动态", "url": "/h5/news"},
        ]},
    ]  # fmt: skip


# --- validation ---------------------------------------------------------------------------------


def _bytes(value: Any) -> int:
    return len(str(value).encode("utf-8"))


def _absolute(url: str) -> str:
    """A stored URL as WeChat gets it: our own pages get PUBLIC_BASE_URL in front."""
    if url.startswith("/"):
        return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url
    return url


def _check_action(button: dict[str, Any], where: str, path: str,
                  errors: dict[str, list[str]]) -> dict[str, Any]:  # fmt: skip
    """Check one button with an action; the cleaned button."""
    kind = button.get("type")
    if kind not in TYPES:
        errors[f"{path}.type"] = [f"{where}：请选择按钮类型"]
        return {}
    out: dict[str, Any] = {"type": kind, "name": button.get("name", "")}
    for field in TYPES[kind][1]:
        value = str(button.get(field) or "").strip()
        label = FIELD_LABELS[field]
        if not value:
            errors[f"{path}.{field}"] = [f"{where}：请填写{label}"]
            continue
        out[field] = value
        if field == "key" and _bytes(value) > KEY_BYTES:
            errors[f"{path}.key"] = [f"{where}：{label}不能超过 {KEY_BYTES} 个字节"]
        elif field == "url":
            full = _absolute(value)
            if not full.startswith(("http://", "https://")):
                errors[f"{path}.url"] = [f"{where}：{label}应以 http:// 或 https:// 开头，"
                                         "或以 / 开头表示本系统的页面"]  # fmt: skip
            elif _bytes(full) > URL_BYTES:
                errors[f"{path}.url"] = [f"{where}：{label}不能超过 {URL_BYTES} 个字节"]
        elif field == "pagepath" and _bytes(value) > PAGEPATH_BYTES:
            errors[f"{path}.pagepath"] = [f"{where}：{label}不能超过 {PAGEPATH_BYTES} 个字节"]
    if kind == "miniprogram" and str(button.get("appid") or "").strip():
        out["appid"] = str(button["appid"]).strip()
    return out


def _check_name(button: dict[str, Any], limit: int, where: str, path: str,
                errors: dict[str, list[str]]) -> str:  # fmt: skip
    name = str(button.get("name") or "").strip()
    if not name:
        errors[f"{path}.name"] = [f"{where}：请填写名称"]
    elif _bytes(name) > limit:
        errors[f"{path}.name"] = [
            f"{where}：名称不能超过 {limit} 个字节（一个汉字占 3 个字节，约 {limit // 3} 个汉字）"
        ]
    return name


def validate(buttons: Any) -> list[dict[str, Any]]:
    """The menu checked against WeChat's limits; ValidationFailed (422) naming each bad button
    in Chinese (``fields`` keyed by position, e.g. ``button.1.sub_button.0.name``)."""
    errors: dict[str, list[str]] = {}
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        message = f"一级菜单应为 1 到 {MAX_BUTTONS} 个"
        raise ValidationFailed(f"菜单不符合微信的要求：{message}", code="invalid_menu",
                               fields={"button": [message]})  # fmt: skip
    out = []
    for i, button in enumerate(buttons):
        path, where = f"button.{i}", f"第 {i + 1} 个一级菜单"
        if not isinstance(button, dict):
            errors[path] = [f"{where}：格式不正确"]
            continue
        name = _check_name(button, NAME_BYTES, where, path, errors)
        subs = button.get("sub_button")
        if subs:
            if not isinstance(subs, list) or len(subs) > MAX_SUB_BUTTONS:
                errors[f"{path}.sub_button"] = [f"{where}：子菜单最多 {MAX_SUB_BUTTONS} 个"]
                continue
            cleaned = []
            for j, sub in enumerate(subs):
                sub_path, sub_where = f"{path}.sub_button.{j}", f"{where}的第 {j + 1} 个子菜单"
                if not isinstance(sub, dict):
                    errors[sub_path] = [f"{sub_where}：格式不正确"]
                    continue
                sub_name = _check_name(sub, SUB_NAME_BYTES, sub_where, sub_path, errors)
                cleaned.append(_check_action(sub, sub_where, sub_path, errors) | {"name": sub_name})
            out.append({"name": name, "sub_button": cleaned})
        else:
            out.append(_check_action(button, where, path, errors) | {"name": name})
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(f"菜单不符合微信的要求：{first}", code="invalid_menu", fields=errors)
    return out


def for_wechat(buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """The body of ``cgi-bin/menu/create``: our paths made absolute, our mini-program's appid."""
    body = copy.deepcopy(buttons)
    mini = current_app.config["WECHAT_MINI_APP_ID"]
    for button in body:
        for b in [button, *button.get("sub_button", [])]:
            if "url" in b:
                b["url"] = _absolute(b["url"])
            if b.get("type") == "miniprogram":
                b.setdefault("appid", mini)
    return {"button": body}


# --- storage and push --------------------------------------------------------------------------


def _who(actor: StaffUser | None, label: str | None) -> str:
    """Who saved or pushed, as the console shows it (a name people read, not a login)."""
    return (label or getattr(actor, "display_name", None) or getattr(actor, "username", None)
            or "系统")  # fmt: skip


def _row() -> MpMenu | None:
    app_id = current_app.config["WECHAT_MP_APP_ID"]
    return db.session.scalars(select(MpMenu).where(MpMenu.app_id == app_id)).first()


def current() -> dict[str, Any]:
    """The stored menu (the default one until an admin saves), and when it was saved/pushed."""
    row = _row()
    if row is None:
        return {"button": default_buttons(), "saved": False, "updated_at": None,
                "updated_by": None, "pushed_at": None, "pushed_by": None}  # fmt: skip
    return {"button": row.buttons, "saved": True, "updated_at": row.updated_at,
            "updated_by": row.updated_by, "pushed_at": row.pushed_at,
            "pushed_by": row.pushed_by}  # fmt: skip


def replace(buttons: Any, actor: StaffUser | None, label: str | None = None) -> dict[str, Any]:
    """Validate and store a new menu (flushes; the caller commits). Not pushed yet."""
    cleaned = validate(buttons)
    row = _row()
    who = _who(actor, label)
    if row is None:
        row = MpMenu(app_id=current_app.config["WECHAT_MP_APP_ID"])
        db.session.add(row)
    row.buttons, row.updated_at, row.updated_by = cleaned, utcnow(), who
    db.session.flush()
    audit.record("wechat.menu.save", "mp_menu", row.app_id, actor=actor, actor_label=label,
                 buttons=len(cleaned))  # fmt: skip
    return current()


def push(actor: StaffUser | None, label: str | None = None) -> dict[str, Any]:
    """Send the stored (or default) menu to WeChat; an audit row records the push and its result
    either way. Raises service.WeChatError when WeChat refuses (its errcode in the message)."""
    state = current()
    buttons = validate(state["button"])
    body = for_wechat(buttons)
    app_id = current_app.config["WECHAT_MP_APP_ID"]
    try:
        service.create_menu(body)
    except service.WeChatError as exc:
        audit.record("wechat.menu.push", "mp_menu", app_id, actor=actor, actor_label=label,
                     ok=False, errcode=exc.errcode)  # fmt: skip
        log.warning("wechat menu push refused: errcode=%s", exc.errcode)
        raise
    row = _row()
    if row is None:  # pushing the default menu stores it, so what WeChat shows is on record
        row = MpMenu(app_id=app_id, buttons=buttons, updated_by=_who(actor, label))
        db.session.add(row)
    row.pushed_at = utcnow()
    row.pushed_by = _who(actor, label)
    db.session.flush()
    audit.record("wechat.menu.push", "mp_menu", app_id, actor=actor, actor_label=label, ok=True,
                 buttons=len(buttons))  # fmt: skip
    log.info("wechat menu pushed by %s (%s menus)", row.pushed_by, len(buttons))
    return current()
