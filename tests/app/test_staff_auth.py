"""Staff sign-in: API tokens for scripts, the console form with CSRF, lock-out, audit."""

from __future__ import annotations

import re
from datetime import timedelta

from freezegun import freeze_time
from sqlalchemy import select

from app.audit import AuditLog
from app.auth.models import Role
from app.db import utcnow
from app.extensions import db
from tests.conftest import TEST_PASSWORD, error_of


def api_login(client, username, password=TEST_PASSWORD):
    return client.post(
        "/api/v1/auth/staff/login", json={"username": username, "password": password}
    )


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def test_api_login_returns_a_working_token(client, make_department, make_staff):
    dept = make_department("SY-210106", "铁西区城管局")
    make_staff("tiexi", roles=(Role.HANDLER,), department=dept)
    resp = api_login(client, "tiexi")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["token"].startswith("zc_")
    assert body["staff"]["roles"] == ["handler"]
    assert "password" not in resp.get_data(as_text=True)
    me = client.get("/api/v1/auth/staff/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["department"]["name"] == "铁西区城管局"


def test_wrong_password_and_unknown_user_look_the_same(client, make_staff):
    make_staff("dispatcher1")
    wrong = api_login(client, "dispatcher1", "not-the-password")
    unknown = api_login(client, "nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert error_of(wrong) == error_of(unknown)
    assert wrong.get_json()["error"]["code"] == "invalid_credentials"


def test_account_locks_after_repeated_failures_then_unlocks(client, app, make_staff):
    staff = make_staff("locky")
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit - 1):
        assert api_login(client, "locky", "wrong-password!").status_code == 401
    db.session.expire_all()
    assert staff.locked_until is None  # not before the limit
    assert api_login(client, "locky", "wrong-password!").status_code == 401
    db.session.expire_all()
    assert staff.locked_until is not None  # at the limit exactly
    locked = api_login(client, "locky")  # even the right password is refused now
    assert locked.status_code == 401
    assert locked.get_json()["error"]["code"] == "invalid_credentials"
    actions = db.session.scalars(
        select(AuditLog.action).where(AuditLog.object_id == str(staff.id))
    ).all()
    assert actions.count("staff.locked") == 1
    later = utcnow() + timedelta(minutes=app.config["LOGIN_LOCKOUT_MINUTES"] + 1)
    with freeze_time(later):
        assert api_login(client, "locky").status_code == 200


def test_locked_account_answers_like_an_unknown_one(client, app, make_staff):
    """Locked, unknown and wrong password: one answer, so nobody learns which accounts exist."""
    make_staff("lockme")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        api_login(client, "lockme", "wrong-password!")
    wrong = api_login(client, "lockme", "wrong-password!")
    locked = api_login(client, "lockme")
    unknown = api_login(client, "nobody-at-all")
    assert locked.status_code == unknown.status_code == wrong.status_code == 401
    assert error_of(locked) == error_of(unknown) == error_of(wrong)
    assert locked.get_json()["error"]["message"].startswith("用户名或密码错误")


def test_console_locked_account_shows_the_one_message(client, app, make_staff):
    make_staff("console-lock")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        api_login(client, "console-lock", "wrong-password!")
    pages = {}
    for name, username, password in (
        ("locked", "console-lock", TEST_PASSWORD),
        ("unknown", "console-nobody", TEST_PASSWORD),
    ):
        token = csrf_from(client.get("/console/login").get_data(as_text=True))
        resp = client.post(
            "/console/login",
            data={"username": username, "password": password, "csrf_token": token},
        )
        assert resp.status_code == 401, name
        html = resp.get_data(as_text=True)
        pages[name] = html.replace(username, "USERNAME")
        pages[name] = re.sub(r'value="[^"]{20,}"', "", pages[name])  # the CSRF token differs
        assert "用户名或密码错误" in html
        assert "锁定" in html  # the one message says that repeated failures lock
    assert pages["locked"] == pages["unknown"]


def test_failures_are_counted_even_though_the_request_fails(client, make_staff):
    staff = make_staff("counted")
    api_login(client, "counted", "wrong-password!")
    api_login(client, "counted", "wrong-password!")
    db.session.expire_all()
    assert staff.failed_logins == 2
    api_login(client, "counted")
    db.session.expire_all()
    assert staff.failed_logins == 0


def test_staff_token_expires_and_deactivation_revokes(client, app, make_staff, auth_header):
    staff = make_staff("short")
    headers = auth_header(staff)
    assert client.get("/api/v1/auth/staff/me", headers=headers).status_code == 200
    later = utcnow() + timedelta(hours=app.config["STAFF_TOKEN_TTL_HOURS"], minutes=1)
    with freeze_time(later):
        assert client.get("/api/v1/auth/staff/me", headers=headers).status_code == 401
    staff.is_active = False
    db.session.flush()
    assert client.get("/api/v1/auth/staff/me", headers=headers).status_code == 401


def test_logout_revokes_the_token(client, make_staff, auth_header):
    headers = auth_header(make_staff("bye"))
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/staff/me", headers=headers).status_code == 401


def test_citizen_token_is_not_a_staff_token(client, make_citizen, auth_header):
    headers = auth_header(make_citizen())
    resp = client.get("/api/v1/auth/staff/me", headers=headers)
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "staff_only"


def test_login_is_audited(client, make_staff):
    staff = make_staff("audited")
    api_login(client, "audited")
    row = db.session.scalar(
        select(AuditLog).where(
            AuditLog.action == "staff.login", AuditLog.actor_staff_id == staff.id
        )
    )
    assert row is not None
    assert row.request_id and row.ip


def test_console_login_form_requires_csrf(client, make_staff):
    make_staff("console1")
    page = client.get("/console/login")
    assert page.status_code == 200
    assert "工作人员登录" in page.get_data(as_text=True)
    resp = client.post("/console/login", data={"username": "console1", "password": TEST_PASSWORD})
    assert resp.status_code == 400
    assert "页面已过期" in resp.get_data(as_text=True)
    assert client.get("/console/").status_code == 302  # still signed out


def test_console_login_and_logout(client, make_department, make_staff):
    make_staff("console2", roles=(Role.DISPATCHER, Role.REVIEWER))
    token = csrf_from(client.get("/console/login").get_data(as_text=True))
    resp = client.post(
        "/console/login",
        data={"username": "console2", "password": TEST_PASSWORD, "csrf_token": token},
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/console/")
    home = client.get("/console/").get_data(as_text=True)
    assert "派遣员" in home and "审核员" in home and "全市" in home
    token = csrf_from(home)
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/console/").status_code == 302


def test_console_wrong_password_shows_the_form_again(client, make_staff):
    make_staff("console3")
    token = csrf_from(client.get("/console/login").get_data(as_text=True))
    resp = client.post(
        "/console/login",
        data={"username": "console3", "password": "wrong-password!", "csrf_token": token},
    )
    assert resp.status_code == 401
    html = resp.get_data(as_text=True)
    assert "用户名或密码错误" in html
    assert 'value="console3"' in html


def test_console_next_cannot_leave_the_site(client, make_staff):
    make_staff("console4")
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        page = client.get("/console/login", query_string={"next": evil})
        token = csrf_from(page.get_data(as_text=True))
        resp = client.post(
            f"/console/login?next={evil}",
            data={"username": "console4", "password": TEST_PASSWORD, "csrf_token": token},
        )
        assert resp.status_code == 302
        assert resp.headers["Location"] == "/console/", evil
        client.post(
            "/console/logout",
            data={"csrf_token": csrf_from(client.get("/console/").get_data(as_text=True))},
        )


def console_login(client, username):
    token = csrf_from(client.get("/console/login").get_data(as_text=True))
    resp = client.post(
        "/console/login",
        data={"username": username, "password": TEST_PASSWORD, "csrf_token": token},
    )
    assert resp.status_code == 302
    return resp


def copy_of_session(client, app):
    """Another browser holding a copy of this client's session cookie (a stolen cookie)."""
    name = app.config["SESSION_COOKIE_NAME"]
    other = app.test_client()
    other.set_cookie(name, client.get_cookie(name).value)
    return other


def test_console_logout_ends_copies_of_the_session(client, app, make_staff):
    make_staff("console-out")
    console_login(client, "console-out")
    stolen = copy_of_session(client, app)
    assert stolen.get("/console/").status_code == 200
    assert stolen.get("/api/v1/auth/staff/me").status_code == 200
    token = csrf_from(client.get("/console/").get_data(as_text=True))
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    page = stolen.get("/console/")
    assert page.status_code == 302
    assert "/console/login" in page.headers["Location"]
    api = stolen.get("/api/v1/auth/staff/me")
    assert api.status_code == 401
    assert api.get_json()["error"]["code"] == "unauthorized"
    console_login(client, "console-out")  # signing in again works, with a fresh session
    assert client.get("/console/").status_code == 200
    assert stolen.get("/console/").status_code == 302


def test_logout_ends_the_other_sessions_of_the_account(client, app, make_staff):
    make_staff("two-browsers")
    other = app.test_client()
    console_login(client, "two-browsers")
    console_login(other, "two-browsers")
    token = csrf_from(client.get("/console/").get_data(as_text=True))
    client.post("/console/logout", data={"csrf_token": token})
    assert other.get("/console/").status_code == 302


def test_lock_ends_console_sessions(client, app, make_staff):
    make_staff("console-locked")
    console_login(client, "console-locked")
    attacker = app.test_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        api_login(attacker, "console-locked", "wrong-password!")
    assert client.get("/console/").status_code == 302


def test_password_change_ends_console_sessions(client, make_staff):
    staff = make_staff("console5")
    token = csrf_from(client.get("/console/login").get_data(as_text=True))
    client.post(
        "/console/login",
        data={"username": "console5", "password": TEST_PASSWORD, "csrf_token": token},
    )
    assert client.get("/console/").status_code == 200
    staff.session_version += 1
    db.session.flush()
    assert client.get("/console/").status_code == 302
