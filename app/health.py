"""Liveness and readiness probes."""

from __future__ import annotations

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from app.errors import DB_RETRY_AFTER, ServiceUnavailable
from app.extensions import db, redis_client, redis_urls

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is alive (no dependencies touched)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The database answers (503 otherwise, with Retry-After like every database 503: the load
    balancer stops sending traffic and knows when to look again), and whether Redis does:
    without it the app still serves, degraded (rate limits count per process, each worker keeps
    its own WeChat token), so the answer is 200 ``degraded``."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        db.session.rollback()
        raise ServiceUnavailable(
            "数据库暂不可用",
            code="database_unavailable",
            headers={"Retry-After": DB_RETRY_AFTER["database_unavailable"]},
        ) from exc
    redis_state = _redis_state()
    status = "degraded" if redis_state == "unavailable" else "ready"
    return jsonify(status=status, database="ok", redis=redis_state)


def _redis_state() -> str:
    """``ok``, ``unavailable`` (a server did not answer, or failed a moment ago and is left
    alone for REDIS_RETRY_SECONDS) or ``not_configured``. Waits at most REDIS_TIMEOUT_MS."""
    urls = redis_urls(current_app)
    if not urls:
        return "not_configured"
    for url in urls:
        try:
            redis_client(current_app, url).ping()
        except redis.RedisError:
            return "unavailable"
    return "ok"
