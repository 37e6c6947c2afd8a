"""Nearby public services: toilets, parks, parking and more, with exact nearest search."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the nearby APIs, pages and commands; hook the change sequence on writes."""
    from app.extensions import api
    from services_nearby import cli, public, service  # noqa: F401  (service: the session hooks)

    api.register_blueprint(public.api_blp)
    app.register_blueprint(public.page_bp)
    cli.register(app)
