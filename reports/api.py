"""Citizen API: submit a report, follow it, rate it; category list and suggestions."""

from __future__ import annotations

import hashlib
from typing import Any

import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from app.apispec import document_errors
from app.auth.current import citizen_required, current_citizen
from app.auth.models import WechatApp
from app.db import commit
from app.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from app.extensions import db, limiter
from app.media import service as media_service
from app.ratelimits import public_limit, report_limit
from reports import classifier, present, queries, reference, service, transitions
from reports.models import Channel, Report
from reports.schemas import (
    ClassifyIn,
    CommentIn,
    CoordArgs,
    PageArgs,
    RatingIn,
    ReopenIn,
    ReportForm,
    ReportIn,
    ReportListOut,
    ReportOut,
    SuggestionOut,
    submission_doc,
)

blp = Blueprint("reports", __name__, url_prefix="/api/v1/reports", description="市民问题上报")

IDEMPOTENCY_DOC = {
    "in": "header",
    "name": "Idempotency-Key",
    "schema": {"type": "string", "maxLength": 64, "pattern": "^[\\x20-\\x7e]*$"},
    "description": "Retries with the same key return the first report (200), never a second one.",
}
REPORT_IDEMPOTENCY_DOC = IDEMPOTENCY_DOC | {
    "description": "A retry with the same key and the same content returns the first report "
    "(200), never a second one; the same key with other content is 422 idempotency_key_reused.",
}
BODY_DOC = submission_doc(ReportIn, ReportForm)


def citizen_key() -> str:
    """Rate-limit key: the signed-in citizen, else the client address."""
    user = current_citizen()
    return f"user:{user.id}" if user else f"ip:{request.remote_addr}"


def load_body(schema: ma.Schema, form_schema: ma.Schema | None = None) -> dict[str, Any]:
    """JSON through ``schema``, or form fields through ``form_schema`` (default: the same);
    422 with field errors."""
    if request.mimetype == "multipart/form-data":
        # A part without a name (werkzeug's key None) names no field, and an empty one has no
        # value (a form has no null): both are left out. Photos are files, read by the view.
        raw: dict[str, Any] = {k: v for k, v in request.form.items() if k and v != ""}
        raw.pop("photos", None)
        schema = form_schema or schema
    else:
        raw = request.get_json(silent=True)
        if not isinstance(raw, dict):
            raise ValidationFailed(fields={"_body": ["请求体应为 JSON 对象"]})
    try:
        return schema.load(raw)
    except ma.ValidationError as err:
        raise ValidationFailed(fields=err.normalized_messages()) from None


def idempotency_key() -> str | None:
    """The Idempotency-Key header, validated."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return None
    if len(key) > 64 or not key.isascii() or not key.isprintable():
        raise ValidationFailed(fields={"Idempotency-Key": ["最多64个可见ASCII字符"]})
    return key


def uploaded_photos() -> list[FileStorage]:
    """Photos sent in the same multipart request (field ``photos``), not yet read: at most
    MAX_PHOTOS."""
    files = request.files.getlist("photos")
    if len(files) > service.MAX_PHOTOS:
        raise ValidationFailed(fields={"photos": [f"最多{service.MAX_PHOTOS}张照片"]})
    return files


def read_photo(item: FileStorage) -> bytes:
    """An uploaded photo's bytes (from the start, however often it is read): 422 if it is
    empty, 413 past MEDIA_MAX_BYTES. One photo is held in memory at a time."""
    limit = current_app.config["MEDIA_MAX_BYTES"]
    item.stream.seek(0)
    data = media_service.require_content(item.read(limit + 1), "photos")
    if len(data) > limit:
        raise PayloadTooLarge("照片过大", code="image_too_large")
    return data


def submit_with_uploads(sub: service.Submission, owner_key: str, **who) -> tuple[Report, int]:
    """The multipart-or-JSON submission of a person (citizen or staff): a retry of the same
    content returns the first report (200) before any photo is stored again, the same key with
    other content is 422, else the photos sent along are stored and the report is created (201).
    ``who``: ``citizen=`` or ``staff=``, who also owns the photos."""
    files = uploaded_photos()
    if sub.idempotency_key:
        digests = [hashlib.sha256(read_photo(item)).hexdigest() for item in files]
        sub.fingerprint = service.fingerprint(sub, digests)
        replay = service.find_replay(sub, owner_key)
        if replay is not None:
            return replay, 200
    service.check_in_city(sub)  # a point outside the city: 422 before any photo is stored
    owner = who.get("citizen") or who.get("staff")
    try:
        stored = [media_service.store_upload(read_photo(item), owner).public_id for item in files]
    except ValidationFailed as exc:  # a picture that cannot be decoded: name the field sent
        if exc.fields and "file" in exc.fields:
            exc.fields = {"photos": exc.fields.pop("file"), **exc.fields}
        raise
    sub.photo_ids = [*sub.photo_ids, *stored]
    report, created = commit_submission(sub, owner_key, **who)
    return report, 201 if created else 200


def _channel(citizen) -> Channel:
    """Bearer tokens come from the mini-program; cookie sessions from public-account pages."""
    if request.headers.get("Authorization"):
        return Channel.MINIPROGRAM
    return Channel.MP_H5 if any(i.app_kind == WechatApp.MP for i in citizen.identities) \
        else Channel.MINIPROGRAM  # fmt: skip


@blp.route("")
class Reports(MethodView):
    decorators = [limiter.limit(report_limit, key_func=citizen_key, methods=["POST"])]

    @blp.doc(requestBody=BODY_DOC, parameters=[REPORT_IDEMPOTENCY_DOC])
    @blp.response(201, ReportOut)
    @blp.alt_response(200, schema=ReportOut, description="A retry: the report this key created")
    @document_errors(blp, 401, 413, 415, 422, 429, 503)
    @citizen_required
    def post(self, citizen):
        """Report a problem with 1-9 photos and a point (gcj02, wgs84 or bd09) or an address;
        a point outside the city is 422 ``outside_city`` (field ``lat``) and nothing is stored."""
        data = load_body(ReportIn(), ReportForm())
        sub = service.Submission(
            description=data["description"], channel=_channel(citizen), lat=data.get("lat"),
            lng=data.get("lng"), coord_sys=data["coord_sys"], address=data.get("address"),
            category_code=data.get("category"), photo_ids=data["photos"],
            shop_id=data.get("shop_id"), idempotency_key=idempotency_key(),
            answers=data.get("answers"))  # fmt: skip
        report, status = submit_with_uploads(sub, f"user:{citizen.id}", citizen=citizen)
        return present.citizen_view(report, data["coord_sys"]), status

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ReportListOut)
    @document_errors(blp, 401, 422)
    @citizen_required
    def get(self, args, citizen):
        """My reports, newest first."""
        items, total = queries.citizen_reports(citizen, args["page"], args["per_page"])
        return {"items": [present.list_item(r) for r in items], "total": total,
                "page": args["page"], "per_page": args["per_page"]}  # fmt: skip


def commit_submission(sub: service.Submission, owner_key: str, **who) -> tuple[Report, bool]:
    """Submit and commit once; a concurrent retry with the same key returns the first report.
    Used by every channel's view: (report, created)."""
    try:
        report, created = service.submit_report(sub, owner_key=owner_key, **who)
        commit(keep_loaded=created)  # the answer shows what was just written
    except IntegrityError:
        db.session.rollback()
        report = service.find_replay(sub, owner_key)  # 422 if that request sent other content
        if report is None:
            raise
        created = False
    return report, created


@blp.route("/<number>")
class ReportDetail(MethodView):
    @blp.arguments(CoordArgs, location="query")
    @blp.response(200, ReportOut)
    @document_errors(blp, 401, 404)
    @citizen_required
    def get(self, args, number, citizen):
        """One of my reports with its timeline; a merged report names the surviving case, which
        its reporter may open too (without the other reporter's words or photos)."""
        report, own = queries.citizen_report(citizen, number)
        return present.citizen_view(report, args["coord_sys"], own=own)


@blp.route("/<number>/rating")
class ReportRating(MethodView):
    @citizen_required  # outermost: a caller who may not rate hears so before the body is read
    @blp.arguments(RatingIn)
    @blp.response(200, ReportOut)
    @document_errors(blp, 401, 404, 409, 422)
    def post(self, body, number, citizen):
        """Rate how the problem was handled (回访), once, after it was closed."""
        report, own = queries.citizen_report(citizen, number)
        if not own:
            raise NotFound("未找到该问题", code="report_not_found")
        service.rate_report(report, citizen, body["rating"], body.get("comment"))
        commit()
        return present.citizen_view(report)


def own_report(citizen, number: str) -> Report:
    """One of the citizen's own reports (a case they follow through a merge is not theirs to
    reopen or add to): 404 otherwise."""
    report, own = queries.citizen_report(citizen, number)
    if not own:
        raise NotFound("未找到该问题", code="report_not_found")
    return report


@blp.route("/<number>/reopen")
class ReportReopen(MethodView):
    @citizen_required  # outermost: a caller who may not reopen hears so before the body is read
    @blp.arguments(ReopenIn)
    @blp.response(200, ReportOut)
    @document_errors(blp, 401, 404, 409, 422)
    def post(self, body, number, citizen):
        """不满意，重新办理: a closed case goes back to the dispatcher, within REOPEN_DAYS of
        closing, once at a time (409 already_reopened, not_closed or reopen_window_passed)."""
        report = own_report(citizen, number)
        transitions.reopen(report, citizen, body["reason"])
        commit()
        return present.citizen_view(report)


@blp.route("/<number>/comments")
class ReportComments(MethodView):
    @citizen_required  # outermost, as above
    @blp.arguments(CommentIn)
    @blp.response(200, ReportOut)
    @document_errors(blp, 401, 404, 409, 422)
    def post(self, body, number, citizen):
        """补充说明 on an open case, shown to the staff handling it; the same words sent again
        (a retry) are the comment already made (409 not_open once the case is finished)."""
        report = own_report(citizen, number)
        try:
            transitions.comment(report, citizen, body["text"])
        except Conflict as exc:
            if exc.code != "stale_version":
                raise
            # Another write to the case came first: if it was this very comment (a double tap),
            # that is the answer; else the comment is added now or a 409 says to try again.
            report = own_report(citizen, number)
            transitions.comment(report, citizen, body["text"])
        commit()
        return present.citizen_view(report)


def suggestions(description: str) -> list[dict[str, Any]]:
    """Category suggestions for the text typed so far (best first, with confidence)."""
    out = []
    for s in classifier.get_model(current_app).predict(description, k=3):
        category = reference.category_by_code(s.code)
        if category is not None:
            out.append({"code": s.code, "name": category.name, "full_name": category.full_name,
                        "confidence": s.confidence})  # fmt: skip
    return out


# A fixed segment: werkzeug tries it before ``/<number>`` for any method it allows, so GET is
# here too (without it, GET /classify fell through to ReportDetail and asked for a login).
@blp.route("/classify")
class Classify(MethodView):
    decorators = [limiter.limit(public_limit)]

    @blp.arguments(ClassifyIn, location="query")
    @blp.response(200, SuggestionOut(many=True))
    @document_errors(blp, 422, 429)
    def get(self, args):
        """Category suggestions for ``?description=`` (best first, with confidence)."""
        return suggestions(args["description"])

    @blp.arguments(ClassifyIn)
    @blp.response(200, SuggestionOut(many=True))
    @document_errors(blp, 422, 429)
    def post(self, body):
        """Category suggestions for the text typed so far (best first, with confidence)."""
        return suggestions(body["description"])
