"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from app.errors import ServiceUnavailable
from app.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is alive (no dependencies touched)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The database answers; 503 otherwise so the load balancer stops sending traffic."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        db.session.rollback()
        raise ServiceUnavailable("数据库暂不可用", code="database_unavailable") from exc
    return jsonify(status="ready", database="ok")
