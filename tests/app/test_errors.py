"""Every API error uses one JSON shape, with the right status and headers."""

from __future__ import annotations

import sqlite3

import pymysql
import pytest
from flask import Flask
from sqlalchemy import exc as sa_exc

from app import create_app
from app.contenttype import MAX_JSON_DEPTH, json_too_deep
from app.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from app.extensions import db
from app.storage import ObjectNotFound, StorageError
from tests.conftest import REAL_SESSION


def assert_error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    # The id a caller quotes to the operators: the one on the request's log lines and header.
    assert body["error"]["request_id"] == resp.headers["X-Request-ID"]
    return body["error"]


@pytest.fixture
def probe_app() -> Flask:
    """A separate app with routes that raise each kind of error."""
    app = create_app(
        "testing", {"MAX_CONTENT_LENGTH": 1024, "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    )

    @app.get("/api/v1/_probe/conflict")
    def conflict():
        raise Conflict("该案件已被他人处理")

    @app.get("/api/v1/_probe/transition")
    def transition():
        raise InvalidTransition()

    @app.get("/api/v1/_probe/forbidden")
    def forbidden():
        raise Forbidden()

    @app.get("/api/v1/_probe/missing")
    def missing():
        raise NotFound()

    @app.get("/api/v1/_probe/storage")
    def storage_down():
        raise StorageError("s3 get_object failed: Could not connect to the endpoint URL")

    @app.get("/api/v1/_probe/object-gone")
    def object_gone():
        raise ObjectNotFound("media/ab/cd.jpg")

    @app.get("/api/v1/_probe/boom")
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    @app.get("/api/v1/_probe/odd-fields")
    def odd_fields():
        raise ValidationFailed(
            fields={None: ["无名"], "photos": {0: ["坏"], "x": ["坏"]}, 3: ["三"]}
        )

    @app.post("/api/v1/_probe/echo")
    def echo():
        from flask import request

        return {"size": len(request.get_data())}

    return app


def test_unknown_route_is_404_json(client):
    err = assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert err["message"] == "请求的资源不存在"


def test_wrong_method_is_405_with_allow(client):
    resp = client.get("/api/v1/auth/miniprogram")
    assert_error(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"]


def test_missing_auth_is_401(client):
    assert_error(client.get("/api/v1/auth/me"), 401, "unauthorized")


def test_garbage_bearer_token_is_401(client):
    resp = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer zc_forged"})
    assert_error(resp, 401, "invalid_token")


def test_typed_service_errors_map_to_status(probe_app):
    c = probe_app.test_client()
    assert_error(c.get("/api/v1/_probe/conflict"), 409, "conflict")
    assert_error(c.get("/api/v1/_probe/transition"), 409, "invalid_transition")
    assert_error(c.get("/api/v1/_probe/forbidden"), 403, "forbidden")
    assert_error(c.get("/api/v1/_probe/missing"), 404, "not_found")


def test_field_names_of_any_type_come_back_as_strings(probe_app):
    err = assert_error(probe_app.test_client().get("/api/v1/_probe/odd-fields"), 422,
                       "validation_failed")  # fmt: skip
    assert err["fields"] == {"_body": ["无名"], "photos": {"0": ["坏"], "x": ["坏"]}, "3": ["三"]}


def test_unexpected_error_is_500_without_internals(probe_app):
    resp = probe_app.test_client().get("/api/v1/_probe/boom")
    assert_error(resp, 500, "internal_error")
    assert "hunter2" not in resp.get_data(as_text=True)


def test_body_over_limit_is_413(probe_app):
    resp = probe_app.test_client().post(
        "/api/v1/_probe/echo", data=b"x" * 5000, content_type="application/json"
    )
    assert_error(resp, 413, "payload_too_large")


def test_wrong_content_type_is_415(client):
    resp = client.post("/api/v1/auth/miniprogram", data="code=abc", content_type="text/plain")
    err = assert_error(resp, 415, "unsupported_media_type")
    assert "text/plain" in err["message"]


def test_validation_errors_are_422_with_fields(client):
    resp = client.post("/api/v1/auth/miniprogram", json={"code": ""})
    err = assert_error(resp, 422, "validation_failed")
    assert "code" in err["fields"]
    resp = client.post("/api/v1/auth/staff/login", json={"username": "a"})
    err = assert_error(resp, 422, "validation_failed")
    assert "password" in err["fields"]


def test_malformed_json_is_400_or_422(client):
    resp = client.post(
        "/api/v1/auth/staff/login", data="{not json", content_type="application/json"
    )
    assert resp.status_code in (400, 422)
    assert "error" in resp.get_json()


def test_rate_limit_is_429_with_retry_after(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "2/minute")
    body = {"username": "nobody", "password": "whatever-password"}
    statuses = [client.post("/api/v1/auth/staff/login", json=body).status_code for _ in range(2)]
    assert statuses == [401, 401]
    resp = client.post("/api/v1/auth/staff/login", json=body)
    assert_error(resp, 429, "rate_limited")
    assert int(resp.headers["Retry-After"]) > 0


def test_a_failing_file_store_is_a_503_to_retry_and_a_missing_object_a_500(probe_app):
    client = probe_app.test_client()
    err = assert_error(client.get("/api/v1/_probe/storage"), 503, "storage_unavailable")
    assert err["message"] == "文件存储暂时无法访问，请稍后重试" and "s3" not in str(err)
    resp = client.get("/api/v1/_probe/storage")
    assert resp.headers["Retry-After"] == str(probe_app.config["STORAGE_RETRY_AFTER"])
    # A row naming an object the store does not have is our fault, not a moment's outage.
    assert_error(client.get("/api/v1/_probe/object-gone"), 500, "internal_error")


def test_pages_get_html_errors(client):
    resp = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert resp.status_code == 404
    assert "请求的资源不存在" in resp.get_data(as_text=True)
    assert f"请求编号：{resp.headers['X-Request-ID']}" in resp.get_data(as_text=True)


# ---------------------------------------------------------------- hostile JSON


DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(
    "path", ["/api/v1/reports/classify", "/api/v1/auth/miniprogram", "/api/v1/auth/staff/login"]
)
def test_json_nested_5000_levels_is_400_before_any_view_parses_it(client, path):
    for body in (DEEP, '{"code": ' * 5000 + "1" + "}" * 5000):
        resp = client.post(path, data=body, content_type="application/json")
        err = assert_error(resp, 400, "json_too_deep")
        assert err["message"] == "JSON 嵌套层级过深（最多64层）"


def test_brackets_in_strings_and_ordinary_nesting_are_not_too_deep(client):
    text = "井盖" + "[" * 300 + "{" * 300
    resp = client.post("/api/v1/reports/classify", json={"description": text[:500]})
    assert resp.status_code == 200, resp.get_json()
    nested: object = "x"
    for _ in range(MAX_JSON_DEPTH - 1):
        nested = [nested]
    resp = client.post("/api/v1/auth/miniprogram", json={"code": nested})
    err = assert_error(resp, 422, "validation_failed")  # a schema error, not a depth error
    assert "code" in err["fields"]
    assert json_too_deep(b'["\\\\", "\\"[[[[", ' + b"[" * 70 + b"]" * 70 + b"]")
    assert not json_too_deep(b'["\\"' + b"[" * 70 + b'"]')


# ---------------------------------------------------------------- the database is down


@pytest.mark.parametrize(
    "url",
    [
        "mysql+pymysql://root@127.0.0.1:9/zhcg?charset=utf8mb4&connect_timeout=2",  # closed port
        "sqlite:////nonexistent-zhcg-dir/instance/app.db",  # a missing directory
    ],
)
def test_an_unreachable_database_is_503_with_retry_after(url, tmp_path, monkeypatch):
    monkeypatch.setattr(db, "session", REAL_SESSION)  # not the test's rolled-back connection
    app = create_app(
        "testing", {"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": str(tmp_path / "uploads")}
    )
    client = app.test_client()
    login = {"username": "dispatcher", "password": "correct-horse-battery"}
    for resp in (
        client.post("/api/v1/auth/staff/login", json=login),
        client.post("/api/v1/reports/classify", json={"description": "井盖破损"}),
    ):
        err = assert_error(resp, 503, "database_unavailable")
        assert err["message"] == "数据库暂时无法访问，请稍后重试"
        assert int(resp.headers["Retry-After"]) >= 30
    page = client.get("/h5/", headers={"Accept": "text/html"})
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert "数据库暂时无法访问，请稍后重试" in page.get_data(as_text=True)
    assert int(page.headers["Retry-After"]) >= 30


def test_a_busy_database_is_503_and_other_database_errors_stay_500(probe_app):
    def raises(orig: Exception, kind=sa_exc.OperationalError):
        def view():
            raise kind("UPDATE reports SET rating=%s", (5,), orig)

        return view

    busy = pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock")
    probe_app.add_url_rule("/api/v1/_probe/deadlock", "deadlock", raises(busy))
    locked = sqlite3.OperationalError("database is locked")
    probe_app.add_url_rule("/api/v1/_probe/locked", "locked", raises(locked))
    typo = sqlite3.OperationalError("no such column: ratign")
    probe_app.add_url_rule("/api/v1/_probe/typo", "typo", raises(typo))
    dup = pymysql.err.IntegrityError(1062, "Duplicate entry")
    probe_app.add_url_rule("/api/v1/_probe/dup", "dup", raises(dup, sa_exc.IntegrityError))
    c = probe_app.test_client()
    for path in ("/api/v1/_probe/deadlock", "/api/v1/_probe/locked"):
        resp = c.get(path)
        assert assert_error(resp, 503, "database_busy")["message"] == "系统繁忙，请稍后重试"
        assert int(resp.headers["Retry-After"]) >= 5
    for path in ("/api/v1/_probe/typo", "/api/v1/_probe/dup"):
        resp = c.get(path)
        assert_error(resp, 500, "internal_error")
        assert "ratign" not in resp.get_data(as_text=True)
