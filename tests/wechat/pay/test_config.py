"""WECHATPAY_* settings: embedded defaults work with nothing set; production demands real keys."""

from __future__ import annotations

import pytest

from config import ConfigError, get_config
from tests.app.test_config import GOOD_PRODUCTION_ENV, pay_settings
from wechat.pay import keys
from wechat.pay.client import REAL_GATEWAY, settings_from_config


@pytest.fixture
def pay_env(monkeypatch, tmp_path):
    env = {k: v for k, v in GOOD_PRODUCTION_ENV.items() if k != "DATABASE_URL"}
    for key, value in (env | pay_settings(tmp_path)).items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def test_production_with_real_keys_uses_wechat(pay_env):
    cfg = get_config("production")
    cfg.validate()
    assert cfg.WECHATPAY_EMULATOR is False
    settings = settings_from_config(vars(cfg))
    assert settings.base_url == REAL_GATEWAY and settings.mchid == "1230000109"
    assert settings.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert settings.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----\n")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("WECHATPAY_EMULATOR", "1"),
        ("WECHATPAY_PRIVATE_KEY_FILE", ""),
        ("WECHATPAY_CERT_SERIAL_NO", ""),
        ("WECHATPAY_APIV3_KEY", "too-short"),
        ("WECHATPAY_PUBLIC_KEY", ""),
        ("WECHATPAY_PUBLIC_KEY_ID", ""),
        ("WECHATPAY_MCHID", ""),
    ],
)
def test_production_refuses_missing_pay_settings(pay_env, key, value):
    pay_env.setenv(key, value)
    with pytest.raises(ConfigError, match=key.removesuffix("_FILE")):
        get_config("production").validate()


def test_development_defaults_use_the_embedded_emulator(monkeypatch, tmp_path):
    for key in ("WECHATPAY_EMULATOR", "WECHAT_EMULATOR", "WECHATPAY_PRIVATE_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path))
    cfg = get_config("development")
    assert cfg.WECHATPAY_EMULATOR is True and cfg.WECHATPAY_EMULATOR_DELIVERY_SECONDS > 0
    settings = settings_from_config(vars(cfg))
    assert settings.base_url == cfg.PUBLIC_BASE_URL + "/_wechatpay"
    assert settings.notify_url == cfg.PUBLIC_BASE_URL + "/wechat/pay/transfer-notify"
    assert settings.appid == cfg.WECHAT_MINI_APP_ID and settings.scene_id == "1000"
    generated = keys.load_or_create(tmp_path / "wechatpay-emulator")
    assert settings.public_key_id == generated.public_key_id
