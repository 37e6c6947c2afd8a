"""A new citizen signing in several times at once (a double-tapped button, two tabs) gets one
account and a 200 every time: N requests in parallel against a database whose transactions
really commit (a migrated SQLite file, or a fresh MariaDB database under TEST_DATABASE_URL), with
WeChat (the emulator) reached over real HTTP."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from app.auth.models import User, WechatIdentity
from app.extensions import db
from tests.conftest import committed_app

N = 10
LOGIN = "/api/v1/auth/miniprogram"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def live(live_db_url, tmp_path, wechat_server, rate_limiter):
    """A second app on its own committed database, reaching the emulator over HTTP."""
    app = committed_app(live_db_url, tmp_path, WECHAT_API_BASE_URL=wechat_server.url)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(model.id)))


def parallel(calls) -> list:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def mini_login(app, code: str):
    return lambda: app.test_client().post(LOGIN, json={"code": code})


def h5_callback(app, openid: str, unionid: str | None = None):
    """A browser that has started the OAuth flow; calling the result lands on the callback."""
    client = app.test_client()
    start = client.get("/auth/wechat", query_string={"next": "/h5/"}, headers=BROWSER)
    assert start.status_code == 302
    state = parse_qs(urlsplit(start.headers["Location"].split("#")[0]).query)["state"][0]
    code = f"test:{openid}:{unionid}" if unionid else f"test:{openid}"
    return lambda: client.get(
        "/auth/wechat/callback", query_string={"code": code, "state": state}, headers=BROWSER
    )


def test_parallel_first_mini_program_sign_ins_make_one_account(live):
    results = parallel([mini_login(live, "test:o-race-mini")] * N)
    statuses = Counter(r.status_code for r in results)
    assert statuses == {200: N}, [r.get_json() for r in results if r.status_code != 200]
    bodies = [r.get_json() for r in results]
    assert len({b["user"]["id"] for b in bodies}) == 1
    assert all(b["user"]["apps"] == ["miniprogram"] for b in bodies)
    assert sum(b["is_new"] for b in bodies) == 1
    assert len({b["token"] for b in bodies}) == N
    assert count(live, User) == 1 and count(live, WechatIdentity) == 1
    for body in bodies:  # every token works
        me = live.test_client().get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"}
        )
        assert me.status_code == 200 and me.get_json()["id"] == bodies[0]["user"]["id"]


def test_parallel_first_h5_sign_ins_make_one_account(live):
    calls = [h5_callback(live, "o-race-h5") for _ in range(N)]
    results = parallel(calls)
    statuses = Counter(r.status_code for r in results)
    assert statuses == {302: N}, [r.get_data(as_text=True)[:300] for r in results]
    assert all(r.headers["Location"] == "/h5/" for r in results)
    assert count(live, User) == 1 and count(live, WechatIdentity) == 1


def test_parallel_sign_ins_of_one_person_in_both_apps_make_one_account(live):
    """The same unionid arriving from the mini-program and the public account at once."""
    calls = [mini_login(live, "test:o-both-mini:u-both")] * (N // 2)
    calls += [h5_callback(live, "o-both-mp", "u-both") for _ in range(N - N // 2)]
    results = parallel(calls)
    statuses = Counter(r.status_code for r in results)
    assert statuses == {200: N // 2, 302: N - N // 2}, [
        r.get_data(as_text=True)[:300] for r in results if r.status_code not in (200, 302)
    ]
    assert count(live, User) == 1 and count(live, WechatIdentity) == 2
    with live.app_context():
        user = db.session.scalar(select(User))
        assert user.unionid == "u-both"
        assert sorted(i.app_kind.value for i in user.identities) == ["miniprogram", "mp"]
    assert {r.get_json()["user"]["id"] for r in results if r.status_code == 200} == {user.id}
