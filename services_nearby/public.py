"""The public side of nearby services: ``GET /api/v1/nearby`` for the mini-program and the H5 pages
``/nearby`` (kinds) and ``/nearby/{kind}`` (the nearest of a kind, located by the browser).

The query is answered from the per-process index (index.py) without a database query, unless the
index has changes to read first. Arguments are read by hand (the hot path skips webargs); the
OpenAPI spec documents them through the same schema.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import Blueprint as PageBlueprint
from flask import Flask, Response, current_app, render_template, request
from flask_smorest import Blueprint
from marshmallow import validate

from app.apispec import document_errors, document_only
from app.errors import NotFound, ValidationFailed
from app.extensions import limiter
from app.geo import coords
from app.ratelimits import fast_limit, public_limit
from services_nearby import sync
from services_nearby.index import Freshness, Hit, Index
from services_nearby.service import kinds

api_blp = Blueprint(
    "nearby", __name__, url_prefix="/api/v1/nearby", description="附近便民设施（找公厕、好停车……）"
)
page_bp = PageBlueprint("nearby_pages", __name__, template_folder="templates")

SHANGHAI = ZoneInfo("Asia/Shanghai")
SYSTEMS = {s.value: s for s in coords.CoordSys}
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class NearbyArgs(ma.Schema):
    """Query string of GET /api/v1/nearby (documentation; the view parses by hand)."""

    kind = ma.fields.String(required=True, metadata={"description": "设施类型代码，如 toilet"})
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
    origin = ma.fields.Dict()
    at = ma.fields.String()
    items = ma.fields.List(ma.fields.Nested(NearbyItem))


class KindOut(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    title = ma.fields.String()


# ---------------------------------------------------------------- the index of this process


def get_index(app: Flask) -> tuple[Index, Freshness]:
    """This process's index and its freshness check (built on first use, or by :func:`warm`)."""
    state = app.extensions.get("nearby_index")
    if state is None:
        index = Index(sync.reader(Path(app.config["NEARBY_SEQ_FILE"])))
        state = app.extensions.setdefault(
            "nearby_index", (index, Freshness(index, app.config.get("NEARBY_SYNC_SECONDS", 1.0)))
        )
    return state


def warm(app: Flask) -> None:
    """Load the index now (gunicorn's master calls this, so workers share it after the fork)."""
    with app.app_context():
        get_index(app)[1].ensure()


def _kind_map(index: Index) -> dict[str, tuple[int, dict[str, str]]]:
    key = (id(index.kind_codes), index.applied)  # kind edits take a change number too
    cached = index.kind_view
    if cached is None or cached[0] != key:
        names = {k.code: {"code": k.code, "name": k.name, "title": k.title} for k in kinds()}
        view = {code: (kid, names.get(code, {"code": code}))
                for kid, code in index.kind_codes.items()}  # fmt: skip
        cached = index.kind_view = (key, view)
    return cached[1]


# ---------------------------------------------------------------- arguments


def _bad(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("参数有误：" + message, fields={field: [message]})


def _float(args, name: str, low: float, high: float, message: str) -> float | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise _bad(name, message) from None
    if not low <= value <= high:  # also refuses nan
        raise _bad(name, message)
    return value


def parse_args(args) -> dict[str, Any]:
    """The query string checked; ValidationFailed (422, field errors in Chinese) when bad."""
    cfg = current_app.config
    errors: dict[str, list[str]] = {}

    def check(name, fn):
        try:
            return fn()
        except ValidationFailed as exc:
            errors.update(exc.fields or {})
            return None

    out: dict[str, Any] = {"kind": (args.get("kind") or "").strip()}
    if not out["kind"]:
        errors["kind"] = ["请指定设施类型"]
    out["lat"] = check("lat", lambda: _float(args, "lat", -90, 90, "纬度应在 -90 到 90 之间"))
    out["lng"] = check("lng", lambda: _float(args, "lng", -180, 180, "经度应在 -180 到 180 之间"))
    for name, label in (("lat", "纬度"), ("lng", "经度")):
        if out[name] is None and name not in errors:
            errors[name] = [f"请提供{label}"]
    system = (args.get("coord_sys") or "gcj02").lower()
    if system not in SYSTEMS:
        errors["coord_sys"] = ["只支持 wgs84、gcj02、bd09"]
    out["coord_sys"] = system
    max_limit = cfg.get("NEARBY_MAX_LIMIT", 50)
    raw_limit = args.get("limit") or "10"
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= max_limit:
        errors["limit"] = [f"数量应为 1 到 {max_limit} 的整数"]
    else:
        out["limit"] = int(raw_limit)
    max_radius = cfg.get("NEARBY_MAX_RADIUS_M", 50_000)
    out["radius"] = check("radius", lambda: _float(
        args, "radius", 1, max_radius, f"半径应在 1 到 {max_radius} 米之间"))  # fmt: skip
    open_now = (args.get("open_now") or "").lower()
    if open_now not in TRUE | FALSE:
        errors["open_now"] = ["open_now 应为 true 或 false"]
    out["open_now"] = open_now in TRUE
    if errors:
        raise ValidationFailed("参数有误", fields=errors)
    return out


# ---------------------------------------------------------------- the answer


def now() -> datetime:
    """Local time in the city (the tests freeze it)."""
    return datetime.now(SHANGHAI)


def search(args: dict[str, Any]) -> tuple[dict[str, str], list[Hit], datetime]:
    """Run a parsed query: (kind, hits, time of the query)."""
    index, fresh = get_index(current_app._get_current_object())  # type: ignore[attr-defined]
    fresh.ensure()
    found = _kind_map(index).get(args["kind"])
    if found is None:
        raise NotFound("没有这种设施类型", code="unknown_kind")
    kind_id, kind = found
    system = SYSTEMS[args["coord_sys"]]
    lat, lng = coords.validate(args["lat"], args["lng"])
    if system != coords.CoordSys.WGS84:
        lat, lng = coords.convert(lat, lng, system, coords.CoordSys.WGS84)
    at = now()
    hits = index.nearest(kind_id, lat, lng, args["limit"], args["radius"], at, args["open_now"])
    return kind, hits, at


def _position(hit: Hit, system: coords.CoordSys) -> tuple[float, float]:
    if system == coords.CoordSys.WGS84:
        return hit.wgs_lat, hit.wgs_lng
    if system == coords.CoordSys.GCJ02:
        return hit.lat, hit.lng
    return coords.convert(hit.lat, hit.lng, coords.CoordSys.GCJ02, system)


_OPEN_JSON = {True: b"true", False: b"false", None: b"null"}


def body(args: dict[str, Any], kind: dict[str, str], hits: list[Hit], at: datetime) -> bytes:
    """The JSON answer, assembled from each facility's stored JSON."""
    system = SYSTEMS[args["coord_sys"]]
    items = []
    for hit in hits:
        lat, lng = _position(hit, system)
        items.append(b'{"distance_m":%.1f,"open_now":%s,"location":{"lat":%.7f,"lng":%.7f},%s' % (
            hit.distance_m, _OPEN_JSON[hit.open_now], lat, lng, hit.view[1:]))  # fmt: skip
    head = json.dumps({
        "kind": kind, "coord_sys": system.value,
        "origin": {"lat": args["lat"], "lng": args["lng"]},
        "at": at.isoformat(timespec="seconds"),
    }, ensure_ascii=False, separators=(",", ":")).encode()  # fmt: skip
    return head[:-1] + b',"items":[' + b",".join(items) + b"]}"


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
    its distance in metres and its position in the caller's coordinate system. 404 unknown_kind."""
    args = parse_args(request.args)
    kind, hits, at = search(args)
    return Response(body(args, kind, hits, at), mimetype="application/json")


@api_blp.route("/kinds", endpoint="NearbyKinds")
@api_blp.response(200, KindOut(many=True))
def nearby_kinds():
    """The kinds a citizen can look for, in display order."""
    return [{"code": k.code, "name": k.name, "title": k.title} for k in kinds()]


# ---------------------------------------------------------------- pages


@page_bp.get("/nearby")
@limiter.limit(public_limit)
def kinds_page():
    """Choose what to look for."""
    return render_template("nearby/kinds.html", kinds=kinds())


@page_bp.get("/nearby/<kind>")
@limiter.limit(public_limit)
def kind_page(kind: str):
    """The nearest of a kind. The browser locates the citizen (WGS-84) and asks the JSON API; with
    ``lat``/``lng`` in the address the list is rendered on the server too."""
    chosen = next((k for k in kinds() if k.code == kind), None)
    if chosen is None:
        return render_template("error.html", status=404, message="没有这种设施类型"), 404
    items, error = None, None
    if request.args.get("lat") and request.args.get("lng"):
        try:
            args = parse_args(request.args.to_dict() | {"kind": kind})
            _, hits, at = search(args)
            items = json.loads(body(args, {}, hits, at))["items"]
        except ValidationFailed as exc:
            error = exc.message
    return render_template("nearby/list.html", kind=chosen, items=items, error=error)
