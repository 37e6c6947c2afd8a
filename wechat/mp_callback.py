"""Public-account message callback (to be built)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register /wechat/mp."""
