"""An admin edits the public account's menu and pushes it, and adds a keyword reply that the
account then answers with (a signed message to the live server's /wechat/mp)."""

from __future__ import annotations

import hashlib
import secrets
import time
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import requests

from tests.browser.conftest import desktop_context, staff_login, watch


def test_admin_edits_and_pushes_the_menu(browser, live_server, page_errors):
    context = desktop_context(browser, live_server)
    page = context.new_page()
    watch(page, page_errors)
    page.on("dialog", lambda dialog: dialog.accept())
    staff_login(page, "admin")
    page.goto("/console/wechat/menu")
    page.wait_for_load_state("networkidle")
    assert "尚未推送到微信" in page.inner_text("#menu-state")
    tops = page.locator("#menu-tops fieldset")
    assert tops.count() == 3
    first = page.locator('[data-path="0"] [data-field="name"]')
    assert first.input_value() == "我要上报"

    # Too long for WeChat (16 bytes): refused with the button named, nothing saved.
    first.fill("我要上报城管问题")
    page.click("#menu-save")
    page.wait_for_selector("#menu-errors li")
    assert "第 1 个一级菜单：名称不能超过 16 个字节" in page.inner_text("#menu-errors")
    assert "bad" in (first.get_attribute("class") or "")

    first.fill("我要上报")
    news = page.locator('[data-path="2.1"] [data-field="name"]')
    assert news.input_value() == "城管动态"
    news.fill("城管新闻")
    page.click("#menu-push")  # saves the edit first, then pushes
    page.wait_for_function(
        "document.getElementById('menu-state').textContent.includes('最后推送到微信')"
    )
    menu = page.evaluate("zh.api('GET', '/api/v1/admin/wechat/menu')")
    assert menu["saved"] and menu["pushed_at"]
    assert menu["button"][2]["sub_button"][1]["name"] == "城管新闻"
    context.close()
    # The refused save's 422 is logged by the browser; nothing else may be.
    assert [e for e in page_errors if "status of 422" not in e] == []


def _signed(base: str, token: str) -> str:
    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()  # noqa: S324
    query = urlencode({"timestamp": timestamp, "nonce": nonce, "signature": signature})
    return f"{base}/wechat/mp?{query}"


def test_admin_adds_a_keyword_and_the_account_answers_with_it(browser, live_server, page_errors):
    context = desktop_context(browser, live_server)
    page = context.new_page()
    watch(page, page_errors)
    staff_login(page, "admin")
    page.goto("/console/wechat/keywords")
    page.wait_for_load_state("networkidle")
    page.click("#kw-new")
    page.fill("#kw-keyword", "垃圾分类")
    page.select_option("#kw-match", "contains")
    page.fill("#kw-reply", "垃圾分类指南：可回收物、有害垃圾、厨余垃圾、其他垃圾。")
    page.click("#kw-save")
    page.locator("#kw-rows tr", has_text="垃圾分类").wait_for()
    assert "包含关键词" in page.inner_text("#kw-rows")

    token = live_server.env.get("WECHAT_MP_TOKEN", "emulator-mp-token")
    xml = ("<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[o-browser-kw]]>"
           f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]>"
           "</MsgType><Content><![CDATA[请问垃圾分类怎么分]]></Content>"
           f"<MsgId>{time.time_ns() // 1000}</MsgId></xml>")  # fmt: skip
    resp = requests.post(_signed(live_server.base, token), data=xml.encode(),
                         headers={"Content-Type": "text/xml"}, timeout=10)  # fmt: skip
    assert resp.status_code == 200, resp.text
    reply = ET.fromstring(resp.content).findtext("Content")  # noqa: S314 (our server's reply)
    assert reply == "垃圾分类指南：可回收物、有害垃圾、厨余垃圾、其他垃圾。"
    context.close()
    assert page_errors == []
