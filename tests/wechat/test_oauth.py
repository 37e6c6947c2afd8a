"""Public-account H5 sign-in: /auth/wechat -> the authorize page -> callback -> signed in."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from app.auth.models import User, WechatIdentity

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture(autouse=True)
def _over_http(wechat_api):
    """Code exchanges reach the emulator over real HTTP; the browser uses the /_wechat/ mount."""


def local(url: str) -> str:
    """A URL on the test server as a path the test client can fetch."""
    parts = urlsplit(url)
    assert parts.netloc == "localhost", url
    return parts.path + ("?" + parts.query if parts.query else "")


def start(client, next_="/h5/"):
    resp = client.get("/auth/wechat", query_string={"next": next_}, headers=BROWSER)
    assert resp.status_code == 302
    return resp.headers["Location"]


def authorize_and_confirm(client, authorize_url, **pick):
    """What the citizen does on WeChat's page: look at it and tap the confirm button."""
    page_url = authorize_url.split("#", 1)[0]
    if pick:
        page_url += "&" + "&".join(f"{k}={v}" for k, v in pick.items())
    page = client.get(local(page_url), headers=BROWSER)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "申请使用你的微信身份登录" in text
    return html.unescape(re.search(r'id="confirm" href="([^"]+)"', text).group(1))


def callback_with(link: str, **changes) -> str:
    parts = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return parts.path + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def users_count(db_session) -> int:
    return db_session.scalar(select(func.count(User.id)))


def test_full_sign_in_flow(client, app, db_session):
    location = start(client)
    assert location.startswith("http://localhost/_wechat/connect/oauth2/authorize?")
    assert location.endswith("#wechat_redirect")
    query = parse_qs(urlsplit(location.split("#")[0]).query)
    assert query["appid"] == [app.config["WECHAT_MP_APP_ID"]]
    assert query["redirect_uri"] == ["http://localhost/auth/wechat/callback"]
    assert query["scope"] == [app.config["WECHAT_OAUTH_SCOPE"]]
    assert len(query["state"][0]) >= 20

    link = authorize_and_confirm(client, location, openid="o-h5-full")
    done = client.get(local(link), headers=BROWSER)
    assert done.status_code == 302
    assert done.headers["Location"] == "/h5/"
    home = client.get("/h5/", headers=BROWSER).get_data(as_text=True)
    assert "您好" in home
    identity = db_session.scalar(select(WechatIdentity).where(WechatIdentity.openid == "o-h5-full"))
    assert identity is not None and identity.app_kind.value == "mp"


def test_wrong_state_is_400_and_signs_nobody_in(client, db_session):
    link = authorize_and_confirm(client, start(client), openid="o-h5-wrong")
    before = users_count(db_session)
    resp = client.get(callback_with(link, state="forged-state-value"), headers=BROWSER)
    assert resp.status_code == 400
    assert "登录请求已失效" in resp.get_data(as_text=True)
    assert "您好" not in client.get("/h5/", headers=BROWSER).get_data(as_text=True)
    assert users_count(db_session) == before


def test_callback_without_a_started_sign_in_is_400(client):
    resp = client.get("/auth/wechat/callback?code=test:o-h5-x&state=anything", headers=BROWSER)
    assert resp.status_code == 400


def test_state_cannot_be_used_twice(client, app):
    link = authorize_and_confirm(client, start(client), openid="o-h5-twice")
    assert client.get(local(link), headers=BROWSER).status_code == 302
    other = app.test_client()  # even from a fresh browser the replay fails
    assert other.get(local(link), headers=BROWSER).status_code == 400
    assert client.get(local(link), headers=BROWSER).status_code == 400


def test_snapshot_user_is_refused_and_not_created(client, db_session):
    link = authorize_and_confirm(client, start(client), openid="o-h5-snap")
    snap = callback_with(link, code="snapshot:o-h5-snap")
    before = users_count(db_session)
    resp = client.get(snap, headers=BROWSER)
    assert resp.status_code == 403
    assert "使用完整服务" in resp.get_data(as_text=True)
    assert users_count(db_session) == before
    assert "您好" not in client.get("/h5/", headers=BROWSER).get_data(as_text=True)


@pytest.mark.parametrize(
    ("code", "status"),
    [("test-error:40029", 401), ("test-error:45011", 429), ("test-error:-1", 503)],
)
def test_wechat_errors_show_a_page_with_the_mapped_status(client, code, status):
    link = authorize_and_confirm(client, start(client))
    resp = client.get(callback_with(link, code=code), headers=BROWSER)
    assert resp.status_code == status
    assert resp.mimetype == "text/html"


def test_denied_authorization_is_400(client):
    location = start(client)
    state = parse_qs(urlsplit(location.split("#")[0]).query)["state"][0]
    resp = client.get(f"/auth/wechat/callback?state={state}", headers=BROWSER)
    assert resp.status_code == 400
    assert "取消" in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    "next_", ["https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"]
)
def test_next_cannot_leave_the_site(client, next_):
    link = authorize_and_confirm(client, start(client, next_), openid="o-h5-next")
    done = client.get(local(link), headers=BROWSER)
    assert done.status_code == 302
    target = urlsplit(done.headers["Location"])
    assert not target.netloc and target.path.startswith("/")
    assert "evil" not in done.headers["Location"]


def test_next_inside_the_site_is_kept(client):
    link = authorize_and_confirm(client, start(client, "/h5/?tab=mine"), openid="o-h5-keep")
    assert client.get(local(link), headers=BROWSER).headers["Location"] == "/h5/?tab=mine"


def test_signing_in_replaces_the_previous_session(client):
    with client.session_transaction() as sess:
        sess["staff_id"] = 12345
    link = authorize_and_confirm(client, start(client), openid="o-h5-fixation")
    client.get(local(link), headers=BROWSER)
    with client.session_transaction() as sess:
        assert "staff_id" not in sess
        assert "citizen_id" in sess
