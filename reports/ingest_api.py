"""Machine detections (cameras, patrol vehicles): an authenticated ingest endpoint.

A device posts a detection with a category, a confidence and an evidence image; confident ones
are routed like any report, the rest wait for a dispatcher. Devices authenticate with their own
key (`Authorization: Bearer dk_...`, created by `flask reports create-device`).
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

from app.apispec import NOT_BLANK, document_errors
from app.auth import keys
from app.db import utcnow
from app.errors import Unauthorized, ValidationFailed
from app.extensions import db
from app.media import service as media_service
from reports import reference, service
from reports.api import commit_submission, load_body
from reports.models import Channel, IngestDevice
from reports.schemas import LocationMixin

blp = Blueprint("ingest", __name__, url_prefix="/api/v1/ingest", description="智能识别接入")
KEY_PREFIX = "dk_"


def _has_text(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("不能为空白")


def not_blank(max_len: int, **kwargs: Any) -> ma.fields.String:
    """A text field of at most ``max_len`` characters that is not only blanks (422 naming it,
    before the evidence is stored); the spec says so with a pattern."""
    return ma.fields.String(
        validate=[validate.Length(min=1, max=max_len), _has_text],
        metadata={"pattern": NOT_BLANK},
        **kwargs,
    )


class DetectionIn(LocationMixin):
    """A detection: multipart with an `evidence` image."""

    category = not_blank(16, required=True)
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


def create_device(name: str) -> tuple[IngestDevice, str]:
    """Register a device; returns it and its key (shown once)."""
    key, key_hash = keys.issue(KEY_PREFIX)
    device = IngestDevice(name=name, key_hash=key_hash)
    db.session.add(device)
    db.session.flush()
    return device, key


def current_device() -> IngestDevice:
    """The device named by the bearer key; 401 otherwise."""
    digest = keys.presented(KEY_PREFIX, "设备密钥无效", "invalid_device_key")
    device = db.session.scalar(select(IngestDevice).where(IngestDevice.key_hash == digest))
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
    @blp.alt_response(200, schema=DetectionOut, description="A retry of the same event_id")
    @document_errors(blp, 401, 413, 415, 422, 503)
    def post(self):
        """Post a detection with its evidence image; event_id makes retries safe."""
        device = current_device()
        data = load_body(DetectionIn())
        owner_key = f"device:{device.id}"
        replay = service.find_by_idempotency_key(f"{owner_key}:{data['event_id']}")
        if replay is not None:
            return _out(replay), 200
        category = reference.category_by_code(data["category"])
        if category is None:
            raise ValidationFailed(fields={"category": [f"问题类别不存在：{data['category']}"]})
        media = media_service.store_upload(read_evidence(), None)
        sub = service.Submission(
            description=data.get("description") or f"智能识别：{category.name}（{device.name}）",
            channel=Channel.MACHINE, lat=data.get("lat"), lng=data.get("lng"),
            coord_sys=data["coord_sys"], address=data.get("address"),
            category_code=category.code, photo_ids=[media.public_id],
            idempotency_key=data["event_id"], machine_confidence=data["confidence"])  # fmt: skip
        report, created = commit_submission(sub, owner_key)
        return _out(report), 201 if created else 200


def read_evidence() -> bytes:
    """The evidence image's bytes (at most one past MEDIA_MAX_BYTES); 422 naming ``evidence``
    when the part is missing, has an empty file name (a form's "no file chosen") or is empty."""
    evidence = request.files.get("evidence")
    if evidence is None or not (evidence.filename or "").strip():
        raise ValidationFailed(fields={"evidence": ["请附上取证图片"]})
    limit = current_app.config["MEDIA_MAX_BYTES"]
    return media_service.require_content(evidence.read(limit + 1), "evidence")


def _out(report) -> dict:
    return {"number": report.number, "state": report.state.value,
            "triage_reason": report.triage_reason}  # fmt: skip
