"""Mini-program sign-in through POST /api/v1/auth/miniprogram, against the emulator over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from app.auth.models import WechatApp
from app.auth.service import citizen_from_wechat

LOGIN = "/api/v1/auth/miniprogram"


@pytest.fixture(autouse=True)
def _over_http(wechat_api):
    """Every test here reaches WeChat (the emulator) over real HTTP."""


def login(client, code):
    return client.post(LOGIN, json={"code": code})


def test_new_citizen_gets_a_token_that_works(client):
    resp = login(client, "test:o-mini-new")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["is_new"] is True and body["token_type"] == "Bearer"
    assert body["user"]["apps"] == ["miniprogram"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["id"] == body["user"]["id"]


def test_same_openid_twice_is_the_same_citizen(client):
    first = login(client, "test:o-mini-again").get_json()
    second = login(client, "test:o-mini-again").get_json()
    assert second["user"]["id"] == first["user"]["id"]
    assert second["is_new"] is False
    assert second["token"] != first["token"]


def test_session_key_never_reaches_the_client(client, wechat_server, http, app):
    code = "test:o-mini-secret"
    params = {
        "appid": app.config["WECHAT_MINI_APP_ID"],
        "secret": app.config["WECHAT_MINI_APP_SECRET"],
        "js_code": code,
        "grant_type": "authorization_code",
    }
    session_key = http.get(wechat_server.url + "sns/jscode2session", params=params).json()[
        "session_key"
    ]
    resp = login(client, code)
    token = resp.get_json()["token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    for body in (resp.get_data(as_text=True), me.get_data(as_text=True)):
        assert session_key not in body
        assert "session_key" not in body


def test_unionid_links_mini_program_and_public_account(client, app, db_session):
    mp_user, _ = citizen_from_wechat(
        WechatApp.MP, app.config["WECHAT_MP_APP_ID"], "o-mp-person", unionid="u-person-7"
    )
    body = login(client, "test:o-mini-person:u-person-7").get_json()
    assert body["user"]["id"] == mp_user.id
    assert body["user"]["apps"] == ["miniprogram", "mp"]


@pytest.mark.parametrize(
    ("code", "status", "error_code"),
    [
        ("expired-or-forged", 401, "wechat_code_invalid"),
        ("test-error:40029", 401, "wechat_code_invalid"),
        ("test-error:45011", 429, "wechat_rate_limited"),
        ("test-error:40226", 403, "wechat_risky_user"),
        ("test-error:-1", 503, "wechat_busy"),
        ("test-error:40013", 502, "wechat_error"),
    ],
)
def test_wechat_errors_use_the_one_error_shape(client, code, status, error_code):
    resp = login(client, code)
    assert resp.status_code == status
    body = resp.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == error_code
    assert body["error"]["message"]


def test_invalid_code_message_is_for_people(client):
    body = login(client, "bogus").get_json()
    assert body["error"]["message"] == "登录凭证无效或已过期，请重新登录"


def test_unreachable_wechat_is_503(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_API_BASE_URL", "http://127.0.0.1:9/")
    resp = login(client, "test:o-mini-offline")
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "wechat_unavailable"


def test_revoked_token_is_refused(client):
    token = login(client, "test:o-mini-logout").get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    me = client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 401
    assert me.get_json()["error"]["code"] == "invalid_token"


def test_expired_token_is_refused(client, app):
    token = login(client, "test:o-mini-expire").get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    later = datetime.now(UTC) + timedelta(hours=app.config["CITIZEN_TOKEN_TTL_HOURS"], minutes=1)
    with freeze_time(later):
        me = client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 401
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200


@pytest.mark.parametrize("payload", [{}, {"code": ""}])
def test_missing_or_empty_code_is_422_with_fields(client, payload):
    resp = client.post(LOGIN, data=json.dumps(payload), content_type="application/json")
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["error"]["code"] == "validation_failed"
    assert "code" in body["error"]["fields"]
