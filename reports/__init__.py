"""Citizen problem reports and the case workflow (受理 立案 派遣 处置 核查 结案)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the report APIs and commands."""
    from app.extensions import api
    from reports import admin_api, cli, export, heat, ingest_api, staff_api, stats_api
    from reports import api as citizen_api

    for module in (citizen_api, staff_api, export, ingest_api, stats_api, heat, admin_api):
        api.register_blueprint(module.blp)
    cli.register(app)
    from reports import littering

    littering.init_app(app)
