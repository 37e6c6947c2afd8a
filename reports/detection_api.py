"""The detection algorithm catalogue as admins edit it (路长慧眼: 21 algorithms to start with).

Admin only; each write is audited. Algorithms are never deleted (detections keep pointing at
them): set is_active false, and devices posting that algorithm are refused (422).
"""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import validate

from app.apispec import document_errors
from app.auth.current import staff_required
from app.auth.models import Role
from app.db import commit
from reports import detection

blp = Blueprint(
    "detection_admin",
    __name__,
    url_prefix="/api/v1/admin/detection-algorithms",
    description="智能识别算法目录（管理员维护）",
)

admin_only = staff_required(Role.ADMIN)
CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="编码只能包含字母、数字、下划线和连字符")
MAX_COOLDOWN_SECONDS = 7 * 86400
MAX_COOLDOWN_RADIUS_M = 5000


class AlgorithmFields(ma.Schema):
    """What an admin may set on an algorithm."""

    name = ma.fields.String(validate=validate.Length(min=1, max=64))
    category = ma.fields.String(
        validate=validate.Length(min=1, max=16),
        metadata={"description": "Code of the category its detections become, e.g. SJ0102"},
    )
    threshold = ma.fields.Float(
        validate=validate.Range(0, 1),
        metadata={"description": "At or above: registered and dispatched without a dispatcher"},
    )
    cooldown_seconds = ma.fields.Integer(
        validate=validate.Range(0, MAX_COOLDOWN_SECONDS),
        metadata={"description": "0: no cool-down"},
    )
    cooldown_radius_m = ma.fields.Integer(validate=validate.Range(0, MAX_COOLDOWN_RADIUS_M))
    description = ma.fields.String(allow_none=True, validate=validate.Length(max=200))
    is_active = ma.fields.Boolean()


class AlgorithmCreateIn(AlgorithmFields):
    """A new algorithm: every field but the description and the active flag is required."""

    code = ma.fields.String(required=True, validate=CODE)
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    category = ma.fields.String(required=True, validate=validate.Length(min=1, max=16))
    threshold = ma.fields.Float(required=True, validate=validate.Range(0, 1))
    cooldown_seconds = ma.fields.Integer(
        required=True, validate=validate.Range(0, MAX_COOLDOWN_SECONDS)
    )
    cooldown_radius_m = ma.fields.Integer(
        required=True, validate=validate.Range(0, MAX_COOLDOWN_RADIUS_M)
    )


class AlgorithmOut(ma.Schema):
    """An algorithm of the catalogue."""

    code = ma.fields.String()
    name = ma.fields.String()
    category = ma.fields.String(attribute="category.code")
    category_name = ma.fields.String(attribute="category.name")
    threshold = ma.fields.Float()
    cooldown_seconds = ma.fields.Integer()
    cooldown_radius_m = ma.fields.Integer()
    description = ma.fields.String(allow_none=True)
    is_active = ma.fields.Boolean()
    updated_at = ma.fields.DateTime()


@blp.route("")
class Algorithms(MethodView):
    decorators = [admin_only]

    @blp.response(200, AlgorithmOut(many=True))
    @document_errors(blp, 401, 403)
    def get(self, staff):
        """Every algorithm, inactive ones included, by code."""
        return detection.list_algorithms()

    @blp.arguments(AlgorithmCreateIn)
    @blp.response(201, AlgorithmOut)
    @document_errors(blp, 401, 403, 409, 422)
    def post(self, body, staff):
        """Add an algorithm; 409 if its code exists, 422 if its category does not."""
        algorithm = detection.create_algorithm(body, staff)
        commit()
        return algorithm


@blp.route("/<code>")
class Algorithm(MethodView):
    decorators = [admin_only]

    @blp.arguments(AlgorithmFields)
    @blp.response(200, AlgorithmOut)
    @document_errors(blp, 401, 403, 404, 422)
    def patch(self, body, code, staff):
        """Change an algorithm's name, category, threshold, cool-down, description or active
        flag. The change applies to the detections posted after it."""
        algorithm = detection.update_algorithm(code, body, staff)
        commit()
        return algorithm
