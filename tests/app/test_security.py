"""Response headers on every kind of answer, HSTS by configuration, the API docs switch and the
app's own 414 for over-long request targets (app/security.py, app/apidocs.py)."""

from __future__ import annotations

import io
import secrets

import pytest

from app import create_app
from app.auth.models import Role
from config import get_config
from tests.console.conftest import login_as

from .test_config import GOOD_PRODUCTION_ENV, pay_settings

FRAME_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def assert_protected(resp) -> None:
    """No other site may frame it, nothing is sniffed, the referrer stays on our origin."""
    for name, value in FRAME_HEADERS.items():
        assert resp.headers.get(name) == value, (name, dict(resp.headers))
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


def assert_error(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    assert resp.get_json()["error"]["code"] == code


# --- headers ----------------------------------------------------------------------------------


def test_signed_in_console_page_cannot_be_framed(client, make_staff):
    make_staff("sec-admin", roles=(Role.ADMIN,))
    login_as(client, "sec-admin")
    page = client.get("/console/")
    assert page.status_code == 200
    assert "text/html" in page.content_type
    assert_protected(page)


def test_console_login_page_cannot_be_framed(client):
    page = client.get("/console/login")
    assert page.status_code == 200
    assert_protected(page)


def test_h5_page_cannot_be_framed(client, make_citizen):
    citizen = make_citizen("o-security-h5")
    with client.session_transaction() as sess:
        sess["citizen_id"] = citizen.id
    page = client.get("/h5/")
    assert page.status_code == 200
    assert "text/html" in page.content_type
    assert_protected(page)


def test_api_answers_and_api_errors_carry_the_headers(client):
    ok = client.get("/api/v1/news")
    assert ok.status_code == 200 and ok.is_json
    assert_protected(ok)
    missing = client.get("/api/v1/no-such-thing")
    assert_error(missing, 404, "not_found")
    assert_protected(missing)


def test_a_views_own_policy_is_kept_and_framing_still_refused(
    client, make_citizen, auth_header, make_image
):
    """The signed photo route sets its own policy (a stored file must never run as a page)."""
    uploaded = client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(make_image("JPEG")), "photo.jpg", "image/jpeg")},
        headers=auth_header(make_citizen("o-security-photo")),
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.get_json()
    photo = client.get(uploaded.get_json()["url"])
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert photo.headers["Content-Security-Policy"] == (
        "default-src 'none'; sandbox; frame-ancestors 'none'"
    )
    assert_protected(photo)


def test_no_hsts_unless_configured(client, monkeypatch, app):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    monkeypatch.setitem(app.config, "HSTS_MAX_AGE", 31_536_000)
    assert client.get("/healthz").headers["Strict-Transport-Security"] == "max-age=31536000"
    assert client.get("/console/login").headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    for key, value in (GOOD_PRODUCTION_ENV | pay_settings(tmp_path)).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(48))
    return monkeypatch


@pytest.mark.parametrize(
    ("base_url", "setting", "expected"),
    [
        ("https://zhcg.example.gov.cn", None, 365 * 24 * 3600),
        ("http://10.0.0.8:8000", None, 0),
        ("https://zhcg.example.gov.cn", "0", 0),
        ("https://zhcg.example.gov.cn", "600", 600),
    ],
)
def test_hsts_in_production_follows_the_public_url_or_the_setting(
    production_env, base_url, setting, expected
):
    production_env.setenv("PUBLIC_BASE_URL", base_url)
    if setting is not None:
        production_env.setenv("HSTS_MAX_AGE", setting)
    seconds = {name: get_config(name).HSTS_MAX_AGE for name in ("production", "development")}
    assert seconds == {"production": expected, "development": int(setting or 0)}


def test_production_app_sends_hsts_and_hides_the_api_docs(production_env):
    production_env.setenv("PUBLIC_BASE_URL", "https://zhcg.example.gov.cn")
    client = create_app("production").test_client()
    health = client.get("/healthz")
    assert health.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert_protected(health)
    for path in ("/api/docs", "/api/openapi.json", "/api/docs/assets/swagger-ui-bundle.js"):
        assert_error(client.get(path), 404, "not_found")


# --- API docs ---------------------------------------------------------------------------------


def test_api_docs_are_on_in_development_and_testing(client, monkeypatch):
    monkeypatch.delenv("API_DOCS_ENABLED", raising=False)
    assert get_config("development").API_DOCS_ENABLED is True
    assert get_config("testing").API_DOCS_ENABLED is True
    assert client.get("/api/docs").status_code == 200
    assert client.get("/api/openapi.json").get_json()["info"]["title"] == "智慧城管 API"


def test_api_docs_can_be_switched_off(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "API_DOCS_ENABLED", False)
    for path in ("/api/docs", "/api/docs/", "/api/openapi.json",
                 "/api/docs/assets/swagger-ui-bundle.js"):  # fmt: skip
        assert_error(client.get(path), 404, "not_found")
    assert client.get("/api/v1/news").status_code == 200  # the API itself still answers


def test_api_docs_default_off_in_production_and_can_be_switched_on(production_env):
    assert get_config("production").API_DOCS_ENABLED is False
    production_env.setenv("API_DOCS_ENABLED", "1")
    assert get_config("production").API_DOCS_ENABLED is True


# --- request targets too long -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/news", "/wechat/mp", "/api/v1/no-such-thing"])
def test_over_long_request_target_is_414_in_the_error_shape(client, path):
    target = f"{path}?q=" + "a" * 5000
    resp = client.get(target)
    assert_error(resp, 414, "uri_too_long")
    error = resp.get_json()["error"]
    assert error["message"] == f"请求地址过长（{len(target)} 字符，最多 4096 字符）"
    assert error["fields"] == {"url": ["请求地址不能超过 4096 个字符"]}
    assert_protected(resp)


def test_request_target_at_the_limit_is_served(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_URI_LENGTH", 200)
    base = "/api/v1/news?q="
    assert client.get(base + "a" * (200 - len(base))).status_code == 200
    assert_error(client.get(base + "a" * (201 - len(base))), 414, "uri_too_long")


def test_raw_target_length_counts_percent_encoding(client, app, monkeypatch):
    """The client's bytes count, not the decoded path: 中 is 9 characters as %E4%B8%AD."""
    monkeypatch.setitem(app.config, "MAX_URI_LENGTH", 100)
    target = "/api/v1/" + "%E4%B8%AD" * 11  # 107 characters sent, 19 once decoded
    assert_error(client.get(target), 414, "uri_too_long")
