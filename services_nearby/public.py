"""The public API of nearby services: ``GET /api/v1/nearby`` for the mini-program and the H5 pages
(``/api/v1/nearby/kinds`` lists the kinds).

The query is answered from the per-process index (nearest.py) without a database query, unless
the index has changes to read first. Arguments are read by hand (the hot path skips webargs and,
when nothing is escaped, werkzeug's query parsing); the OpenAPI spec documents them through the
same schema. The items of the answer are written in C from each facility's stored JSON (index.py).
"""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from flask import Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import validate

from app.apispec import NOT_BLANK, document_errors, document_only
from app.errors import ValidationFailed
from app.geo import coords
from app.ratelimits import fast_limit, public_limit
from services_nearby.nearest import Answer, Notice, search_nearby
from services_nearby.service import kinds

api_blp = Blueprint(
    "nearby", __name__, url_prefix="/api/v1/nearby", description="附近便民设施（找公厕、好停车……）"
)

SYSTEMS = {s.value: s for s in coords.CoordSys}
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class NearbyArgs(ma.Schema):
    """Query string of GET /api/v1/nearby (documentation; the view parses by hand)."""

    kind = ma.fields.String(required=True, validate=validate.Length(min=1), metadata={
        "description": "设施类型代码，如 toilet", "pattern": NOT_BLANK})  # fmt: skip
    lat = ma.fields.Float(required=True, validate=validate.Range(-90, 90))
    lng = ma.fields.Float(required=True, validate=validate.Range(-180, 180))
    coord_sys = ma.fields.String(
        load_default="gcj02", validate=validate.OneOf(list(SYSTEMS)),
        metadata={"description": "The caller's system; results come back in it too"},
    )  # fmt: skip
    limit = ma.fields.Integer(load_default=10, validate=validate.Range(1, 50))
    radius = ma.fields.Float(
        validate=validate.Range(1, 50_000), metadata={"description": "Metres (optional)"}
    )
    open_now = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Leave out facilities known to be closed (unknown hours stay)"},
    )


class NearbyItem(ma.Schema):
    """One facility: distance, position in the caller's system, open status, details."""

    id = ma.fields.Integer()
    distance_m = ma.fields.Float(metadata={"description": "Great-circle metres, 0.1 m"})
    location = ma.fields.Dict(metadata={"description": "lat/lng in the caller's coord_sys"})
    open_now = ma.fields.Boolean(allow_none=True, metadata={"description": "null: hours unknown"})
    kind = ma.fields.String()
    name = ma.fields.String()
    address = ma.fields.String()
    opening_hours = ma.fields.String()
    hours_label = ma.fields.String()
    fee = ma.fields.String()
    accessible = ma.fields.Boolean(allow_none=True)
    capacity = ma.fields.Integer(allow_none=True)
    free_spaces = ma.fields.Integer(allow_none=True)
    free_spaces_at = ma.fields.String(allow_none=True)
    nav_url = ma.fields.String(metadata={"description": "Amap navigation link (GCJ-02)"})


class NearbyOut(ma.Schema):
    kind = ma.fields.Dict()
    coord_sys = ma.fields.String()
    origin = ma.fields.Dict(
        metadata={"description": "The point the distances are measured from: the caller's, or "
                  "the city centre when from_centre (caller's system)"})  # fmt: skip
    at = ma.fields.String()
    far = ma.fields.Boolean(
        metadata={"description": "The nearest is farther than NEARBY_FAR_KM (default 50 km)"}
    )
    outside_city = ma.fields.Boolean(metadata={"description": "The point lies outside the city"})
    from_centre = ma.fields.Boolean(
        metadata={"description": "Outside the city with nothing near: searched from the city "
                  "centre instead"})  # fmt: skip
    message = ma.fields.String(
        allow_none=True, metadata={"description": "The notice to show above the list, if any"}
    )
    items = ma.fields.List(ma.fields.Nested(NearbyItem))


class KindOut(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    title = ma.fields.String()


# ---------------------------------------------------------------- arguments


def query_args():
    """``request.args``, read faster when nothing in the query string is escaped (the usual
    case), with the same result: the first value of each name."""
    raw = request.query_string
    if b"%" in raw or b"+" in raw:
        return request.args
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return request.args
    out: dict[str, str] = {}
    for part in text.split("&"):
        if part:
            name, _, value = part.partition("=")
            out.setdefault(name, value)
    return out


def _number(raw: str, low: float, high: float) -> float | None:
    """The number in ``raw`` if it lies in [low, high] (so not nan), else None."""
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if low <= value <= high else None


def parse_args(args) -> dict[str, Any]:
    """The query string checked; ValidationFailed (422, field errors in Chinese) when bad."""
    get = args.get
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {"kind": (get("kind") or "").strip()}
    if not out["kind"]:
        errors["kind"] = ["请指定设施类型"]
    for name, label, bound in (("lat", "纬度", 90), ("lng", "经度", 180)):
        raw = get(name)
        out[name] = value = _number(raw, -bound, bound) if raw else None
        if value is None:
            errors[name] = [f"{label}应在 -{bound} 到 {bound} 之间" if raw else f"请提供{label}"]
    out["coord_sys"] = system = (get("coord_sys") or "gcj02").lower()
    if system not in SYSTEMS:
        errors["coord_sys"] = ["只支持 wgs84、gcj02、bd09"]
    cfg = current_app.config
    max_limit = cfg.get("NEARBY_MAX_LIMIT", 50)
    raw = get("limit") or "10"
    out["limit"] = limit = int(raw) if raw.isascii() and raw.isdigit() else 0
    if not 1 <= limit <= max_limit:
        errors["limit"] = [f"数量应为 1 到 {max_limit} 的整数"]
    raw = get("radius")
    out["radius"] = None
    if raw:
        max_radius = cfg.get("NEARBY_MAX_RADIUS_M", 50_000)
        out["radius"] = _number(raw, 1, max_radius)
        if out["radius"] is None:
            errors["radius"] = [f"半径应在 1 到 {max_radius} 米之间"]
    open_now = (get("open_now") or "").lower()
    if open_now not in TRUE and open_now not in FALSE:
        errors["open_now"] = ["open_now 应为 true 或 false"]
    out["open_now"] = open_now in TRUE
    if errors:
        raise ValidationFailed("参数有误", fields=errors)
    return out


# ---------------------------------------------------------------- the answer


QUIET = b'"far":false,"outside_city":false,"from_centre":false,"message":null'


def notice_json(notice: Notice | None) -> bytes:
    """The answer's notice fields (written once for the usual answer: nothing to say)."""
    if notice is None:
        return QUIET
    return b'"far":%s,"outside_city":%s,"from_centre":%s,"message":%s' % (
        b"true" if notice.far else b"false", b"true" if notice.outside_city else b"false",
        b"true" if notice.from_centre else b"false",
        json.dumps(notice.message, ensure_ascii=False).encode())  # fmt: skip


def body(args: dict[str, Any], answer: Answer) -> bytes:
    """The JSON answer: the items come from each facility's stored JSON (:meth:`Found.json`)."""
    system = args["coord_sys"]
    lat, lng = answer.origin
    return b'{"kind":%s,"coord_sys":"%s","origin":{"lat":%r,"lng":%r},"at":"%s",%s,"items":%s}' % (
        answer.kind, system.encode(), lat, lng,
        answer.at.isoformat(timespec="seconds").encode(), notice_json(answer.notice),
        answer.found.json(SYSTEMS[system]))  # fmt: skip


def nearby_limit() -> str:
    return current_app.config.get("RATELIMIT_NEARBY") or public_limit()


NEARBY_LIMIT = fast_limit(nearby_limit, scope="nearby")


@api_blp.route("", endpoint="Nearby")
@NEARBY_LIMIT
@document_only(
    api_blp.arguments(NearbyArgs, location="query"),
    api_blp.response(200, NearbyOut),
    document_errors(api_blp, 404, 422, 429),
)
def nearby():
    """The nearest facilities of a kind, ordered by great-circle distance (ties by id), each with
    its distance in metres and its position in the caller's coordinate system. When the nearest
    is farther than NEARBY_FAR_KM or the point lies outside the city, ``message`` says so; from
    outside the city with nothing near, the list is the facilities nearest the city centre
    (``from_centre``, ``origin`` the centre). 404 unknown_kind."""
    args = parse_args(query_args())
    return Response(body(args, search_nearby(args)), mimetype="application/json")


@api_blp.route("/kinds", endpoint="NearbyKinds")
@api_blp.response(200, KindOut(many=True))
def nearby_kinds():
    """The kinds a citizen can look for, in display order."""
    return [{"code": k.code, "name": k.name, "title": k.title} for k in kinds()]
