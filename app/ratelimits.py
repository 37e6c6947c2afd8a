"""Rate-limit strings from config, so deployments tune them without code changes."""

from __future__ import annotations

from flask import current_app


def public_limit() -> str:
    """Limit for public, unauthenticated endpoints (per client address)."""
    return current_app.config["RATELIMIT_PUBLIC"]


def report_limit() -> str:
    """Limit on report submissions per citizen."""
    return current_app.config["RATELIMIT_REPORTS"]


def login_limit() -> str:
    """Limit for sign-in endpoints (per client address)."""
    return current_app.config["RATELIMIT_LOGIN"]
