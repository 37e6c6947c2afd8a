"""Marshmallow schemas of the consultation APIs: projects, phases and their questions (staff),
answers, comments and proposals (citizens), and the list, export and plate arguments."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import marshmallow as ma
from marshmallow import fields, validate

from app.apispec import AT_LEAST_ONE, ID, NOT_BLANK, bounded_datetime, together
from reports.consultations.models import (
    CommentKind,
    CommentStatus,
    PhaseKind,
    ProjectKind,
    ProjectStatus,
    QuestionKind,
)
from reports.consultations.questions import MAX_OPTIONS, MAX_QUESTIONS, TEXT_MAX

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
COORD_SYSTEMS = ("gcj02", "wgs84", "bd09")
KINDS = [k.value for k in ProjectKind]


def text(low: int, high: int, **kwargs) -> fields.String:
    """A text of ``low`` to ``high`` characters that is not only blanks."""
    return fields.String(
        validate=validate.Length(min=low, max=high), metadata={"pattern": NOT_BLANK}, **kwargs
    )


class PageArgs(ma.Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PublicListArgs(PageArgs):
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))


class StaffListArgs(PublicListArgs):
    status = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in ProjectStatus])
    )
    q = fields.String(
        load_default=None,
        validate=validate.Length(max=50),
        metadata={"description": "a part of the project's name"},
    )


def longitude() -> fields.Float:
    return fields.Float(validate=validate.Range(-180, 180))


def latitude() -> fields.Float:
    return fields.Float(validate=validate.Range(-90, 90))


class ConsultationPolygonIn(ma.Schema):
    """A GeoJSON Polygon: an outer ring of [lng, lat] positions (closed or not), then holes."""

    type = fields.String(required=True, validate=validate.Equal("Polygon"))
    coordinates = fields.List(
        fields.List(
            fields.Tuple((longitude(), latitude())), validate=validate.Length(min=3, max=500)
        ),
        required=True,
        validate=validate.Length(min=1, max=5),
    )


# The point: both coordinates or neither; a point or an area.
PLACE = {
    "allOf": [
        together("lat", "lng"),
        {
            "anyOf": [
                {"required": ["lat"]},
                {"required": ["area"], "properties": {"area": {"type": "object"}}},
            ]
        },
    ]
}


class ConsultationProjectIn(ma.Schema):
    """A new project. Its place: a point (where the plate stands) and/or an area (a polygon over
    the region map), in ``coord_sys``; stored in GCJ-02. It must lie in the city."""

    class Meta:
        json_schema = PLACE

    name = text(1, 100, required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    description = text(1, 2000, required=True)
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    lat = latitude()
    lng = longitude()
    coord_sys = fields.String(load_default="gcj02", validate=validate.OneOf(COORD_SYSTEMS))
    area = fields.Nested(ConsultationPolygonIn, load_default=None, allow_none=True)
    department_id = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=ID,
        metadata={"description": "the responsible unit; none: the account's own department"},
    )
    photos = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=9),
        metadata={"description": "ids of photos uploaded by staff (POST /api/v1/media), in order"},
    )

    @ma.validates_schema
    def place(self, data, **_kwargs):
        if ("lat" in data) != ("lng" in data):
            raise ma.ValidationError("纬度和经度需同时提供", "lat")
        if "lat" not in data and not data.get("area"):
            raise ma.ValidationError("请在地图上标注项目位置或范围", "lat")


class ConsultationProjectPatch(ConsultationProjectIn):
    class Meta:
        json_schema = {"allOf": [AT_LEAST_ONE, together("lat", "lng")]}

    name = text(1, 100)
    kind = fields.String(validate=validate.OneOf(KINDS))
    description = text(1, 2000)
    address = fields.String(allow_none=True, validate=validate.Length(max=200))
    area = fields.Nested(ConsultationPolygonIn, allow_none=True)
    department_id = fields.Integer(validate=ID)
    photos = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=9)
    )
    version = fields.Integer(
        validate=ID,
        metadata={
            "description": "the version read: 409 stale_version if the project changed since"
        },
    )

    @ma.validates_schema
    def place(self, data, **_kwargs):
        if not data:
            raise ma.ValidationError("请至少修改一项", "name")
        if ("lat" in data) != ("lng" in data):
            raise ma.ValidationError("纬度和经度需同时提供", "lat")


class ConsultationQuestionIn(ma.Schema):
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in QuestionKind]))
    title = text(1, 100, required=True)
    options = fields.List(
        text(1, 50),
        load_default=list,
        validate=validate.Length(max=MAX_OPTIONS),
        metadata={"description": "choices only: 2 or more, distinct"},
    )
    required = fields.Boolean(load_default=True)
    max_choices = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_OPTIONS),
        metadata={"description": "multiple choice: at most this many (not more than the options)"},
    )


class ConsultationPhaseIn(ma.Schema):
    """A phase: its dates (local time without an offset), the questions (frozen once someone
    answered), whether citizens may comment and propose."""

    title = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    intro = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    opens_at = bounded_datetime(required=True, default_timezone=LOCAL_TZ)
    closes_at = bounded_datetime(
        required=True, default_timezone=LOCAL_TZ, metadata={"description": "after opens_at"}
    )
    questions = fields.List(
        fields.Nested(ConsultationQuestionIn),
        load_default=list,
        validate=validate.Length(max=MAX_QUESTIONS),
    )
    allow_comments = fields.Boolean(load_default=True)
    allow_proposals = fields.Boolean(load_default=False)


class ConsultationResultIn(ma.Schema):
    text = text(1, 2000, required=True)


class ConsultationModerateIn(ma.Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class ModerationArgs(PageArgs):
    status = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in CommentStatus])
    )
    project_id = fields.Integer(load_default=None, validate=ID)


class ExportArgs(ma.Schema):
    format = fields.String(load_default="xlsx", validate=validate.OneOf(["csv", "xlsx"]))
    part = fields.String(
        load_default="summary",
        validate=validate.OneOf(["summary", "responses", "comments"]),
        metadata={
            "description": "CSV only (the XLSX has every part): the tallies, every "
            "answer, or the comments and proposals"
        },
    )


class PlateArgs(ma.Schema):
    format = fields.String(load_default="png", validate=validate.OneOf(["png", "svg", "pdf"]))
    phase = fields.String(
        load_default=None,
        validate=validate.OneOf([k.value for k in PhaseKind]),
        metadata={"description": "a phase's plate (its page); none: the project's"},
    )


ANSWERS_DOC = {
    "maxProperties": MAX_QUESTIONS,
    "description": "question key -> answer: a single choice is the option's index (from 0), a "
    "multiple choice a list of indexes, a rating 1-5, a text a string (up to "
    f"{TEXT_MAX} characters)",
}
ANSWER = fields.Raw(
    metadata={
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": MAX_OPTIONS},
            {
                "type": "array",
                "items": {"type": "integer", "minimum": 0, "maximum": MAX_OPTIONS},
                "maxItems": MAX_OPTIONS,
            },
            {"type": "string", "maxLength": TEXT_MAX},
        ]
    }
)


class ConsultationResponseIn(ma.Schema):
    answers = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=8)),
        values=ANSWER,
        required=True,
        validate=validate.Length(max=MAX_QUESTIONS),
        metadata=ANSWERS_DOC,
    )


class ConsultationCommentIn(ma.Schema):
    kind = fields.String(
        load_default=CommentKind.COMMENT.value,
        validate=validate.OneOf([k.value for k in CommentKind]),
        metadata={"description": "a comment, or a proposal (问计)"},
    )
    body = text(1, 500, required=True)


class CommentListArgs(ma.Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50))


PHASE_KINDS = [k.value for k in PhaseKind]
