"""Nearby public services: toilets, parks, parking and more, with exact nearest search."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the nearby APIs, pages and commands; hook the change sequence on writes."""
    from app.extensions import api
    from services_nearby import cli, feed, public, service, staff_api  # noqa: F401  (service: hooks)

    api.register_blueprint(public.api_blp)
    api.register_blueprint(staff_api.blp)
    api.register_blueprint(staff_api.kinds_blp)
    api.register_blueprint(feed.blp)
    app.register_blueprint(public.page_bp)
    cli.register(app)
