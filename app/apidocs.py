"""The API docs: Swagger UI assets served from the swagger-ui-bundle package (/api/docs works
offline), and the switch that hides the docs and the spec where API_DOCS_ENABLED is off (the
default in production: the endpoint list is not published to everyone)."""

from __future__ import annotations

from flask import Blueprint, current_app, request, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from app.errors import NotFound

bp = Blueprint("apidocs", __name__)


def docs_paths() -> tuple[str, str]:
    """The spec's path and the docs pages' path prefix, as flask-smorest serves them."""
    cfg = current_app.config
    prefix = cfg["OPENAPI_URL_PREFIX"].rstrip("/")
    return f"{prefix}/{cfg['OPENAPI_JSON_PATH']}", f"{prefix}/{cfg['OPENAPI_SWAGGER_UI_PATH']}"


@bp.before_app_request
def hide_docs_unless_enabled() -> None:
    """404 (the one error shape) for the spec, the docs and their assets when disabled."""
    if current_app.config["API_DOCS_ENABLED"]:
        return
    spec, docs = docs_paths()
    path = request.path.rstrip("/")
    if path in (spec, docs) or path.startswith(docs + "/"):
        raise NotFound()


@bp.get("/api/docs/assets/<path:filename>")
def swagger_assets(filename: str):
    """Swagger UI's JS and CSS, served locally."""
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)
