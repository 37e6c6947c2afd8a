"""The public account's menu as data: edited by admins, checked against WeChat's limits, pushed
through cgi-bin/menu/create to the emulator over real HTTP (which checks it as WeChat does)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit import AuditLog
from app.auth.models import Role
from app.extensions import db
from tests.conftest import error_of
from wechat import menus, service

MENU = "/api/v1/admin/wechat/menu"


@pytest.fixture
def admin_headers(make_staff, auth_header):
    return auth_header(make_staff("mp-admin", (Role.ADMIN,)))


def test_the_default_menu_is_pushed_with_absolute_links_and_audited(
    app, client, admin_headers, wechat_api
):
    shown = client.get(MENU, headers=admin_headers).get_json()
    assert shown["saved"] is False and shown["pushed_at"] is None
    report = shown["button"][0]
    assert report["name"] == "我要上报"
    kinds = {b["name"]: b for b in report["sub_button"]}
    assert kinds["对话上报"] == {"type": "click", "name": "对话上报", "key": "REPORT_IN_CHAT"}
    assert kinds["扫码查店铺"]["type"] == "scancode_push"
    assert kinds["小程序上报"]["type"] == "miniprogram"

    # An admin renames a sub-button and saves, then pushes.
    buttons = shown["button"]
    buttons[2]["sub_button"][0]["name"] = "我的案件进度"
    saved = client.put(MENU, json={"button": buttons}, headers=admin_headers)
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["saved"] is True and saved.get_json()["pushed_at"] is None
    pushed = client.post(f"{MENU}/push", headers=admin_headers)
    assert pushed.status_code == 200, pushed.get_json()
    assert pushed.get_json()["pushed_at"] is not None

    got = wechat_api.emulator.menus[app.config["WECHAT_MP_APP_ID"]]["button"]
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    mine = got[2]["sub_button"][0]
    assert mine == {"type": "view", "name": "我的案件进度", "url": f"{base}/h5/reports"}
    mini = got[0]["sub_button"][0]
    assert mini["appid"] == app.config["WECHAT_MINI_APP_ID"]
    assert mini["url"] == f"{base}/h5/report" and mini["pagepath"]
    assert [b["name"] for b in got[1]["sub_button"]] == ["找公厕", "找停车场", "找公园"]
    assert got[1]["sub_button"][1]["url"] == f"{base}/nearby/parking"
    actions = db.session.scalars(select(AuditLog.action).where(
        AuditLog.object_type == "mp_menu").order_by(AuditLog.id)).all()  # fmt: skip
    assert actions == ["wechat.menu.save", "wechat.menu.push"]


def test_wechats_limits_are_refused_in_chinese_naming_the_button(client, admin_headers):
    four = [{"name": f"菜单{i}", "type": "click", "key": f"K{i}"} for i in range(4)]
    refused = client.put(MENU, json={"button": four}, headers=admin_headers)
    assert refused.status_code == 422 and "一级菜单" in str(error_of(refused)["fields"])

    too_long = [
        {"name": "城市管理服务台", "type": "click", "key": "A"},  # 21 bytes > 16
        {"name": "更多", "sub_button": [
            # Within the characters the schema allows, beyond the bytes WeChat counts.
            {"name": "网页", "type": "view", "url": "https://example.cn/" + "路" * 400},
            {"name": "点击", "type": "click", "key": "键" * 50},
            {"name": "小程序", "type": "miniprogram", "url": "/h5/report"},
        ]},
    ]  # fmt: skip
    resp = client.put(MENU, json={"button": too_long}, headers=admin_headers)
    assert resp.status_code == 422
    error = error_of(resp)
    fields = error["fields"]
    assert fields["button.0.name"] == [
        "第 1 个一级菜单：名称不能超过 16 个字节（一个汉字占 3 个字节，约 5 个汉字）"
    ]
    assert fields["button.1.sub_button.0.url"] == [
        "第 2 个一级菜单的第 1 个子菜单：网页地址不能超过 1024 个字节"
    ]
    assert fields["button.1.sub_button.1.key"] == [
        "第 2 个一级菜单的第 2 个子菜单：事件标识不能超过 128 个字节"
    ]
    assert fields["button.1.sub_button.2.pagepath"] == [
        "第 2 个一级菜单的第 3 个子菜单：请填写小程序页面"
    ]
    assert error["message"].startswith("菜单不符合微信的要求：第 1 个一级菜单")


def test_the_emulator_refuses_as_wechat_does_and_the_refusal_is_said_in_chinese(app, wechat_api):
    with app.test_request_context():
        with pytest.raises(service.MenuPushFailed) as refused:
            service.create_menu(
                {"button": [{"name": "城市管理服务台", "type": "click", "key": "A"}]}
            )
        assert refused.value.errcode == 40018
        assert refused.value.message == "菜单推送失败：一级菜单名称过长（微信错误码 40018）"
        with pytest.raises(service.MenuPushFailed) as refused:
            service.create_menu({"button": [{"name": "更多", "sub_button": [
                {"name": "网页", "type": "view", "url": "ftp://example.cn"}]}]})  # fmt: skip
        assert refused.value.errcode == 40027


def test_flask_wechat_push_menu(app, wechat_api):
    result = app.test_cli_runner().invoke(args=["wechat", "push-menu"])
    assert result.exit_code == 0, result.output
    assert "菜单已推送到微信：我要上报、便民服务、我的" in result.output
    assert menus.REPORT_IN_CHAT in str(wechat_api.emulator.menus[app.config["WECHAT_MP_APP_ID"]])
