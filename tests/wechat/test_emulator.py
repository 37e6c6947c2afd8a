"""The WeChat emulator over real HTTP: WeChat's shapes and error codes for each endpoint."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from wechat.emulator import emulator_from_config

MINI = ("wxminiemulator00001", "emulator-mini-secret")
MP = ("wxmpemulator0000001", "emulator-mp-secret")


def login_params(**changes):
    params = {
        "appid": MINI[0],
        "secret": MINI[1],
        "js_code": "test:o-emu-1",
        "grant_type": "authorization_code",
    }
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def errcode_of(resp):
    assert resp.status_code == 200  # WeChat answers errors with HTTP 200
    body = resp.json()
    assert "rid:" in body["errmsg"]
    return body["errcode"]


def test_jscode2session_returns_openid_and_session_key(wechat_server, http):
    resp = http.get(wechat_server.url + "sns/jscode2session", params=login_params())
    body = resp.json()
    assert body["openid"] == "o-emu-1"
    assert len(body["session_key"]) == 24
    assert "unionid" not in body and "errcode" not in body


def test_jscode2session_returns_unionid_when_the_code_has_one(wechat_server, http):
    params = login_params(js_code="test:o-emu-2:u-person-2")
    body = http.get(wechat_server.url + "sns/jscode2session", params=params).json()
    assert (body["openid"], body["unionid"]) == ("o-emu-2", "u-person-2")


@pytest.mark.parametrize(
    ("changes", "errcode"),
    [
        ({"appid": None}, 41002),
        ({"appid": "wxunknown"}, 40013),
        ({"secret": None}, 41004),
        ({"secret": "wrong"}, 40125),
        ({"grant_type": "client_credential"}, 40002),
        ({"js_code": None}, 41008),
        ({"js_code": "0a3Xbc000real-looking-code"}, 40029),
        ({"js_code": "test-error:45011"}, 45011),
        ({"js_code": "test-error:40226"}, 40226),
        ({"js_code": "test-error:-1"}, -1),
    ],
)
def test_jscode2session_errors(wechat_server, http, changes, errcode):
    resp = http.get(wechat_server.url + "sns/jscode2session", params=login_params(**changes))
    assert errcode_of(resp) == errcode


def oauth_token(server, http, code, creds=MP):
    params = {
        "appid": creds[0],
        "secret": creds[1],
        "code": code,
        "grant_type": "authorization_code",
    }
    return http.get(server.url + "sns/oauth2/access_token", params=params)


def test_oauth_access_token_shape(wechat_server, http):
    body = oauth_token(wechat_server, http, "test:o-web-1").json()
    assert body["openid"] == "o-web-1"
    assert body["scope"] == "snsapi_base"
    assert body["expires_in"] == 7200
    assert body["access_token"] and body["refresh_token"]
    assert "is_snapshotuser" not in body and "unionid" not in body


def test_oauth_snapshot_user_is_flagged(wechat_server, http):
    body = oauth_token(wechat_server, http, "snapshot:o-peek").json()
    assert body["is_snapshotuser"] == 1


@pytest.mark.parametrize(
    ("code", "creds", "errcode"),
    [
        ("nope", MP, 40029),
        ("test-error:40163", MP, 40163),
        ("test:o-1", ("wxunknown", "x"), 40013),
        ("test:o-1", (MP[0], "wrong"), 40125),
    ],
)
def test_oauth_access_token_errors(wechat_server, http, code, creds, errcode):
    assert errcode_of(oauth_token(wechat_server, http, code, creds)) == errcode


def test_userinfo_needs_the_userinfo_scope(wechat_server, http):
    full = oauth_token(wechat_server, http, "test:o-web-2:u-web-2").json()
    url = wechat_server.url + "sns/userinfo"
    info = http.get(url, params={"access_token": full["access_token"], "openid": "o-web-2"}).json()
    assert info["unionid"] == "u-web-2" and info["nickname"] == "微信用户"
    wrong = http.get(url, params={"access_token": full["access_token"], "openid": "o-other"})
    assert errcode_of(wrong) == 40003
    base = oauth_token(wechat_server, http, "test:o-web-3").json()
    limited = http.get(url, params={"access_token": base["access_token"], "openid": "o-web-3"})
    assert errcode_of(limited) == 48001
    forged = http.get(url, params={"access_token": "forged", "openid": "o-web-3"})
    assert errcode_of(forged) == 40001


def test_cgi_token_checks_grant_type_and_counts(wechat_server, http):
    emu = wechat_server.emulator
    before = emu.token_issuances[MP[0]]
    params = {"grant_type": "client_credential", "appid": MP[0], "secret": MP[1]}
    body = http.get(wechat_server.url + "cgi-bin/token", params=params).json()
    assert body["expires_in"] == 7200 and body["access_token"]
    assert emu.token_issuances[MP[0]] == before + 1
    bad = http.get(wechat_server.url + "cgi-bin/token", params={**params, "grant_type": "x"})
    assert errcode_of(bad) == 40002


def test_stable_token_is_stable_unless_forced(wechat_server, http):
    url = wechat_server.url + "cgi-bin/stable_token"
    body = {"grant_type": "client_credential", "appid": MINI[0], "secret": MINI[1]}
    first, second = http.post(url, json=body).json(), http.post(url, json=body).json()
    assert first["access_token"] == second["access_token"]
    assert 300 <= first["expires_in"] <= 7200
    forced = http.post(url, json={**body, "force_refresh": True}).json()
    assert forced["access_token"] != first["access_token"]
    assert errcode_of(http.post(url, json={**body, "secret": "wrong"})) == 40125
    assert errcode_of(http.post(url, data="not json")) == 47001
    assert http.get(url).status_code == 405


def test_tokens_from_one_worker_are_accepted_by_another(app, wechat_server, http):
    other_worker = emulator_from_config(app.config)
    token = other_worker.make_access_token(MINI[0])
    msg = {"touser": "o-x", "template_id": "t1", "data": {"thing1": {"value": "你好"}}}
    resp = http.post(
        wechat_server.url + "cgi-bin/message/subscribe/send",
        params={"access_token": token},
        json=msg,
    )
    assert resp.json()["errcode"] == 0


def send(server, http, kind, token, body):
    url = server.url + f"cgi-bin/message/{kind}/send"
    params = {"access_token": token} if token is not None else {}
    return http.post(url, params=params, json=body)


GOOD = {"touser": "o-sub-1", "template_id": "tpl-1", "data": {"thing1": {"value": "已受理"}}}


def test_subscribe_send_records_the_message(wechat_server, http):
    emu = wechat_server.emulator
    token = emu.make_access_token(MINI[0])
    body = send(wechat_server, http, "subscribe", token, {**GOOD, "page": "pages/a"}).json()
    assert body["errcode"] == 0 and body["errmsg"] == "ok" and body["msgid"]
    sent = emu.messages("subscribe", "o-sub-1")[-1]
    assert sent["data"] == GOOD["data"] and sent["page"] == "pages/a"
    listed = http.get(wechat_server.url + "_emulator/messages", params={"touser": "o-sub-1"})
    assert listed.json()["messages"][0]["msgid"] == body["msgid"]


@pytest.mark.parametrize(
    ("token", "body", "errcode"),
    [
        (None, GOOD, 41001),
        ("forged.token", GOOD, 40001),
        ("expired", GOOD, 42001),
        ("valid", {**GOOD, "touser": "noquota-1"}, 43101),
        ("valid", {**GOOD, "touser": "busy-1"}, -1),
        ("valid", {**GOOD, "touser": ""}, 40003),
        ("valid", {k: v for k, v in GOOD.items() if k != "template_id"}, 40037),
        ("valid", {**GOOD, "data": {}}, 47003),
        ("valid", {**GOOD, "data": {"thing1": "no value object"}}, 47003),
    ],
)
def test_subscribe_send_errors(wechat_server, http, token, body, errcode):
    emu = wechat_server.emulator
    tokens = {
        "valid": emu.make_access_token(MINI[0]),
        "expired": emu.make_access_token(MINI[0], ttl=-1),
    }
    resp = send(wechat_server, http, "subscribe", tokens.get(token, token), body)
    assert errcode_of(resp) == errcode


def test_template_send_and_unfollowed_user(wechat_server, http):
    emu = wechat_server.emulator
    token = emu.make_access_token(MP[0])
    ok = send(wechat_server, http, "template", token, {**GOOD, "url": "https://x.example/a"})
    assert ok.json()["errcode"] == 0
    assert emu.messages("template")[-1]["url"] == "https://x.example/a"
    gone = send(wechat_server, http, "template", token, {**GOOD, "touser": "unfollowed-9"})
    assert errcode_of(gone) == 43004
    assert errcode_of(send(wechat_server, http, "template", None, GOOD)) == 41001


def authorize(server, http, **changes):
    params = {
        "appid": MP[0],
        "redirect_uri": "https://city.example/auth/wechat/callback?x=1",
        "response_type": "code",
        "scope": "snsapi_base",
        "state": "s-123",
    }
    params.update(changes)
    return http.get(server.url + "connect/oauth2/authorize", params=params)


def confirm_link(page: str) -> str:
    return html.unescape(re.search(r'id="confirm" href="([^"]+)"', page).group(1))


def test_authorize_page_asks_and_links_back_with_code_and_state(wechat_server, http):
    resp = authorize(wechat_server, http)
    assert resp.status_code == 200
    assert "申请使用你的微信身份登录" in resp.text
    link = urlsplit(confirm_link(resp.text))
    assert (link.netloc, link.path) == ("city.example", "/auth/wechat/callback")
    query = parse_qs(link.query)
    assert query["state"] == ["s-123"] and query["x"] == ["1"]
    code = query["code"][0]
    assert oauth_token(wechat_server, http, code).json()["openid"] == code.split(":")[1]
    again = authorize(wechat_server, http)  # the cookie keeps the same pretend user
    assert parse_qs(urlsplit(confirm_link(again.text)).query)["code"] == [code]


def test_authorize_page_can_pick_a_user_with_unionid(wechat_server, http):
    resp = authorize(
        wechat_server, http, openid="o-pick", unionid="u-pick", scope="snsapi_userinfo"
    )
    code = parse_qs(urlsplit(confirm_link(resp.text)).query)["code"][0]
    body = oauth_token(wechat_server, http, code).json()
    assert (body["openid"], body["unionid"], body["scope"]) == (
        "o-pick",
        "u-pick",
        "snsapi_userinfo",
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"appid": "wxunknown"}, "appid 参数错误"),
        ({"redirect_uri": "/relative"}, "redirect_uri 参数错误"),
        ({"response_type": "token"}, "response_type 参数错误"),
        ({"scope": "snsapi_login"}, "scope 参数错误"),
    ],
)
def test_authorize_page_refuses_bad_parameters(wechat_server, http, changes, message):
    resp = authorize(wechat_server, http, **changes)
    assert resp.status_code == 400
    assert message in resp.text
    assert 'id="confirm"' not in resp.text


def test_the_index_page_says_what_the_emulator_is_and_shows_the_messages_sent(wechat_server, http):
    emu = wechat_server.emulator
    token = emu.make_access_token(MINI[0])
    data = {"thing1": {"value": "井盖破损已派遣"}, "phrase2": {"value": "处置中"}}
    send(wechat_server, http, "subscribe", token, {**GOOD, "touser": "o-index-1", "data": data})
    page = http.get(wechat_server.url)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.text
    assert "微信接口模拟器" in text and "/sns/jscode2session" in text
    assert "test:demo-citizen" in text  # the demo sign-in code make run prints
    assert "订阅消息 · 接收者 o-index-1 ·" in text and "井盖破损已派遣，处置中" in text
