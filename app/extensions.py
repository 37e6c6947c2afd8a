"""Extensions, created unbound and bound in create_app(); the app's Redis connections."""

from __future__ import annotations

import logging
import threading
import time

import flask_limiter
import redis
from flask import Flask, current_app, request
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry

from app.apispec import Api
from app.db import Base

log = logging.getLogger(__name__)

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def client_ip() -> str:
    """The client address as the proxy in front of us reports it (ProxyFix sets remote_addr)."""
    return request.remote_addr or "unknown"


# ---------------------------------------------------------------- Redis: short waits, a breaker


class RedisPaused(redis.ConnectionError):
    """Redis failed a moment ago: it is left alone for a while, callers fall back at once."""


class RedisBreaker:
    """Redis health as this process last saw it, shared by every connection to one server.

    After a connection error or a timeout, commands fail at once with :class:`RedisPaused` for
    ``pause`` seconds (every user of Redis falls back to its per-process way without waiting);
    then one connection is let through to try again, and the first answer closes the breaker.
    """

    def __init__(self, name: str, pause: float) -> None:
        self.name = name
        self.pause = pause
        self.lock = threading.Lock()
        self.down = False
        self.retry_at = 0.0
        self.prober: object | None = None  # the connection trying Redis again after the pause

    def admit(self, conn: object) -> None:
        """Raise RedisPaused while Redis is left alone; after the pause, admit one connection."""
        if not self.down:
            return
        with self.lock:
            if not self.down or self.prober is conn:
                return
            now = time.monotonic()
            if now < self.retry_at:
                raise RedisPaused(
                    f"Redis {self.name} failed; next try in {self.retry_at - now:.1f} s"
                )
            self.prober, self.retry_at = conn, now + self.pause

    def failed(self, exc: BaseException) -> None:
        """A connection error or timeout: leave Redis alone for ``pause`` seconds."""
        with self.lock:
            first = not self.down
            self.down, self.prober = True, None
            self.retry_at = time.monotonic() + self.pause
        if first:
            log.warning("Redis %s failed (%s); falling back to per-process state, retrying every "
                        "%.0f s", self.name, exc, self.pause)  # fmt: skip

    def answered(self) -> None:
        """Redis answered a command: use it again."""
        if self.down:
            with self.lock:
                was_down, self.down, self.prober = self.down, False, None
            if was_down:
                log.info("Redis %s answers again", self.name)


class _Guarded:
    """Mixed into redis-py's connection class of a pool: every connect, send and read goes
    through the pool's :class:`RedisBreaker`."""

    breaker: RedisBreaker
    _sock: object

    def connect_check_health(self, *args, **kwargs):
        if self._sock:
            return
        self.breaker.admit(self)
        try:
            super().connect_check_health(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self.breaker.failed(exc)
            raise

    def send_packed_command(self, *args, **kwargs):
        if self._sock:  # unconnected: connect_check_health admits it
            self.breaker.admit(self)
        try:
            return super().send_packed_command(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if not isinstance(exc, RedisPaused):
                self.breaker.failed(exc)
            raise

    def read_response(self, *args, **kwargs):
        try:
            response = super().read_response(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self.breaker.failed(exc)
            raise
        self.breaker.answered()
        return response


def redis_pool(app: Flask, url: str) -> redis.ConnectionPool:
    """The app's connection pool for ``url`` (one per process and server): every call waits at
    most REDIS_TIMEOUT_MS, is never retried, and fails at once for REDIS_RETRY_SECONDS after a
    failure (see :class:`RedisBreaker`)."""
    pools = app.extensions.setdefault("redis_pools", {})
    pool = pools.get(url)
    if pool is None:
        base = parse_url(url).get("connection_class", redis.Connection)
        breaker = RedisBreaker(redis_label(url), float(app.config["REDIS_RETRY_SECONDS"]))
        guarded = type(f"Guarded{base.__name__}", (_Guarded, base), {"breaker": breaker})
        timeout = app.config["REDIS_TIMEOUT_MS"] / 1000
        pool = redis.ConnectionPool.from_url(
            url,
            connection_class=guarded,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # a retry would double the wait on a silent Redis
        )
        pool = pools.setdefault(url, pool)
    return pool


def redis_client(app: Flask, url: str) -> redis.Redis:
    """A client on the app's pool for ``url`` (see :func:`redis_pool`)."""
    return redis.Redis(connection_pool=redis_pool(app, url))


def redis_label(url: str) -> str:
    """Where ``url`` points, without its password (for logs)."""
    options = parse_url(url)
    if "path" in options:
        return str(options["path"])
    return f"{options.get('host', 'localhost')}:{options.get('port', 6379)}/{options.get('db', 0)}"


def redis_urls(app: Flask) -> list[str]:
    """The Redis servers the app is configured to use (shared state and rate limits)."""
    urls = [app.config.get("REDIS_URL") or "", app.config.get("RATELIMIT_STORAGE_URI") or ""]
    return list(dict.fromkeys(u for u in urls if u.startswith(REDIS_SCHEMES)))


# ---------------------------------------------------------------- the extensions


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter on the app's guarded Redis pool, falling back to per-process counts.

    With RATELIMIT_IN_MEMORY_FALLBACK_ENABLED, a Redis error moves the limits (the routes' own)
    into this process's memory. Flask-Limiter tries its storage again only at 1, 2, 4 ... 32 s;
    here it asks on every request instead, which costs nothing while the breaker keeps Redis
    paused, so limits go back to Redis as soon as the breaker lets a try through and it answers.
    """

    def init_app(self, app: Flask) -> None:
        uri = app.config.get("RATELIMIT_STORAGE_URI") or ""
        # Flask-Limiter keeps storage options on the object across init_app calls (one
        # limiter, several apps in the tests): each app gets its own pool, or none.
        self._storage_options = {"connection_pool": redis_pool(app, uri)} if (
            uri.startswith(REDIS_SCHEMES)) else {}  # fmt: skip
        self._storage_dead = False  # a new storage is not known to be down
        super().init_app(app)

    def _check_request_limit(self, callable_name=None, in_middleware=True) -> None:
        """Flask-Limiter's before_request hook, not run at all for a route limited by
        ``app.ratelimits.fast_limit`` (the nearby search, a shop plate): it has none of
        Flask-Limiter's limits, and finding none (exemptions, blueprint scopes, meta limits)
        costs tens of microseconds a request."""
        if in_middleware and callable_name is None:
            view = current_app.view_functions.get(request.endpoint or "")
            if getattr(view, "fast_limited", False):
                return
        super()._check_request_limit(callable_name, in_middleware)

    # Flask-Limiter's private (name-mangled) hook deciding whether to try a dead storage again;
    # tests/app/test_redis_faults.py notices if a new version stops calling it.
    def _Limiter__should_check_backend(self) -> bool:
        return True


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
api = Api()
limiter = Limiter(key_func=client_ip)


csrf = CSRFProtect()
