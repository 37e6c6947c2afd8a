"""The H5 home: entries, sign-in state, logout, and the sign-in redirect of the other pages."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from services_nearby.service import seed_kinds

BROWSER = {"Accept": "text/html"}


def csrf_token(page: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def test_signed_out_home_offers_sign_in_and_every_entry(client, db_session):
    seed_kinds()
    page = client.get("/h5/", headers=BROWSER).get_data(as_text=True)
    assert "欢迎使用智慧城管" in page and "微信登录" in page and "您好" not in page
    assert 'href="/auth/wechat?next=/h5/"' in page
    for text in ("随手拍", "我要上报", "我的上报", "找公厕", "好游园", "好停车", "城管动态",
                 "扫码查店", "一店一码", "更多便民设施"):  # fmt: skip
        assert text in page, text
    for href in ('href="/h5/report"', 'href="/h5/reports"', 'href="/h5/news"',
                 'href="/nearby/toilet"', 'href="/nearby/park"', 'href="/nearby/parking"',
                 'href="/nearby"'):  # fmt: skip
        assert href in page, href
    tabbar = page[page.index('id="tabbar"') :]
    assert re.findall(r'weui-tabbar__label">([^<]+)<', tabbar) == ["首页", "上报", "我的"]
    assert 'id="tab-home" class="weui-tabbar__item weui-bar__item_on"' in page
    assert '<meta name="viewport" content="width=device-width' in page
    assert "weui.min.css" in page


def test_signed_in_home_greets_and_logs_out(client, citizen, sign_in):
    sign_in(citizen)
    page = client.get("/h5/", headers=BROWSER).get_data(as_text=True)
    assert "您好" in page and "退出登录" in page and 'id="login"' not in page
    refused = client.post("/h5/logout", headers=BROWSER)
    assert refused.status_code == 400  # no CSRF token: still signed in
    assert "您好" in client.get("/h5/", headers=BROWSER).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    out = client.post("/h5/logout", data={"csrf_token": token}, headers=BROWSER)
    assert out.status_code == 302 and out.headers["Location"] == "/h5/"
    assert "您好" not in client.get("/h5/", headers=BROWSER).get_data(as_text=True)


@pytest.mark.parametrize("path", ["/h5/report", "/h5/report?shop=ABCD1234", "/h5/reports",
                                  "/h5/reports/20261121-000001"])  # fmt: skip
def test_signed_out_pages_send_the_citizen_to_the_public_account_sign_in(client, path):
    resp = client.get(path, headers=BROWSER)
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/auth/wechat"
    assert parse_qs(location.query)["next"] == [path]
    onward = client.get(resp.headers["Location"], headers=BROWSER)
    assert onward.status_code == 302 and "/_wechat/connect/oauth2/authorize?" in onward.headers[
        "Location"]  # fmt: skip


def test_the_landing_page_links_the_citizen_home(client):
    assert 'href="/h5/"' in client.get("/", headers=BROWSER).get_data(as_text=True)


def test_the_page_scripts_and_styles_are_served(client):
    for name in ("h5/h5.css", "h5/h5.js", "reports/h5/report.js", "reports/h5/reports.js",
                 "reports/h5/detail.js", "vendor/weui/weui.min.css",
                 "vendor/leaflet/leaflet.js"):  # fmt: skip
        assert client.get(f"/static/{name}").status_code == 200, name
