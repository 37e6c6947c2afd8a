"""Everything that talks to WeChat (the only package importing wechatpy), and its emulator."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register H5 OAuth sign-in, the public-account callback and (if enabled) the emulator."""
    # Imported when an app is built, not when the package is: importing a package stays
    # free of blueprints and cycles.
    from app.extensions import api
    from wechat import login_api, mp_callback, pay, views

    api.register_blueprint(login_api.blp)
    views.init_app(app)
    mp_callback.init_app(app)
    pay.init_app(app)
