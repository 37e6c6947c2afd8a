"""The WeChat client and message sending: base URLs, timeouts, the shared token cache, retries."""

from __future__ import annotations

import logging
import os
import socket

import pytest

from app.errors import ServiceUnavailable
from wechat import client as wxclient
from wechat import service
from wechat.service import MessageSendFailed

DATA = {"thing1": {"value": "您反映的问题已受理"}}


def test_in_process_emulator_is_the_default(app):
    """No base URL configured: calls reach the emulator mounted in this process, not the network."""
    emu = app.extensions["wechat_emulator"]
    assert not app.config["WECHAT_API_BASE_URL"]
    with app.test_request_context():
        assert wxclient.api_base_url() == wxclient.EMULATOR_INTERNAL_BASE
        session = service.miniprogram_code_to_session("test:o-inproc:u-inproc")
        msgid = service.send_subscribe_message("o-inproc", "tpl-inproc", DATA, page="pages/me")
    assert (session.openid, session.unionid) == ("o-inproc", "u-inproc")
    assert session.app_id == app.config["WECHAT_MINI_APP_ID"]
    sent = emu.messages("subscribe", "o-inproc")
    assert [m["msgid"] for m in sent] == [msgid]
    assert sent[0]["page"] == "pages/me" and sent[0]["lang"] == "zh_CN"


def test_base_urls_follow_the_config_at_call_time(app, monkeypatch):
    with app.test_request_context():
        assert wxclient.oauth_base_url() == "http://localhost/_wechat/connect/"
        monkeypatch.setitem(app.config, "WECHAT_API_BASE_URL", "https://wx-proxy.example/api")
        monkeypatch.setitem(app.config, "WECHAT_OAUTH_BASE_URL", "https://wx-proxy.example/c")
        assert wxclient.api_base_url() == "https://wx-proxy.example/api/"
        assert wxclient.oauth_base_url() == "https://wx-proxy.example/c/"


def test_without_the_emulator_the_real_wechat_is_used(app, monkeypatch):
    monkeypatch.delitem(app.extensions, "wechat_emulator")
    with app.test_request_context():
        assert wxclient.api_base_url() == "https://api.weixin.qq.com/"
        url = service.oauth_authorize_url("https://city.example/cb", "st", "snsapi_userinfo")
    assert url.startswith("https://open.weixin.qq.com/connect/oauth2/authorize?appid=")
    assert "redirect_uri=https%3A%2F%2Fcity.example%2Fcb" in url
    assert url.endswith("&scope=snsapi_userinfo&state=st#wechat_redirect")


def test_a_silent_wechat_times_out(app, monkeypatch):
    """A server that accepts connections but never answers: the configured timeout applies."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        port = listener.getsockname()[1]
        monkeypatch.setitem(app.config, "WECHAT_API_BASE_URL", f"http://127.0.0.1:{port}/")
        monkeypatch.setitem(app.config, "WECHAT_HTTP_TIMEOUT", 0.3)
        with app.test_request_context(), pytest.raises(ServiceUnavailable) as err:
            service.miniprogram_code_to_session("test:o-timeout")
        assert err.value.code == "wechat_unavailable"
        with app.test_request_context(), pytest.raises(MessageSendFailed) as sent:
            service.send_template_message("o-timeout", "tpl", DATA)
        assert sent.value.errcode is None and sent.value.retryable
    finally:
        listener.close()


def test_two_clients_share_one_token_in_process(app, wechat_api):
    emu = wechat_api.emulator
    appid = app.config["WECHAT_MP_APP_ID"]
    before = emu.token_issuances[appid]
    with app.test_request_context():
        first = wxclient.mp_client().access_token
        second = wxclient.mp_client().access_token
    assert first == second
    assert emu.token_issuances[appid] == before + 1


def test_two_workers_share_one_token_through_redis(app, wechat_api, monkeypatch):
    url = os.environ.get("REDIS_URL") or app.config.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set: the shared token cache needs Redis (CI sets it)")
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    emu = wechat_api.emulator
    appid = app.config["WECHAT_MINI_APP_ID"]
    before = emu.token_issuances[appid]
    state = app.extensions["wechat"]
    with app.test_request_context():
        worker_a = wxclient.mini_client()
        monkeypatch.setitem(state, "redis", {})  # the second "worker" has its own connection
        monkeypatch.setitem(state, "memory", {})
        worker_b = wxclient.mini_client()
        assert worker_a.session.redis is not worker_b.session.redis
        token_a = worker_a.access_token
        token_b = worker_b.access_token
        msgid = service.send_subscribe_message("o-redis", "tpl-redis", DATA)
    assert token_a == token_b
    assert msgid in [m["msgid"] for m in emu.messages("subscribe", "o-redis")]
    assert emu.token_issuances[appid] == before + 1


def seed_token(app, token: str, appid_key: str) -> None:
    """Put ``token`` in the cache as if it were good for another hour."""
    with app.test_request_context():
        api = wxclient.mini_client() if appid_key == "mini" else wxclient.mp_client()
        api.session.set(api.access_token_key, token, 3600)
        api.session.set(api.expires_key, 9_999_999_999, 3600)


@pytest.mark.parametrize("kind", ["expired", "invalid"])
def test_rejected_token_is_refreshed_once_and_the_send_retried(app, wechat_api, kind):
    emu = wechat_api.emulator
    appid = app.config["WECHAT_MP_APP_ID"]
    stale = emu.make_access_token(appid, ttl=-5) if kind == "expired" else "revoked.token"
    seed_token(app, stale, "mp")
    before = emu.token_issuances[appid]
    with app.test_request_context():
        msgid = service.send_template_message("o-retry", "tpl-r", DATA, url="https://x.example")
    assert msgid in [m["msgid"] for m in emu.messages("template", "o-retry")]
    assert emu.token_issuances[appid] == before + 1


def test_refresh_happens_only_once(app, wechat_api, monkeypatch):
    seed_token(app, "revoked.token", "mini")
    monkeypatch.setattr(wxclient.ApiClient, "refresh_after_rejection", lambda self, old: "bad.2")
    with app.test_request_context(), pytest.raises(MessageSendFailed) as err:
        service.send_subscribe_message("o-twice", "tpl", DATA)
    assert err.value.errcode == 40001
    assert wechat_api.emulator.messages("subscribe", "o-twice") == []


@pytest.mark.parametrize(
    ("kind", "openid", "errcode", "retryable"),
    [
        ("subscribe", "noquota-user", 43101, False),
        ("template", "unfollowed-user", 43004, False),
        ("subscribe", "busy-user", -1, True),
        ("template", "", 40003, False),
    ],
)
def test_send_errors_carry_errcode_and_retryable(app, wechat_api, kind, openid, errcode, retryable):
    send = service.send_subscribe_message if kind == "subscribe" else service.send_template_message
    with app.test_request_context(), pytest.raises(MessageSendFailed) as err:
        send(openid, "tpl", DATA)
    assert err.value.errcode == errcode
    assert err.value.retryable is retryable
    assert err.value.status == 502 and err.value.code == "wechat_send_failed"


def test_wrong_secret_fails_sends_without_retrying_forever(app, wechat_api, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_MP_APP_SECRET", "not-the-secret")
    with app.test_request_context(), pytest.raises(MessageSendFailed) as err:
        service.send_template_message("o-x", "tpl", DATA)
    assert err.value.errcode == 40125 and not err.value.retryable


def test_logs_never_carry_secrets_or_session_keys(app, caplog):
    """In-process (no urllib3 or HTTP server logs involved): everything our stack logs."""
    secret = app.config["WECHAT_MINI_APP_SECRET"]
    caplog.set_level(logging.DEBUG)
    with app.test_request_context():
        session = service.miniprogram_code_to_session("test:o-logs")
        with pytest.raises(Exception):  # noqa: B017 - any mapped error; we look at the logs
            service.miniprogram_code_to_session("test-error:45011")
        service.send_subscribe_message("o-logs", "tpl", DATA)
    assert "errcode=45011" in caplog.text
    assert secret not in caplog.text
    assert session.session_key not in caplog.text
