"""Every API error uses one JSON shape, with the right status and headers."""

from __future__ import annotations

import pytest
from flask import Flask

from app import create_app
from app.errors import Conflict, Forbidden, InvalidTransition, NotFound


def assert_error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
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

    @app.get("/api/v1/_probe/boom")
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

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


def test_pages_get_html_errors(client):
    resp = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert resp.status_code == 404
    assert "请求的资源不存在" in resp.get_data(as_text=True)
