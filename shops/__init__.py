"""One shop, one QR code (一店一码): registry, plates, public page, shop-bound reports, heat map."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the shop APIs, pages and commands."""
    from app.extensions import api
    from shops import cli, public, qr_api, staff_api

    api.register_blueprint(staff_api.blp)
    api.register_blueprint(qr_api.blp)
    api.register_blueprint(public.api_blp)
    app.register_blueprint(public.page_bp)
    cli.register(app)
