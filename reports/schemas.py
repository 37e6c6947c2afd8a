"""Report schemas: what comes in, and separate citizen and staff views of what goes out."""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from app.apispec import ID, NOT_BLANK, SPACE, bounded_date
from reports.models import Channel, ReportState

COORD_SYSTEMS = ("gcj02", "wgs84", "bd09")
# At least 5 characters once surrounding blanks are gone (reports.service.DESCRIPTION_MIN).
DESCRIPTION = rf"[^{SPACE}][\s\S]{{3,}}[^{SPACE}]"
STATES = tuple(s.value for s in ReportState)
CHANNELS = tuple(c.value for c in Channel)
PHONE = validate.Regexp(r"^[0-9+\-]{5,20}$")

# "Both coordinates or neither; an address if there is no point", as JSON Schema.
_NUMBER = {"type": "number"}
POINT_OR_ADDRESS = {
    "anyOf": [
        {"required": ["lat", "lng"], "properties": {"lat": _NUMBER, "lng": _NUMBER}},
        {
            "required": ["address"],
            "properties": {"address": {"type": "string", "pattern": NOT_BLANK}},
            "not": {
                "anyOf": [
                    {"required": ["lat"], "properties": {"lat": _NUMBER}},
                    {"required": ["lng"], "properties": {"lng": _NUMBER}},
                ]
            },
        },
    ]
}


class LocationMixin(ma.Schema):
    """A point with its coordinate system, or an address."""

    class Meta:
        json_schema = POINT_OR_ADDRESS

    lat = ma.fields.Float(validate=validate.Range(-90, 90), allow_none=True)
    lng = ma.fields.Float(validate=validate.Range(-180, 180), allow_none=True)
    coord_sys = ma.fields.String(load_default="gcj02", validate=validate.OneOf(COORD_SYSTEMS))
    address = ma.fields.String(validate=validate.Length(max=200), allow_none=True)

    @ma.validates_schema
    def point_or_address(self, data, **_kwargs):
        """Both coordinates or neither; an address if there is no point."""
        has_lat, has_lng = data.get("lat") is not None, data.get("lng") is not None
        if has_lat != has_lng:
            raise ma.ValidationError("纬度和经度需同时提供", "location")
        if not has_lat and not (data.get("address") or "").strip():
            raise ma.ValidationError("请提供位置（经纬度）或详细地址", "location")


ANSWERS = {
    "maxProperties": 10,
    "description": "Answers to the chosen category's follow-up questions (GET /api/v1/categories "
    "lists them): question key -> answer; a yes/no or choice answer is one of its options",
}
_ANSWER_KEY = ma.fields.String(validate=validate.Length(min=1, max=24))
_ANSWER = ma.fields.String(validate=validate.Length(max=100))


class AnswersText(ma.fields.Dict):
    """``answers`` in a multipart form: the same object, sent as JSON text in one field."""

    def __init__(self, **kwargs):
        super().__init__(keys=_ANSWER_KEY, values=_ANSWER, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ma.ValidationError("追问的回答格式不正确") from None
        return super()._deserialize(value, attr, data, **kwargs)


class ReportIn(LocationMixin):
    """A citizen's report (JSON with ids of uploaded photos, or multipart with the photos)."""

    description = ma.fields.String(required=True, validate=validate.Length(min=5, max=500),
                                   metadata={"pattern": DESCRIPTION})  # fmt: skip
    category = ma.fields.String(validate=validate.Length(max=16), allow_none=True)
    photos = ma.fields.List(ma.fields.String(validate=validate.Length(max=64)),
                            load_default=list, validate=validate.Length(max=9))  # fmt: skip
    shop_id = ma.fields.Integer(allow_none=True, validate=ID)
    answers = ma.fields.Dict(keys=_ANSWER_KEY, values=_ANSWER, allow_none=True,
                             validate=validate.Length(max=10), metadata=ANSWERS)  # fmt: skip


class StaffReportIn(ReportIn):
    """A report entered by staff: hotline calls (dispatchers) or patrols (inspectors)."""

    class Meta:  # a patrol finding comes with a photo
        json_schema = {"allOf": [POINT_OR_ADDRESS, {"anyOf": [
            {"properties": {"channel": {"enum": ["hotline"]}}},
            {"required": ["photos"], "properties": {"photos": {"minItems": 1}}}]}]}  # fmt: skip

    channel = ma.fields.String(required=True, validate=validate.OneOf(("hotline", "inspector")))
    contact_phone = ma.fields.String(validate=PHONE, allow_none=True)


class ReportForm(ReportIn):
    """ReportIn as multipart/form-data: the photos themselves (files, stored first), not upload
    ids. A form has no null (an empty field is left out, reports.api.load_body), so no field is
    nullable: "null" is text, not a number."""

    lat = ma.fields.Float(validate=validate.Range(-90, 90))
    lng = ma.fields.Float(validate=validate.Range(-180, 180))
    address = ma.fields.String(validate=validate.Length(max=200))
    category = ma.fields.String(validate=validate.Length(max=16))
    shop_id = ma.fields.Integer(validate=ID)
    answers = AnswersText(validate=validate.Length(max=10),
                          metadata=ANSWERS | {"type": "string", "format": "json"})  # fmt: skip
    # The files are read from request.files (reports.api.uploaded_photos), not by this schema.
    photos = ma.fields.List(Upload(), load_default=list, validate=validate.Length(max=9))


class StaffReportForm(ReportForm, StaffReportIn):
    """StaffReportIn as multipart/form-data, with the photos themselves (as ReportForm)."""

    contact_phone = ma.fields.String(validate=PHONE)


def submission_doc(json_schema: type[ma.Schema], form_schema: type[ma.Schema]) -> dict[str, Any]:
    """The documented request body of a report submission: JSON, or multipart with photos
    (``@blp.doc(requestBody=...)``); the schemas the view loads (reports.api.load_body with
    both), so the two cannot drift."""
    content = {"application/json": {"schema": json_schema},
               "multipart/form-data": {"schema": form_schema}}  # fmt: skip
    return {"required": True, "content": content}


class ClassifyIn(ma.Schema):
    """Text typed so far."""

    description = ma.fields.String(required=True, validate=validate.Length(min=2, max=500))


class RatingIn(ma.Schema):
    """回访: satisfaction after closing."""

    rating = ma.fields.Integer(required=True, validate=validate.Range(1, 5))
    comment = ma.fields.String(validate=validate.Length(max=500), allow_none=True)


class ExtensionIn(ma.Schema):
    """How much longer a department asks for."""

    amount = ma.fields.Integer(required=True, validate=validate.Range(1, 60))
    unit = ma.fields.String(required=True, validate=validate.OneOf(("hours", "days")))


class ActionIn(ma.Schema):
    """Parameters of a workflow action (which ones are needed depends on the action)."""

    note = ma.fields.String(validate=validate.Length(max=1000), allow_none=True)
    reason = ma.fields.String(validate=validate.Length(max=32), allow_none=True)
    department_id = ma.fields.Integer(allow_none=True, validate=ID)
    category = ma.fields.String(validate=validate.Length(max=16), allow_none=True)
    photos = ma.fields.List(ma.fields.String(), load_default=list,
                            validate=validate.Length(max=9))  # fmt: skip
    extension = ma.fields.Nested(ExtensionIn, allow_none=True)
    target = ma.fields.String(validate=validate.Length(max=20), allow_none=True)
    public_reply = ma.fields.String(
        validate=validate.Length(max=500), allow_none=True,
        metadata={"description": "处置反馈: the public reply the citizen reads (5-500 characters, "
                                 "required there); `note` stays internal"})  # fmt: skip
    version = ma.fields.Integer(allow_none=True, metadata={"description": "409 if stale"})


class ReopenIn(ma.Schema):
    """不满意，重新办理: why the citizen is not satisfied (5-300 characters)."""

    reason = ma.fields.String(required=True, validate=validate.Length(min=5, max=300),
                              metadata={"pattern": DESCRIPTION})  # fmt: skip


class CommentIn(ma.Schema):
    """补充说明 on an open case (2-400 characters)."""

    text = ma.fields.String(required=True, validate=validate.Length(min=2, max=400),
                            metadata={"pattern": rf"[^{SPACE}][\s\S]*[^{SPACE}]"})  # fmt: skip


class QueueArgs(ma.Schema):
    """Filters of a staff queue."""

    state = ma.fields.String(validate=validate.OneOf(STATES, error="未知的状态"))
    department_id = ma.fields.Integer(validate=ID)
    district = ma.fields.String(validate=validate.Length(max=32))
    category = ma.fields.String(validate=validate.Length(max=16))
    channel = ma.fields.String(validate=validate.OneOf(CHANNELS, error="未知的上报渠道"))
    overdue = ma.fields.Boolean()
    triage = ma.fields.Boolean(metadata={"description": "only cases waiting for a dispatcher"})
    q = ma.fields.String(validate=validate.Length(max=50))
    date_from = bounded_date(data_key="from")
    date_to = bounded_date(data_key="to")
    page = ma.fields.Integer(load_default=1, validate=validate.Range(1, 100000))
    per_page = ma.fields.Integer(load_default=20, validate=validate.Range(1, 100))


class PageArgs(ma.Schema):
    """Pagination and the coordinate system the caller wants points in."""

    page = ma.fields.Integer(load_default=1, validate=validate.Range(1, 100000))
    per_page = ma.fields.Integer(load_default=20, validate=validate.Range(1, 100))
    coord_sys = ma.fields.String(load_default="gcj02", validate=validate.OneOf(COORD_SYSTEMS))


class CoordArgs(ma.Schema):
    """The coordinate system the caller wants points in."""

    coord_sys = ma.fields.String(load_default="gcj02", validate=validate.OneOf(COORD_SYSTEMS))


class NamedRef(ma.Schema):
    """A category or department reference."""

    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()


class PhotoOut(ma.Schema):
    """A photo with a short-lived URL."""

    id = ma.fields.String()
    stage = ma.fields.String()
    url = ma.fields.String()


class TimelineOut(ma.Schema):
    """A step as the citizen sees it: no staff names."""

    action = ma.fields.String()
    state = ma.fields.String()
    state_label = ma.fields.String()
    text = ma.fields.String()
    department = ma.fields.String(allow_none=True)
    at = ma.fields.AwareDateTime()
    photos = ma.fields.List(ma.fields.Nested(PhotoOut))


class StaffTimelineOut(TimelineOut):
    """A step with who did it and the internal note."""

    actor = ma.fields.String()
    note = ma.fields.String(allow_none=True)
    public = ma.fields.Boolean()
    data = ma.fields.Dict(allow_none=True)


class SuggestionOut(ma.Schema):
    """A category proposed by the classifier."""

    code = ma.fields.String()
    name = ma.fields.String()
    full_name = ma.fields.String()
    confidence = ma.fields.Float()


class AnswerOut(ma.Schema):
    """A follow-up question as asked, and the citizen's answer."""

    key = ma.fields.String()
    label = ma.fields.String(metadata={"example": "井盖是否缺失或被移开，井口敞开？"})
    answer = ma.fields.String(metadata={"example": "是"})
    urgent = ma.fields.Boolean(metadata={"description": "this answer made the case urgent"})


class ReportOut(ma.Schema):
    """A report as its citizen sees it."""

    number = ma.fields.String()
    state = ma.fields.String()
    state_label = ma.fields.String()
    channel = ma.fields.String()
    description = ma.fields.String()
    address = ma.fields.String(allow_none=True)
    lat = ma.fields.Float(allow_none=True)
    lng = ma.fields.Float(allow_none=True)
    coord_sys = ma.fields.String()
    category = ma.fields.Nested(NamedRef, allow_none=True)
    department = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    closed_at = ma.fields.AwareDateTime(allow_none=True)
    photos = ma.fields.List(ma.fields.Nested(PhotoOut))
    timeline = ma.fields.List(ma.fields.Nested(TimelineOut))
    rating = ma.fields.Integer(allow_none=True)
    can_rate = ma.fields.Boolean()
    merged_into = ma.fields.String(allow_none=True)
    public_reply = ma.fields.String(allow_none=True, metadata={
        "description": "the department's latest public reply (公开答复), if any"})  # fmt: skip
    can_reopen = ma.fields.Boolean(metadata={"description": "不满意，重新办理 is open until"
                                                            " reopen_until"})  # fmt: skip
    reopen_until = ma.fields.AwareDateTime(allow_none=True)
    can_comment = ma.fields.Boolean(metadata={"description": "补充说明 may be added"})
    answers = ma.fields.List(ma.fields.Nested(AnswerOut), metadata={
        "description": "answers to the category's follow-up questions"})  # fmt: skip


class ReportListItem(ma.Schema):
    """One line of a citizen's list."""

    number = ma.fields.String()
    state = ma.fields.String()
    state_label = ma.fields.String()
    description = ma.fields.String()
    category = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()


class ReportListOut(ma.Schema):
    """A page of reports."""

    items = ma.fields.List(ma.fields.Nested(ReportListItem))
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()


class StaffReportOut(ReportOut):
    """A case as staff see it."""

    id = ma.fields.Integer()
    version = ma.fields.Integer()
    reporter = ma.fields.String(allow_none=True)
    contact_phone = ma.fields.String(allow_none=True)
    department_id = ma.fields.Integer(allow_none=True)
    district = ma.fields.String(allow_none=True)
    region = ma.fields.String(allow_none=True)
    suggested_category = ma.fields.Nested(NamedRef, allow_none=True)
    suggested_confidence = ma.fields.Float(allow_none=True)
    triage_reason = ma.fields.String(allow_none=True)
    triage_label = ma.fields.String(allow_none=True)
    possible_duplicate_of = ma.fields.String(allow_none=True)
    due_at = ma.fields.AwareDateTime(allow_none=True)
    overdue = ma.fields.Boolean()
    rework_count = ma.fields.Integer()
    extension_count = ma.fields.Integer()
    pending_extension = ma.fields.Dict(allow_none=True)
    reopen_count = ma.fields.Integer()
    return_count = ma.fields.Integer()
    attention = ma.fields.String(allow_none=True, metadata={
        "description": "returned, reopened or redispatched (flagged until acted on)"})  # fmt: skip
    attention_label = ma.fields.String(allow_none=True)
    attention_note = ma.fields.String(allow_none=True)
    urgent = ma.fields.Boolean(metadata={"description": "紧急: an answer said so"})
    suggested_department = ma.fields.Nested(NamedRef, allow_none=True, metadata={
        "description": "the unit responsible for the case's region and category"})  # fmt: skip
    allowed_actions = ma.fields.List(ma.fields.Dict())
    timeline = ma.fields.List(ma.fields.Nested(StaffTimelineOut))


class StaffQueueItem(ma.Schema):
    """One line of a staff queue."""

    number = ma.fields.String()
    state = ma.fields.String()
    state_label = ma.fields.String()
    channel = ma.fields.String()
    description = ma.fields.String()
    address = ma.fields.String(allow_none=True)
    category = ma.fields.String(allow_none=True)
    department = ma.fields.String(allow_none=True)
    district = ma.fields.String(allow_none=True)
    triage_reason = ma.fields.String(allow_none=True)
    attention = ma.fields.String(allow_none=True)
    attention_label = ma.fields.String(allow_none=True)
    attention_note = ma.fields.String(allow_none=True)
    urgent = ma.fields.Boolean()
    created_at = ma.fields.AwareDateTime()
    due_at = ma.fields.AwareDateTime(allow_none=True)
    overdue = ma.fields.Boolean()


class StaffQueueOut(ma.Schema):
    """A page of a staff queue."""

    items = ma.fields.List(ma.fields.Nested(StaffQueueItem))
    total = ma.fields.Integer(
        metadata={"description": "exact up to 10,000; 10001: more than 10,000 (counting stops)"}
    )
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
