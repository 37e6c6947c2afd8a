"""Staff API of 牛皮癣: inspectors record numbers from ad photos; enforcement staff notify,
mark 到案 / 已清理, close (销案) or escalate."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from app.apispec import document_errors
from app.auth.current import staff_required
from app.auth.models import Role
from app.db import commit
from app.extensions import db
from reports.api import IDEMPOTENCY_DOC, idempotency_key
from reports.littering.queries import page
from reports.smallads import phones, present, service
from reports.smallads.models import Advertiser
from reports.smallads.schemas import (
    AdCaptureIn,
    AdNoticeIn,
    AdOcrIn,
    AdvertiserActionIn,
    AdvertiserListArgs,
)

blp = Blueprint(
    "staff_smallads",
    __name__,
    url_prefix="/api/v1/staff/smallads",
    description="牛皮癣小广告：号码登记、到案通知与查处（工作人员）",
)

INSPECTORS = (Role.INSPECTOR,)
ENFORCERS = (Role.DISPATCHER, Role.HANDLER)
NOTIFIERS = (Role.DISPATCHER,)


@blp.route("/ocr")
class Ocr(MethodView):
    @staff_required(*INSPECTORS)
    @blp.arguments(AdOcrIn)
    @blp.response(200)
    @document_errors(blp, 401, 403, 422)
    def post(self, body, staff):
        """Numbers OCR reads on the inspector's uploaded photo, for them to confirm."""
        media = service.own_photo(staff, body["photo"])
        return {"suggestions": service.suggest_for(media)}


@blp.route("/captures")
class Captures(MethodView):
    @staff_required(*INSPECTORS)
    @blp.arguments(AdCaptureIn)
    @blp.response(201)
    @blp.doc(parameters=[IDEMPOTENCY_DOC])
    @document_errors(blp, 401, 403, 422)
    def post(self, body, staff):
        """Record a photo with its confirmed numbers (one advertiser per number, across photos).
        The same Idempotency-Key returns the first capture."""
        capture, created = service.record_capture(
            staff, service.CaptureIn(**body, idempotency_key=idempotency_key())
        )
        numbers = [
            e.advertiser.phone
            for e in db.session.scalars(
                select(service.AdEvidence).where(service.AdEvidence.capture_id == capture.id)
            )
        ]
        commit()
        return present.capture(capture, [phones.mask(n) for n in numbers]), 201 if created else 200


@blp.route("/advertisers")
class Advertisers(MethodView):
    @staff_required(*ENFORCERS)
    @blp.arguments(AdvertiserListArgs, location="query")
    @blp.response(200)
    @document_errors(blp, 401, 403, 422)
    def get(self, args, staff):
        """Advertisers with photos in the caller's scope; by state, or one exact number."""
        query = service.advertisers_in_scope(staff)
        if args["state"]:
            query = query.where(Advertiser.state == args["state"])
        if args["phone"]:
            query = query.where(Advertiser.phone == (phones.normalize(args["phone"]) or ""))
        rows, total = page(query.order_by(Advertiser.id.desc()), args)
        return {
            "items": [present.item(a, staff) for a in rows],
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
        }


@blp.route("/advertisers/<int:advertiser_id>")
class AdvertiserDetail(MethodView):
    @staff_required(*ENFORCERS)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404)
    def get(self, advertiser_id, staff):
        """An advertiser with its photos, SMS (with receipts), log and deadline."""
        return present.detail(service.advertiser_in_scope(staff, advertiser_id), staff)


@blp.route("/advertisers/<int:advertiser_id>/notice")
class Notice(MethodView):
    @staff_required(*NOTIFIERS)
    @blp.arguments(AdNoticeIn)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, _body, advertiser_id, staff):
        """Send the 到案通知 by SMS (deadline in working days). Sent once: asking again returns
        the same notice."""
        advertiser = service.advertiser_in_scope(staff, advertiser_id, lock=True)
        service.send_notice(advertiser, staff)
        commit()
        return present.detail(advertiser, staff)


MARKS = {
    "appear": "Record that the advertiser came in (到案); a repeated mark changes nothing.",
    "clean": "Record that the ads are cleaned (已清理); a repeated mark changes nothing.",
    "close": "Close the record (销案): needs 到案 and 已清理; closing again changes nothing.",
    "escalate": "Open an enforcement case (非法小广告, routed to the district's enforcement unit) "
    "with the photos (移交立案); once.",
}


def _mark_view(action: str) -> type[MethodView]:
    class Mark(MethodView):
        @staff_required(*ENFORCERS)
        @blp.arguments(AdvertiserActionIn)
        @blp.response(200)
        @document_errors(blp, 401, 403, 404, 409, 422)
        def post(self, body, advertiser_id, staff):
            advertiser = service.advertiser_in_scope(staff, advertiser_id, lock=True)
            service.mark(advertiser, action, staff, body["note"])
            commit()
            return present.detail(advertiser, staff)

    Mark.post.__doc__ = MARKS[action]
    Mark.__name__ = f"Mark{action.title()}"
    return Mark


for _action in MARKS:
    blp.route(f"/advertisers/<int:advertiser_id>/{_action}", endpoint=f"mark_{_action}")(
        _mark_view(_action)
    )
