"""Everything that talks to WeChat (the only package importing wechatpy), and its emulator."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register H5 OAuth sign-in, the public-account callback and (if enabled) the emulator."""
    from wechat import mp_callback, pay, views

    views.init_app(app)
    mp_callback.init_app(app)
    pay.init_app(app)
