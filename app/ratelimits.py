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


def fast_limit(limit_provider, scope: str):
    """A lean per-client-address limit for hot public routes (a shop plate lookup costs ~0.3 ms;
    Flask-Limiter's per-request machinery alone costs ~0.1 ms). It counts in the same storage as
    Flask-Limiter (Redis when REDIS_URL is set, so every worker shares the budget) with a fixed
    window, and answers 429 in the one error shape with Retry-After."""
    import time
    from functools import wraps

    from flask import request
    from limits import parse_many
    from limits.strategies import FixedWindowRateLimiter

    from app.errors import TooManyRequests
    from app.extensions import limiter

    parsed: dict[str, list] = {}
    strategies: dict[int, FixedWindowRateLimiter] = {}

    def check() -> None:
        if not current_app.config.get("RATELIMIT_ENABLED", True):
            return
        text = limit_provider()
        items = parsed.get(text) or parsed.setdefault(text, parse_many(text))
        storage = limiter.storage
        strategy = strategies.get(id(storage))
        if strategy is None:
            strategies.clear()
            strategy = strategies.setdefault(id(storage), FixedWindowRateLimiter(storage))
        key = (current_app.config.get("RATELIMIT_KEY_PREFIX", ""), scope, request.remote_addr)
        for item in items:
            if not strategy.hit(item, *key):
                reset = strategy.get_window_stats(item, *key).reset_time
                wait = max(1, int(reset - time.time()) + 1)
                raise TooManyRequests(headers={"Retry-After": str(wait)})

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            check()
            return view(*args, **kwargs)

        return wrapper

    return decorate
