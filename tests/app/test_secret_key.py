"""Production refuses a SECRET_KEY that was typed rather than generated, however long."""

from __future__ import annotations

import secrets

import pytest

from app import create_app
from config import ConfigError
from tests.app.test_config import GOOD_PRODUCTION_ENV, pay_settings


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    for key, value in (GOOD_PRODUCTION_ENV | pay_settings(tmp_path)).items():
        monkeypatch.setenv(key, value)
    return monkeypatch


@pytest.mark.parametrize(
    "key",
    [
        "k" * 48,
        "ab" * 24,
        "secretsecretsecretsecretsecretsecret",
        "0011223344556677880011223344556677",
    ],
)
def test_low_variety_secret_key_is_refused(production_env, key):
    assert len(key) >= 32
    production_env.setenv("SECRET_KEY", key)
    with pytest.raises(ConfigError, match="SECRET_KEY must be generated, not typed"):
        create_app("production")


def test_generated_secret_key_is_accepted(production_env):
    key = secrets.token_urlsafe(48)
    production_env.setenv("SECRET_KEY", key)
    assert create_app("production").config["SECRET_KEY"] == key


def test_the_refusal_does_not_show_the_key(production_env):
    production_env.setenv("SECRET_KEY", "x" * 40)
    with pytest.raises(ConfigError) as refused:
        create_app("production")
    assert "x" * 10 not in str(refused.value)
