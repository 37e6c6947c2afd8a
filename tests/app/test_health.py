"""Probes, request ids and the API docs."""

import os
import socket

import pytest


def test_healthz_answers_ok(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}


def test_readyz_checks_the_database(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")  # no Redis: nothing degraded
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ready", "database": "ok", "redis": "not_configured"}


def test_readyz_checks_redis_when_configured(client, app, monkeypatch):
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set (CI sets it)")
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ready", "database": "ok", "redis": "ok"}


def test_readyz_is_degraded_not_down_without_redis(client, app, monkeypatch):
    """Redis unreachable: the app still serves (limits per process), so 200, saying so."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{port}/0")
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "degraded", "database": "ok", "redis": "unavailable"}


def test_readyz_is_503_when_the_database_fails(client, db_session, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("connection refused")

    monkeypatch.setattr(db_session, "execute", broken)
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "database_unavailable"


def test_request_id_is_echoed_or_generated(client):
    given = client.get("/healthz", headers={"X-Request-ID": "abc12345-trace"})
    assert given.headers["X-Request-ID"] == "abc12345-trace"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["X-Request-ID"] != "bad id with spaces"
    assert len(made.headers["X-Request-ID"]) == 32


def test_openapi_spec_lists_endpoints_and_error_shape(client):
    spec = client.get("/api/openapi.json").get_json()
    assert "/api/v1/auth/miniprogram" in spec["paths"]
    error = spec["components"]["schemas"]["Error"]
    assert "error" in error["properties"]
    responses = spec["paths"]["/api/v1/auth/miniprogram"]["post"]["responses"]
    assert {"401", "422", "429", "503"} <= set(responses)


def test_docs_ui_uses_local_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/docs/assets/swagger-ui-bundle.js" in html
    assert "https://" not in html
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert b"SwaggerUIBundle" in asset.data
