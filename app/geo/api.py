"""The city's boundaries as GeoJSON, drawn under every map (heat maps, case maps, editors)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, current_app, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from app.extensions import api
from app.geo.shapes import boundary_path

blp = Blueprint("geo", __name__, url_prefix="/api/v1/geo", description="行政区划边界")


@blp.route("/boundaries")
class Boundaries(MethodView):
    @blp.response(200, description="GeoJSON FeatureCollection of the city and its districts")
    def get(self):
        """The city's district boundaries (GCJ-02; conditional, cached by browsers for an hour)."""
        return boundaries()


def boundary_file() -> Path:
    """The configured city's boundary GeoJSON file (SHOP_BOUNDARY_CITY)."""
    return boundary_path(current_app.config["SHOP_BOUNDARY_CITY"])


def boundaries() -> Response:
    """The boundary file itself."""
    return send_file(boundary_file(), mimetype="application/geo+json", max_age=3600,
                     conditional=True)  # fmt: skip


def init_app(app: Flask) -> None:
    """Register the API, and the address the heat-map page first used (clients that stored it
    keep working)."""
    api.register_blueprint(blp)
    app.add_url_rule("/api/v1/shops/heatmap/boundaries", "geo_legacy_boundaries", boundaries)
