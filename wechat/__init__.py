"""Everything that talks to WeChat (the only package importing wechatpy), and its emulator."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register H5 OAuth sign-in, the public-account callback and (if enabled) the emulator."""
    # Imported when an app is built, not when the package is: importing a package stays
    # free of blueprints and cycles.
    from app.extensions import api
    from app.privacy import add_personal_data
    from wechat import (
        followers,
        keywords,
        login_api,
        mp_admin_api,
        mp_callback,
        mp_cli,
        mp_pages,
        pay,
        personal,
        views,
    )

    api.register_blueprint(login_api.blp)
    views.init_app(app)
    mp_callback.init_app(app)
    pay.init_app(app)
    # The public account as a conversation (issue 15): followers first (order 0, never answers),
    # keyword replies at 50; the features add theirs (report chat 10, plate scan 30, location 60).
    api.register_blueprint(mp_admin_api.blp)
    mp_pages.init_app(app)
    mp_cli.register(app)
    mp_callback.add_handler(app, followers.track, order=0)
    mp_callback.add_handler(app, keywords.answer, order=50)
    add_personal_data(app, "wechat", export=personal.export, erase=personal.erase,
                      label="公众号消息与关注记录")  # fmt: skip
