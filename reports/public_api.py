"""Public case API (身边案件): open and recently closed cases near a point, anonymised, and
"我也遇到了" (follow a case instead of reporting it again)."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import validate
from sqlalchemy.exc import IntegrityError

from app.apispec import document_errors
from app.auth.current import citizen_required, current_citizen
from app.db import commit
from app.extensions import db
from app.geo import coords
from app.ratelimits import fast_limit, public_limit
from reports import follows
from reports.schemas import COORD_SYSTEMS

blp = Blueprint("reports_public", __name__, url_prefix="/api/v1/reports",
                description="身边案件：附近的问题与“我也遇到了”")  # fmt: skip


class NearbyCasesArgs(ma.Schema):
    """Query string of GET /api/v1/reports/nearby."""

    lat = ma.fields.Float(required=True, validate=validate.Range(-90, 90))
    lng = ma.fields.Float(required=True, validate=validate.Range(-180, 180))
    radius = ma.fields.Integer(
        load_default=follows.DEFAULT_RADIUS_M,
        validate=validate.Range(1, follows.MAX_RADIUS_M),
        metadata={"description": "Metres around the point"},
    )
    coord_sys = ma.fields.String(
        load_default="gcj02", validate=validate.OneOf(COORD_SYSTEMS),
        metadata={"description": "The system of lat/lng (a browser's position: wgs84); the "
                  "answer is always GCJ-02, the system of the maps"},
    )  # fmt: skip


class CaseOriginOut(ma.Schema):
    lat = ma.fields.Float(required=True)
    lng = ma.fields.Float(required=True)


class PublicCaseOut(ma.Schema):
    """A case as anyone may see it: never its description, address, reporter or notes."""

    number = ma.fields.String(required=True)
    category = ma.fields.String(required=True, metadata={"description": "待分类 if none yet"})
    state = ma.fields.String(
        required=True,
        validate=validate.OneOf([s.value for s in (*follows.PUBLIC_OPEN_STATES,
                                                   *follows.PUBLIC_CLOSED_STATES)]),
    )  # fmt: skip
    state_label = ma.fields.String(required=True)
    phase = ma.fields.String(required=True, validate=validate.OneOf(["open", "closed"]))
    phase_label = ma.fields.String(required=True, metadata={"description": "处理中 | 已办结"})
    created_on = ma.fields.Date(required=True, metadata={"description": "Day reported (local)"})
    distance_m = ma.fields.Integer(required=True)
    place = ma.fields.String(required=True, metadata={"description": "铁西区 · 兴华街道"})
    lat = ma.fields.Float(required=True)
    lng = ma.fields.Float(required=True)
    followers = ma.fields.Integer(required=True, metadata={"description": "我也遇到了 count"})
    following = ma.fields.Boolean(
        required=True, allow_none=True,
        metadata={"description": "Whether the signed-in citizen follows it; null when anonymous"},
    )  # fmt: skip
    own = ma.fields.Boolean(
        required=True, allow_none=True,
        metadata={"description": "Whether the signed-in citizen reported it (then it is theirs "
                  "to follow in 我的上报, not here); null when anonymous"},
    )  # fmt: skip
    photo_url = ma.fields.String(
        required=True, allow_none=True,
        metadata={"description": "Short-lived URL of one photo's public copy (faces and licence "
                  "plates blurred); null until that copy is made, a few seconds after the report"},
    )  # fmt: skip


class NearbyCasesOut(ma.Schema):
    origin = ma.fields.Nested(CaseOriginOut, required=True, metadata={"description": "GCJ-02"})
    radius = ma.fields.Integer(required=True)
    coord_sys = ma.fields.String(required=True, metadata={"description": "Always gcj02"})
    closed_days = ma.fields.Integer(
        required=True, metadata={"description": "Closed cases are shown this many days"}
    )
    items = ma.fields.List(ma.fields.Nested(PublicCaseOut), required=True)


class FollowCaseOut(ma.Schema):
    number = ma.fields.String(required=True)
    following = ma.fields.Boolean(required=True)
    followers = ma.fields.Integer(required=True)


@blp.route("/nearby")
class NearbyCases(MethodView):
    decorators = [fast_limit(public_limit, scope="reports_nearby")]

    @blp.arguments(NearbyCasesArgs, location="query")
    @blp.response(200, NearbyCasesOut)
    @document_errors(blp, 401, 422, 429)
    def get(self, args):
        """Open cases (上报 to 处置完成) and cases closed in the last PUBLIC_CLOSED_DAYS within
        ``radius`` metres (default 300, at most 2000), nearest first, at most 20; anonymised.
        Public; a signed-in citizen also learns which ones they follow."""
        lat, lng = coords.to_canonical(args["lat"], args["lng"], args["coord_sys"])
        items = follows.nearby(lat, lng, args["radius"], current_citizen())
        return {"origin": {"lat": round(lat, 6), "lng": round(lng, 6)}, "radius": args["radius"],
                "coord_sys": "gcj02", "items": items,
                "closed_days": int(current_app.config["PUBLIC_CLOSED_DAYS"])}  # fmt: skip


@blp.route("/<number>/follow")
class FollowCase(MethodView):
    @citizen_required  # outermost: a caller who may not follow hears so before anything else
    @blp.response(200, FollowCaseOut)
    @document_errors(blp, 401, 403, 404, 409)
    def post(self, number, citizen):
        """我也遇到了: follow a public case (open, or closed in the last PUBLIC_CLOSED_DAYS).
        Idempotent: following again, or many taps at once, leave one follow. Your own case (or
        one yours was merged into) is 409 ``own_report``."""
        report = follows.public_case(number)
        report_id = report.id
        try:
            follows.follow(report, citizen)
            commit()
        except IntegrityError:  # the same citizen's concurrent tap won: that is the answer
            db.session.rollback()
            if not follows.is_following(report_id, citizen.id):
                raise
        return follows.follow_state(report_id, number, citizen)

    @citizen_required  # outermost, as above
    @blp.response(200, FollowCaseOut)
    @document_errors(blp, 401, 403, 404)
    def delete(self, number, citizen):
        """Stop following a case (idempotent); also one that has left the public list since."""
        report = follows.followed_case(number, citizen)
        report_id = report.id
        follows.unfollow(report, citizen)
        commit()
        return follows.follow_state(report_id, number, citizen)
