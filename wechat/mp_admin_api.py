"""Admin APIs of the public account: the custom menu (read, replace, push to WeChat) and the
keyword replies. Admins only (``/api/v1/admin/wechat``)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import validate

from app.apispec import NOT_BLANK, document_errors
from app.auth.current import staff_required
from app.auth.models import Role
from app.db import commit
from wechat import keywords, menus, service

blp = Blueprint("wechat_mp_admin", __name__, url_prefix="/api/v1/admin/wechat",
                description="公众号：自定义菜单与关键词回复（管理员）")  # fmt: skip
admins = staff_required(Role.ADMIN)


# --- schemas -------------------------------------------------------------------------------------


def _text(limit: int, description: str, **kw: Any) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(max=limit),
                            metadata={"description": description}, **kw)  # fmt: skip


class SubButton(ma.Schema):
    """A button with an action (a sub-button, or a menu without sub-buttons)."""

    name = _text(menus.SUB_NAME_BYTES, "at most 16 UTF-8 bytes for a menu, 60 for a sub-button "
                 "(a Chinese character is 3 bytes)", required=True)  # fmt: skip
    type = ma.fields.String(required=True, validate=validate.OneOf(list(menus.TYPES)))
    key = _text(menus.KEY_BYTES, "event key (click, scancode_*, location_select, pic_*): at "
                "most 128 UTF-8 bytes")  # fmt: skip
    url = _text(menus.URL_BYTES, "view and miniprogram (the fallback page): http(s) URL, or a "
                "path of ours starting with /; at most 1024 bytes once made absolute")  # fmt: skip
    pagepath = _text(menus.PAGEPATH_BYTES, "miniprogram: the mini-program page")
    appid = _text(32, "miniprogram: another mini-program's appid (default: ours)")


class MenuButton(SubButton):
    """A menu: an action of its own, or up to 5 sub-buttons."""

    type = ma.fields.String(validate=validate.OneOf(list(menus.TYPES)))
    sub_button = ma.fields.List(ma.fields.Nested(SubButton), validate=validate.Length(
        max=menus.MAX_SUB_BUTTONS, error=f"子菜单最多 {menus.MAX_SUB_BUTTONS} 个"))  # fmt: skip


class MenuIn(ma.Schema):
    button = ma.fields.List(
        ma.fields.Nested(MenuButton), required=True, validate=validate.Length(
            min=1, max=menus.MAX_BUTTONS, error=f"一级菜单应为 1 到 {menus.MAX_BUTTONS} 个"),
    )  # fmt: skip


class MenuOut(ma.Schema):
    button = ma.fields.List(ma.fields.Dict(), required=True)
    saved = ma.fields.Boolean(required=True, metadata={"description": "false: the default menu"})
    updated_at = ma.fields.DateTime(allow_none=True)
    updated_by = ma.fields.String(allow_none=True)
    pushed_at = ma.fields.DateTime(allow_none=True, metadata={"description": "last push"})
    pushed_by = ma.fields.String(allow_none=True)


class KeywordFields(ma.Schema):
    keyword = ma.fields.String(validate=validate.Length(min=1, max=keywords.KEYWORD_MAX),
                               metadata={"pattern": NOT_BLANK})  # fmt: skip
    match = ma.fields.String(validate=validate.OneOf(list(keywords.MATCHES)),
                             metadata={"description": "exact | contains"})  # fmt: skip
    reply = ma.fields.String(validate=validate.Length(min=1, max=keywords.REPLY_MAX),
                             metadata={"pattern": NOT_BLANK})  # fmt: skip
    active = ma.fields.Boolean()

    @ma.pre_load
    def trim(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}


class KeywordIn(KeywordFields):
    keyword = ma.fields.String(required=True, validate=validate.Length(
        min=1, max=keywords.KEYWORD_MAX), metadata={"pattern": NOT_BLANK})  # fmt: skip
    reply = ma.fields.String(required=True, validate=validate.Length(
        min=1, max=keywords.REPLY_MAX), metadata={"pattern": NOT_BLANK})  # fmt: skip


class KeywordOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    keyword = ma.fields.String(required=True)
    match = ma.fields.String(required=True)
    match_label = ma.fields.String(required=True)
    reply = ma.fields.String(required=True)
    active = ma.fields.Boolean(required=True)
    updated_at = ma.fields.DateTime(required=True)


class KeywordListOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(KeywordOut), required=True)


# --- views ---------------------------------------------------------------------------------------


@blp.route("/menu")
class Menu(MethodView):
    decorators = [admins]

    @blp.response(200, MenuOut)
    @document_errors(blp, 401, 403)
    def get(self, staff):
        """The stored menu (the default menu until one is saved) and when it was last pushed."""
        return menus.current()

    @blp.arguments(MenuIn)
    @blp.response(200, MenuOut)
    @document_errors(blp, 401, 403, 422)
    def put(self, body, staff):
        """Replace the menu (checked against WeChat's limits; not pushed until POST .../push)."""
        state = menus.replace(body["button"], staff)
        commit()
        return state


@blp.route("/menu/push")
class MenuPush(MethodView):
    decorators = [admins]

    @blp.response(200, MenuOut)
    @document_errors(blp, 401, 403, 422, 502, 503)
    def post(self, staff):
        """Push the stored menu to WeChat (cgi-bin/menu/create); each push is audited. Pushing
        again sends the same menu again."""
        try:
            state = menus.push(staff)
        except service.WeChatError:
            commit()  # keep the audit row of the refused push
            raise
        commit()
        return state


@blp.route("/keywords")
class Keywords(MethodView):
    decorators = [admins]

    @blp.response(200, KeywordListOut)
    @document_errors(blp, 401, 403)
    def get(self, staff):
        """Every keyword reply."""
        return {"items": [keywords.view(k) for k in keywords.all_keywords()]}

    @blp.arguments(KeywordIn)
    @blp.response(201, KeywordOut)
    @document_errors(blp, 401, 403, 409, 422)
    def post(self, body, staff):
        """Add a keyword reply; 409 when the keyword exists (so a retried create adds nothing)."""
        row = keywords.create(body, staff)
        commit()
        return keywords.view(row)


@blp.route("/keywords/<int:keyword_id>")
class Keyword(MethodView):
    decorators = [admins]

    @blp.arguments(KeywordFields)
    @blp.response(200, KeywordOut)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def patch(self, body, keyword_id, staff):
        """Change a keyword reply (keyword, match, reply, active)."""
        row = keywords.update(keywords.get(keyword_id), body, staff)
        commit()
        return keywords.view(row)

    @blp.response(204)
    @document_errors(blp, 401, 403, 404)
    def delete(self, keyword_id, staff):
        """Remove a keyword reply."""
        keywords.delete(keywords.get(keyword_id), staff)
        commit()
