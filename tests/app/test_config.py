"""Production refuses unsafe settings; development works with nothing set."""

from __future__ import annotations

import pytest

from app import create_app
from config import ConfigError, get_config
from wechat.pay import keys

GOOD_PRODUCTION_ENV = {
    "SECRET_KEY": "pV3q-8Zr_t1LwXk9mNc2Yb7HsJd4Fg6QaE0uRiOy5T",  # a generated-looking key
    "WECHAT_EMULATOR": "0",
    "WECHAT_MINI_APP_ID": "wx1234567890abcdef",
    "WECHAT_MINI_APP_SECRET": "mini-secret",
    "WECHAT_MP_APP_ID": "wxfedcba0987654321",
    "WECHAT_MP_APP_SECRET": "mp-secret",
    "WECHAT_MP_TOKEN": "mp-token",
    "DATABASE_URL": "sqlite://",
}


def pay_settings(tmp_path) -> dict[str, str]:
    """Real-looking WeChat Pay settings: a merchant key file, the platform public key."""
    material = keys.generate()
    (tmp_path / "apiclient_key.pem").write_text(material.merchant_private_pem)
    return {
        "WECHATPAY_MCHID": "1230000109",
        "WECHATPAY_PRIVATE_KEY_FILE": str(tmp_path / "apiclient_key.pem"),
        "WECHATPAY_CERT_SERIAL_NO": material.merchant_serial_no,
        "WECHATPAY_APIV3_KEY": material.apiv3_key,
        "WECHATPAY_PUBLIC_KEY": material.platform_public_pem.replace("\n", "\\n"),
        "WECHATPAY_PUBLIC_KEY_ID": material.public_key_id,
    }


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    for key, value in (GOOD_PRODUCTION_ENV | pay_settings(tmp_path)).items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def test_development_defaults_need_nothing(monkeypatch):
    for key in ("SECRET_KEY", "DATABASE_URL", "WECHAT_EMULATOR"):
        monkeypatch.delenv(key, raising=False)
    cfg = get_config("development")
    cfg.validate()
    assert cfg.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert cfg.SQLALCHEMY_DATABASE_URI.endswith("instance/zhcg.db")
    assert cfg.WECHAT_EMULATOR is True
    assert cfg.STORAGE_BACKEND == "local"


def test_production_starts_with_real_settings(production_env):
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["WECHAT_EMULATOR"] is False


@pytest.mark.parametrize(
    ("key", "value", "complaint"),
    [
        ("SECRET_KEY", "", "SECRET_KEY"),
        ("SECRET_KEY", "short-key", "SECRET_KEY"),
        ("SECRET_KEY", "dev-insecure-secret-key-change-me", "SECRET_KEY"),
        ("WECHAT_EMULATOR", "1", "WECHAT_EMULATOR"),
        ("WECHAT_MINI_APP_SECRET", "", "WECHAT_MINI_APP_SECRET"),
        ("WECHAT_MP_APP_ID", "", "WECHAT_MP_APP_ID"),
        ("WECHAT_MP_TOKEN", "", "WECHAT_MP_TOKEN"),
    ],
)
def test_production_refuses_unsafe_settings(production_env, key, value, complaint):
    production_env.setenv(key, value)
    with pytest.raises(ConfigError, match=complaint):
        create_app("production")


def test_malformed_numbers_are_startup_errors(monkeypatch):
    monkeypatch.setenv("LOGIN_MAX_FAILURES", "five")
    with pytest.raises(RuntimeError, match="LOGIN_MAX_FAILURES"):
        get_config("development")


def test_unknown_environment_name_is_refused():
    with pytest.raises(ConfigError, match="APP_ENV"):
        get_config("staging-typo")


def test_unknown_storage_backend_is_refused(monkeypatch):
    monkeypatch.setenv("STORAGE_BACKEND", "ftp")
    with pytest.raises(ConfigError, match="STORAGE_BACKEND"):
        create_app("development")


def test_rate_limits_are_shared_through_redis_when_configured(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    assert get_config("development").RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/3"
    monkeypatch.delenv("REDIS_URL")
    assert get_config("development").RATELIMIT_STORAGE_URI == "memory://"
