"""The city's geography for maps and forms: boundaries as GeoJSON, drawn under every map (heat
maps, case maps, editors, the citizen's map picker), and ``locate``: which district and street a
point lies in, asked by the report form as the citizen moves the pin.

``locate`` answers from the process's parsed regions (``app.geo.regions``, the ONE point locator,
so the form says what the submission will decide) without touching the database; its arguments
are read by hand and its answer written with ``json.dumps`` (the route is called on every move of
the pin: see docs/benchmarks.md, "The locate endpoint").
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import marshmallow as ma
from flask import Flask, Response, current_app, request, send_file, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import validate

from app.apispec import document_errors, document_only
from app.errors import ValidationFailed
from app.extensions import api
from app.geo import coords, regions
from app.geo.shapes import boundary_path
from app.ratelimits import fast_limit, public_limit

blp = Blueprint("geo", __name__, url_prefix="/api/v1/geo", description="行政区划边界与位置识别")

SYSTEMS = tuple(s.value for s in coords.CoordSys)
LEVELS = ("district", "street")
STREETS_MAX_AGE = 300  # seconds: an admin's street edit reaches open maps within minutes


class BoundaryArgs(ma.Schema):
    """Query string of GET /api/v1/geo/boundaries."""

    level = ma.fields.String(
        load_default="district", validate=validate.OneOf(LEVELS),
        metadata={"description": "district: the city and its districts (the bundled boundary "
                  "file); street: the active street regions (街道) from the regions table"},
    )  # fmt: skip
    district = ma.fields.String(
        validate=validate.Length(max=32),
        metadata={"description": "With level=street: only the streets of this district code"},
    )


class LocateArgs(ma.Schema):
    """Query string of GET /api/v1/geo/locate (documentation; the view parses by hand)."""

    lat = ma.fields.Float(required=True, validate=validate.Range(-90, 90))
    lng = ma.fields.Float(required=True, validate=validate.Range(-180, 180))
    coord = ma.fields.String(
        load_default="gcj02", validate=validate.OneOf(SYSTEMS),
        metadata={"description": "The point's coordinate system (a map pick: gcj02; a browser's "
                  "or wx.getLocation's default: wgs84; Baidu: bd09)"},
    )  # fmt: skip
    coord_sys = ma.fields.String(
        validate=validate.OneOf(SYSTEMS),
        metadata={"description": "The same as coord, named as in the other endpoints; coord "
                  "wins when both are given"},
    )  # fmt: skip


class RegionRefOut(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    bbox = ma.fields.List(
        ma.fields.Float(), metadata={"description": "[min_lat, min_lng, max_lat, max_lng], GCJ-02"}
    )


class PointOut(ma.Schema):
    lat = ma.fields.Float()
    lng = ma.fields.Float()


class LocateOut(ma.Schema):
    """Inside: the district and street (null where the city has none there) and the label a
    form shows; outside: the message to show instead."""

    inside = ma.fields.Boolean(required=True)
    district = ma.fields.Nested(RegionRefOut, allow_none=True)
    street = ma.fields.Nested(RegionRefOut, allow_none=True)
    label = ma.fields.String(metadata={"description": "铁西区 · 兴华街道"})
    message = ma.fields.String(metadata={"description": "Why the point cannot be used"})
    point = ma.fields.Nested(PointOut, metadata={"description": "The point in GCJ-02"})


# ---------------------------------------------------------------- boundaries


@blp.route("/boundaries")
class Boundaries(MethodView):
    @blp.arguments(BoundaryArgs, location="query")
    @blp.response(200, description="GeoJSON FeatureCollection (GCJ-02)")
    @document_errors(blp, 422)
    def get(self, args):
        """The city's district boundaries (the bundled file; conditional, cached by browsers for
        an hour), or with ``level=street`` its active street regions with their names and
        district (conditional, cached for five minutes), optionally of one ``district``."""
        if args["level"] == "street":
            return streets(args.get("district"))
        return boundaries()


def boundary_file() -> Path:
    """The configured city's boundary GeoJSON file (SHOP_BOUNDARY_CITY)."""
    return boundary_path(current_app.config["SHOP_BOUNDARY_CITY"])


def boundaries() -> Response:
    """The boundary file itself."""
    return send_file(boundary_file(), mimetype="application/geo+json", max_age=3600,
                     conditional=True)  # fmt: skip


def _ring(ring: Any) -> list[list[float]]:
    """A parsed ring ([lng, lat] rows, open) as a closed GeoJSON ring at 0.000001 degrees."""
    points = [[round(x, 6), round(y, 6)] for x, y in ring.tolist()]
    return [*points, points[0]]


def _in_district(found: regions.Snapshot, region: regions.RegionShape, code: str | None) -> bool:
    district = found.district_of(region)
    return code is None or (district is not None and district.code == code)


def _street_feature(found: regions.Snapshot, region: regions.RegionShape) -> dict[str, Any]:
    district = found.district_of(region)
    return {
        "type": "Feature",
        "properties": {"code": region.code, "name": region.name, "level": region.level,
                       "district": district.code if district else None,
                       "district_name": district.name if district else None},
        "geometry": {"type": "MultiPolygon",
                     "coordinates": [[_ring(r) for r in polygon]
                                     for polygon in region.shape.polygons]},
    }  # fmt: skip


def streets(district: str | None) -> Response:
    """The active street regions as GeoJSON, built once per regions snapshot (the view of an
    unknown district is not kept: it is empty and cheap)."""
    found = regions.snapshot()
    cache = current_app.extensions.setdefault("geo_streets", {})
    entry = cache.get(district)
    if entry is None or entry[0] is not found:
        chosen = [
            r for r in found.shapes if r.level == "street" and _in_district(found, r, district)
        ]
        body = json.dumps(
            {"type": "FeatureCollection", "coordinate_system": "gcj02",
             "features": [_street_feature(found, r) for r in chosen]},
            ensure_ascii=False, separators=(",", ":"),
        ).encode()  # fmt: skip
        entry = (found, body, hashlib.sha1(body, usedforsecurity=False).hexdigest())
        if district is None or any(r.code == district for r in found.shapes):
            cache[district] = entry
    resp = Response(entry[1], mimetype="application/geo+json")
    resp.set_etag(entry[2])
    resp.cache_control.max_age = STREETS_MAX_AGE
    return resp.make_conditional(request)


# ---------------------------------------------------------------- locate


def _number(args, name: str, label: str, bound: int, errors: dict[str, list[str]]) -> float:
    raw = args.get(name)
    try:
        value = float(raw) if raw else math.nan
    except ValueError:
        value = math.nan
    if not -bound <= value <= bound:  # also refuses nan
        errors[name] = [f"{label}应在 -{bound} 到 {bound} 之间" if raw else f"请提供{label}"]
    return value


def parse_locate(args) -> tuple[float, float, str]:
    """(lat, lng, system) from the query string; ValidationFailed (422) naming the fields."""
    errors: dict[str, list[str]] = {}
    lat = _number(args, "lat", "纬度", 90, errors)
    lng = _number(args, "lng", "经度", 180, errors)
    system = args.get("coord") or args.get("coord_sys") or "gcj02"
    for name in ("coord", "coord_sys"):
        if args.get(name) and args[name] not in SYSTEMS:
            errors[name] = ["只支持 wgs84、gcj02、bd09"]
    if errors:
        raise ValidationFailed("位置参数有误", fields=errors)
    return lat, lng, system


def region_ref(region: regions.RegionShape | None) -> dict[str, Any] | None:
    """A region as the locate answer names it: code, name and box (to zoom a map to it)."""
    if region is None:
        return None
    return {"code": region.code, "name": region.name,
            "bbox": [round(v, 6) for v in region.shape.bbox]}  # fmt: skip


def outside_message(found: regions.Snapshot) -> str:
    """What a citizen reads for a point outside the city, naming the city when it is known."""
    city = next((r.name for r in found.shapes if r.level == "city"), "本市")
    return f"该位置不在{city}范围内，请重新选择位置"


def locate_point(lat: float, lng: float, system: str = "gcj02") -> dict[str, Any]:
    """The locate answer for a point (the one rule of ``app.geo.regions``), with the point in
    GCJ-02 (the maps' system: a device's WGS-84 fix is drawn where it is)."""
    found = regions.snapshot()
    lat, lng = coords.to_canonical(lat, lng, system)
    point = {"lat": round(lat, 6), "lng": round(lng, 6)}
    try:
        where = found.where(lat, lng)
    except regions.OutsideCity:
        return {"inside": False, "message": outside_message(found), "point": point}
    return {"inside": True, "district": region_ref(where.district),
            "street": region_ref(where.street), "label": where.label, "point": point}  # fmt: skip


LOCATE_LIMIT = fast_limit(public_limit, scope="geo_locate")


@blp.route("/locate", endpoint="Locate")
@LOCATE_LIMIT
@document_only(
    blp.arguments(LocateArgs, location="query"),
    blp.response(200, LocateOut),
    document_errors(blp, 422, 429),
)
def locate():
    """Which district and street a point lies in (``inside: true`` with the label a form shows,
    "铁西区 · 兴华街道"), or that it lies outside the city (``inside: false`` with the message).
    Cheap: forms call it as the pin moves."""
    answer = locate_point(*parse_locate(request.args))
    return Response(json.dumps(answer, ensure_ascii=False, separators=(",", ":")),
                    mimetype="application/json")  # fmt: skip


def map_config() -> dict[str, Any]:
    """What a map widget needs from the shell: the tiles (if configured), the boundaries, the
    locate endpoint, the city centre and the active districts with their boxes (to zoom to the
    district a citizen names)."""
    found = regions.snapshot()
    districts = [{"code": r.code, "name": r.name, "bbox": [round(v, 6) for v in r.shape.bbox]}
                 for r in found.shapes if r.level == "district"]  # fmt: skip
    return {
        "tileUrl": current_app.config.get("MAP_TILE_URL") or "",
        "attribution": current_app.config.get("MAP_TILE_ATTRIBUTION") or "",
        "boundaries": url_for("geo.Boundaries"),
        "locate": url_for("geo.Locate"),
        # Without regions (a fresh install before the seed) maps open over 沈阳, as before.
        "centre": list(found.centre or (41.80, 123.43)),
        "districts": sorted(districts, key=lambda d: d["code"]),
    }


def init_app(app: Flask) -> None:
    """Register the API, and the address the heat-map page first used (clients that stored it
    keep working)."""
    api.register_blueprint(blp)
    app.add_url_rule("/api/v1/shops/heatmap/boundaries", "geo_legacy_boundaries", boundaries)
