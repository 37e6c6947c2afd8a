"""The public JSON API of 一店一码: a shop by its plate code (the mini-program's scan) and the
shop heat map as GeoJSON. Nobody signs in; the owner's name and phone are masked."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from app.apispec import document_errors, document_only
from app.extensions import limiter
from app.ratelimits import public_limit
from shops import heatmap
from shops.lookup import LOOKUP_LIMIT, json_body, lookup
from shops.public_schemas import HeatmapArgs, ShopPublicOut

api_blp = Blueprint(
    "shops_public", __name__, url_prefix="/api/v1/shops", description="店铺公开信息（一店一码）"
)


# A plain view (no schema wrappers per request: document_only) answering the cached bytes, the
# hot path of every scan.
@api_blp.route("/<string:code>", endpoint="ShopByCode")
@LOOKUP_LIMIT
@document_only(api_blp.response(200, ShopPublicOut), document_errors(api_blp, 403, 404, 410, 429))
def shop_by_code(code: str):
    """A shop by its plate code: 404 shop_code_unknown, 410 shop_code_replaced, 403
    shop_suspended, 410 shop_closed. Owner name and phone are masked."""
    found, refs = lookup(code)
    if found.error is not None:
        raise found.error(found.message)
    return Response(json_body(found, refs), mimetype="application/json")


@api_blp.route("/heatmap")
class Heatmap(MethodView):
    decorators = [limiter.limit(public_limit)]

    @api_blp.arguments(HeatmapArgs, location="query")
    @api_blp.response(200, description="GeoJSON FeatureCollection: one square cell per Feature")
    @document_errors(api_blp, 422, 429)
    def get(self, args: dict[str, Any]):
        """Trading shops counted per square cell (metres) as GeoJSON, by industry/district/bbox."""
        body = heatmap.geojson(args["industry"], args["district"], args["bbox"], args["cell"])
        return Response(body, mimetype="application/geo+json")
