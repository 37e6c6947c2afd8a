"""Machine detections (cameras, patrol vehicles): an authenticated ingest endpoint.

A device posts a detection with an algorithm code (the catalogue of ``reports.detection``), a
confidence and an evidence image. The algorithm decides the category, the confidence at or above
which the case is registered and dispatched at once (below it, it waits for a dispatcher), and
the cool-down: a detection by the same device and algorithm within the algorithm's radius and
seconds of the case an earlier one opened opens no case; it is kept as a repeat of that case and
answered 200 with that case's number and ``repeat: true``.

Older clients send ``category`` (a category code) instead of ``algorithm``: such a detection is
routed with REPORT_MACHINE_THRESHOLD and has no cool-down. When both are sent, ``algorithm``
decides and ``category`` is ignored. Devices authenticate with their own key
(`Authorization: Bearer dk_...`, created by `flask reports create-device`).

Detections of one device are judged one at a time: ``current_device`` locks the device's row
(the first statement of the request's transaction; SQLite takes its write lock at BEGIN), so
parallel posts of one problem open one case and the rest become its repeats.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import validate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.apispec import NOT_BLANK, document_errors
from app.auth import keys
from app.db import commit, utcnow
from app.errors import Unauthorized, ValidationFailed
from app.extensions import db
from app.media import service as media_service
from reports import detection, reference, service
from reports.api import commit_submission, load_body
from reports.models import Channel, IngestDevice, Report
from reports.schemas import LocationMixin

blp = Blueprint("ingest", __name__, url_prefix="/api/v1/ingest", description="智能识别接入")
KEY_PREFIX = "dk_"


def _has_text(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("不能为空白")


def not_blank(max_len: int, description: str | None = None, **kwargs: Any) -> ma.fields.String:
    """A text field of at most ``max_len`` characters that is not only blanks (422 naming it,
    before the evidence is stored); the spec says so with a pattern."""
    metadata = {"pattern": NOT_BLANK} | ({"description": description} if description else {})
    return ma.fields.String(
        validate=[validate.Length(min=1, max=max_len), _has_text],
        metadata=metadata,
        **kwargs,
    )


class DetectionIn(LocationMixin):
    """A detection: multipart with an `evidence` image. Send `algorithm` (a catalogue code);
    `category` is accepted from older clients and ignored when `algorithm` is sent."""

    algorithm = not_blank(32, "Algorithm code of the catalogue, e.g. ALG07")
    category = not_blank(16, "Deprecated: a category code, for clients sending no algorithm")
    confidence = ma.fields.Float(required=True, validate=validate.Range(0, 1))
    event_id = not_blank(64, required=True)
    description = not_blank(500, allow_none=True)


class DetectionForm(DetectionIn):
    """The documented multipart body: the fields and the evidence image (read by the view)."""

    evidence = Upload(required=True)


class DetectionOut(ma.Schema):
    """What happened to the detection."""

    number = ma.fields.String()
    state = ma.fields.String()
    triage_reason = ma.fields.String(allow_none=True)
    repeat = ma.fields.Boolean(
        metadata={
            "description": "Present (true) only for a repeat within the cool-down of the "
            "case named: no new case was opened"
        }
    )
    repeats = ma.fields.Integer(
        metadata={"description": "Which repeat of the case this detection is (1 for the first)"}
    )
    message = ma.fields.String(allow_none=True)


def create_device(name: str) -> tuple[IngestDevice, str]:
    """Register a device; returns it and its key (shown once)."""
    key, key_hash = keys.issue(KEY_PREFIX)
    device = IngestDevice(name=name, key_hash=key_hash)
    db.session.add(device)
    db.session.flush()
    return device, key


def current_device() -> IngestDevice:
    """The device named by the bearer key, its row locked until the request commits (its
    detections are judged one at a time); 401 otherwise. On MariaDB this locking read is the
    transaction's first statement, so the reads after it see what an earlier request of this
    device committed while this one waited."""
    digest = keys.presented(KEY_PREFIX, "设备密钥无效", "invalid_device_key")
    device = db.session.scalar(
        select(IngestDevice).where(IngestDevice.key_hash == digest).with_for_update()
    )
    if device is None or not device.is_active or not keys.matches(device.key_hash, digest):
        raise Unauthorized("设备密钥无效", code="invalid_device_key")
    device.last_seen_at = utcnow()
    return device


@blp.route("/detections")
class Detections(MethodView):
    @blp.doc(
        requestBody={
            "required": True,
            "content": {"multipart/form-data": {"schema": DetectionForm}},
        }
    )
    @blp.response(201, DetectionOut)
    @blp.alt_response(200, schema=DetectionOut,
                      description="A retry of the same event_id, or a repeat within the "
                                  "algorithm's cool-down (repeat: true): no new case")  # fmt: skip
    @document_errors(blp, 401, 413, 415, 422, 503)
    def post(self):
        """Post a detection with its evidence image; event_id makes retries safe. A repeat
        within the algorithm's cool-down answers 200 with the earlier case (repeat: true)."""
        device = current_device()
        data = load_body(DetectionIn())
        owner_key = f"device:{device.id}"
        replay = _replay(device, data["event_id"], owner_key)
        if replay is not None:
            return replay, 200
        algorithm, category = _algorithm_and_category(data)
        sub = service.Submission(
            description=data.get("description") or _description(algorithm, category, device),
            channel=Channel.MACHINE, lat=data.get("lat"), lng=data.get("lng"),
            coord_sys=data["coord_sys"], address=data.get("address"),
            category_code=category.code, idempotency_key=data["event_id"],
            machine_confidence=data["confidence"],
            machine_threshold=algorithm.threshold if algorithm else None)  # fmt: skip
        if algorithm is None:
            sub.photo_ids = [media_service.store_upload(read_evidence(), None).public_id]
            report, created = commit_submission(sub, owner_key)
            return _out(report), 201 if created else 200
        lat, lng = service.canonical_point(sub)
        origin = detection.cooling_origin(device, algorithm, lat, lng)
        if origin is not None:
            read_evidence()  # checked as for a new case, not stored: the case has its evidence
            return _repeat(device, algorithm, origin.report, data, lat, lng, owner_key)
        sub.photo_ids = [media_service.store_upload(read_evidence(), None).public_id]
        try:
            report, created = service.submit_report(sub, owner_key=owner_key)
            if created:
                detection.record_event(device, algorithm, report, data["event_id"],
                                       data["confidence"], lat, lng, repeat=False)  # fmt: skip
            commit()
        except IntegrityError:  # the same event_id, posted twice at once: the first one answers
            db.session.rollback()
            replay = _replay(device, data["event_id"], owner_key)
            if replay is None:
                raise
            return replay, 200
        return _out(report), 201 if created else 200


def _algorithm_and_category(data: dict):
    """(algorithm or None, category) the detection names; 422 naming the field otherwise."""
    if data.get("algorithm"):
        algorithm = detection.algorithm_by_code(data["algorithm"])
        if algorithm is None:
            raise ValidationFailed(
                fields={"algorithm": [f"识别算法不存在或已停用：{data['algorithm']}"]}
            )
        return algorithm, algorithm.category
    if not data.get("category"):
        raise ValidationFailed(fields={"algorithm": ["请填写识别算法编码"]})
    category = reference.category_by_code(data["category"])
    if category is None:
        raise ValidationFailed(fields={"category": [f"问题类别不存在：{data['category']}"]})
    return None, category


def _description(algorithm, category, device: IngestDevice) -> str:
    """The case's text when the device sends none: what was detected, by which device."""
    what = algorithm.name if algorithm is not None else category.name
    return f"智能识别：{what}（{device.name}）"


def _replay(device: IngestDevice, event_id: str, owner_key: str) -> dict | None:
    """The answer already given to this event_id (a retry), or None."""
    event = detection.event_by_id(device, event_id)
    if event is not None:
        return _out(event.report, repeat=event if event.is_repeat else None)
    report = service.find_by_idempotency_key(f"{owner_key}:{event_id}")
    return _out(report) if report is not None else None


def _repeat(device, algorithm, report: Report, data: dict, lat, lng, owner_key: str):
    """Keep the detection as a repeat of ``report`` and answer with that case (200)."""
    try:
        event = detection.record_event(device, algorithm, report, data["event_id"],
                                       data["confidence"], lat, lng, repeat=True)  # fmt: skip
        commit()
    except IntegrityError:  # the same event_id, posted twice at once: the first one answers
        db.session.rollback()
        replay = _replay(device, data["event_id"], owner_key)
        if replay is None:
            raise
        return replay, 200
    return _out(report, repeat=event), 200


def read_evidence() -> bytes:
    """The evidence image's bytes (at most one past MEDIA_MAX_BYTES); 422 naming ``evidence``
    when the part is missing, has an empty file name (a form's "no file chosen") or is empty."""
    evidence = request.files.get("evidence")
    if evidence is None or not (evidence.filename or "").strip():
        raise ValidationFailed(fields={"evidence": ["请附上取证图片"]})
    limit = current_app.config["MEDIA_MAX_BYTES"]
    return media_service.require_content(evidence.read(limit + 1), "evidence")


def _out(report: Report, *, repeat: detection.DetectionEvent | None = None) -> dict:
    """The answer: the case; for a repeat also ``repeat: true``, which repeat it was (the same
    number on a retry, whatever came after it) and a message."""
    out = {"number": report.number, "state": report.state.value,
           "triage_reason": report.triage_reason}  # fmt: skip
    if repeat is not None:
        ordinal = detection.repeat_ordinal(repeat)
        out |= {"repeat": True, "repeats": ordinal}
        out["message"] = (
            f"冷却期内的重复识别，已记入案件{report.number}（第{ordinal}次重复），未新立案件"
        )
    return out
