"""Serves the Swagger UI assets from the swagger-ui-bundle package: /api/docs works offline."""

from __future__ import annotations

from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

bp = Blueprint("apidocs", __name__)


@bp.get("/api/docs/assets/<path:filename>")
def swagger_assets(filename: str):
    """Swagger UI's JS and CSS, served locally."""
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)
