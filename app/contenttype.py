"""API writes must say what they send: JSON, a form or multipart; anything else is 415."""

from __future__ import annotations

from flask import Flask, request

from app.errors import UnsupportedMediaType

ACCEPTED = {"application/json", "multipart/form-data", "application/x-www-form-urlencoded"}


def init_app(app: Flask) -> None:
    """Install the check for /api/ requests that carry a body."""

    @app.before_request
    def enforce_api_content_type() -> None:
        if not request.path.startswith("/api/") or request.method not in {"POST", "PUT", "PATCH"}:
            return
        if not request.content_length and not request.headers.get("Transfer-Encoding"):
            return
        if request.mimetype not in ACCEPTED:
            raise UnsupportedMediaType(
                f"不支持的内容类型：{request.mimetype or '未声明'}，请使用 application/json",
                fields={"Content-Type": ["application/json, multipart/form-data"]},
            )
