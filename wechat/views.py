"""Public-account H5 OAuth sign-in (to be built)."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("wechat", __name__)


@bp.get("/auth/wechat")
def oauth_start():
    """Placeholder until the OAuth flow lands."""
    return "", 501


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
