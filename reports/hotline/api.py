"""The 12345 interfaces: the signed inbound order (the platform's call) and the staff list of
orders by reply deadline."""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError, OperationalError

from app.apispec import document_errors
from app.auth.current import staff_required
from app.db import commit
from app.errors import PayloadTooLarge, ValidationFailed, database_trouble
from app.extensions import db
from app.ratelimits import enforce
from reports.hotline import service, signing
from reports.hotline.schemas import HotlineListArgs, HotlineListOut, HotlineOrderIn, HotlineOrderOut

blp = Blueprint("hotline", __name__, url_prefix="/api/v1/hotline",
                description="12345热线工单接入（平台签名调用）")  # fmt: skip
staff_blp = Blueprint("staff_hotline", __name__, url_prefix="/api/v1/staff/hotline",
                      description="12345热线工单（工作人员）")  # fmt: skip

SIGNATURE_DOCS = [
    {"in": "header", "name": signing.PLATFORM_HEADER, "required": True,
     "schema": {"type": "string", "maxLength": 32},
     "description": "The platform's id (HOTLINE_PLATFORM_ID); another is 403 unknown_platform"},
    {"in": "header", "name": signing.TIMESTAMP_HEADER, "required": True,
     "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
     "description": "Unix seconds when signed; further than HOTLINE_MAX_SKEW_SECONDS from our "
                    "clock is 401 stale_timestamp"},
    {"in": "header", "name": signing.SIGNATURE_HEADER, "required": True,
     "schema": {"type": "string", "maxLength": 88},
     "description": "HMAC-SHA256 with the shared secret (HOTLINE_SECRET) over timestamp + "
                    "\"\\n\" + the raw body, as hex (64 digits) or base64; wrong or missing "
                    "is 401 bad_signature / signature_missing"},
]  # fmt: skip
BODY_DOC = {"required": True, "content": {"application/json": {"schema": HotlineOrderIn}}}
# A parallel retry of the same order meets the first one's unique keys (IntegrityError) or,
# on MariaDB, a deadlock on the day's number counter: it is tried again, then answered.
ATTEMPTS = 3


def _body() -> bytes:
    """The raw body, refused above HOTLINE_MAX_BODY_BYTES before it is read when declared."""
    cap = current_app.config["HOTLINE_MAX_BODY_BYTES"]
    too_large = PayloadTooLarge(f"工单内容过大（最多{cap // 1024}KB）", code="order_too_large")
    if (request.content_length or 0) > cap:
        raise too_large
    raw = request.get_data(cache=True)
    if len(raw) > cap:
        raise too_large
    return raw


def _parse(raw: bytes) -> tuple[dict[str, Any], Any]:
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if not isinstance(parsed, dict):
        raise ValidationFailed(fields={"_body": ["请求体应为 JSON 对象"]})
    try:
        return HotlineOrderIn().load(parsed), parsed
    except ma.ValidationError as err:
        raise ValidationFailed(fields=err.normalized_messages()) from None


def _receive(platform: str, data: dict[str, Any], parsed: Any):
    digest = signing.canonical_sha256(parsed)
    error: Exception | None = None
    for _attempt in range(ATTEMPTS):
        try:
            order, created = service.receive(platform, data, parsed)
            commit()
            return order, created
        except IntegrityError as exc:
            db.session.rollback()
            error = exc
        except OperationalError as exc:  # a deadlock or lock wait with the parallel retry
            db.session.rollback()
            if database_trouble(exc) != "database_busy":
                raise
            error = exc
        found = service.replay(platform, data["order_id"], digest)
        if found is not None:
            return found, False
    raise error


@blp.route("/orders")
class Orders(MethodView):
    @blp.doc(requestBody=BODY_DOC, parameters=SIGNATURE_DOCS, security=[])
    @blp.response(201, HotlineOrderOut)
    @blp.alt_response(
        200, schema=HotlineOrderOut, description="The same order again: the same case"
    )
    @document_errors(blp, 401, 403, 409, 413, 415, 422, 429, 503)
    def post(self):
        """Receive a work order of the 12345 platform, signed (see the headers). The same
        order id again answers the case it made (200), never a second one; the same id with
        another body is 409 order_id_reused. Every later step of the case is pushed back."""
        enforce(current_app.config["RATELIMIT_HOTLINE"], "hotline", request.remote_addr)
        raw = _body()
        platform = service.check_signature(request.headers, raw)
        data, parsed = _parse(raw)
        order, created = _receive(platform, data, parsed)
        report = order.report
        return {"order_id": order.order_id, "case_number": report.number,
                "state": report.state.value, "state_label": report.state.label,
                "created": created}, 201 if created else 200  # fmt: skip


@staff_blp.route("/orders")
class StaffOrders(MethodView):
    @staff_blp.arguments(HotlineListArgs, location="query")
    @staff_blp.response(200, HotlineListOut)
    @document_errors(staff_blp, 401, 403, 422)
    @staff_required()
    def get(self, args, staff):
        """12345 orders of the cases in this account's scope, by reply deadline (答复时限):
        not answered yet (open), due soon (near), overdue, or all."""
        items, total = service.staff_orders(staff, args["due"], args["page"], args["per_page"])
        return {"items": [service.order_view(o) for o in items], "total": total,
                "page": args["page"], "per_page": args["per_page"]}  # fmt: skip
