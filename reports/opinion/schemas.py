"""Marshmallow schemas of the public-opinion APIs: the observers' queue, the sources, the keyword
lists and the counts."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import marshmallow as ma
from marshmallow import fields, validate

from app.apispec import NOT_BLANK, SPACE, bounded_datetime
from reports.opinion.models import ItemState, Satisfaction, SourceKind
from reports.schemas import DESCRIPTION, LocationMixin

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MONTH = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"
# tag, .class, tag.class or #id, optionally @attribute (see reports.opinion.parse).
SELECTOR = r"^(([a-zA-Z][a-zA-Z0-9]*)?([.#][A-Za-z0-9_-]+)?)(@[A-Za-z0-9_-]+)?$"
_ONE = r"([a-zA-Z][a-zA-Z0-9]*|[.#][A-Za-z0-9_-]+|[a-zA-Z][a-zA-Z0-9]*[.#][A-Za-z0-9_-]+)"
NEEDS_SELECTOR = rf"^{_ONE}$"
TITLE = rf"^{_ONE}(@[A-Za-z0-9_-]+)?$"
URL = rf"^https?://[^{SPACE}/?#]+[^{SPACE}]*$"  # no whitespace as Python and JS see it


class OpinionPageArgs(ma.Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class OpinionItemListArgs(OpinionPageArgs):
    state = fields.String(load_default=None, validate=validate.OneOf([s.value for s in ItemState]))
    source_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    month = fields.String(
        load_default=None,
        validate=validate.Regexp(MONTH),
        metadata={"description": "YYYY-MM (local): posts found that month"},
    )


class OpinionCaseIn(LocationMixin):
    """转为案件: the case text (prefilled from the post), the place, and optionally a category."""

    description = fields.String(
        required=True, validate=validate.Length(min=5, max=500), metadata={"pattern": DESCRIPTION}
    )
    category = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=16),
        metadata={"description": "a category code; 404 if none such"},
    )


class OpinionIrrelevantIn(ma.Schema):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class OpinionReplyIn(ma.Schema):
    text = fields.String(
        required=True, validate=validate.Length(min=1, max=2000), metadata={"pattern": NOT_BLANK}
    )
    replied_at = bounded_datetime(
        load_default=None,
        allow_none=True,
        default_timezone=LOCAL_TZ,
        metadata={
            "description": "when it was answered on the board (local time without an "
            "offset); none: now; a time after now is recorded as now"
        },
    )


class OpinionFollowupIn(ma.Schema):
    result = fields.String(
        required=True, validate=validate.Length(min=1, max=500), metadata={"pattern": NOT_BLANK}
    )
    satisfaction = fields.String(
        required=True, validate=validate.OneOf([s.value for s in Satisfaction])
    )


class OpinionRuleIn(ma.Schema):
    """A page source's extraction rule: simple selectors (see reports.opinion.parse)."""

    item = fields.String(required=True, validate=validate.Regexp(NEEDS_SELECTOR))
    title = fields.String(required=True, validate=validate.Regexp(TITLE))
    link = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(SELECTOR))
    date = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(SELECTOR))
    body = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(SELECTOR))
    author = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(SELECTOR))


PAGE_NEEDS_RULE = {
    "anyOf": [
        {"properties": {"kind": {"enum": ["rss", "atom", "json"]}}},
        {"required": ["rule"], "properties": {"rule": {"type": "object"}}},
        {"not": {"required": ["kind"]}},
    ]
}


class OpinionSourceIn(ma.Schema):
    class Meta:
        json_schema = PAGE_NEEDS_RULE

    name = fields.String(
        required=True, validate=validate.Length(min=1, max=64), metadata={"pattern": NOT_BLANK}
    )
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in SourceKind]))
    url = fields.String(required=True, validate=[validate.Length(max=500), validate.Regexp(URL)])
    rule = fields.Nested(OpinionRuleIn, load_default=None, allow_none=True)
    is_active = fields.Boolean(load_default=True)
    interval_minutes = fields.Integer(
        load_default=30, validate=validate.Range(min=5, max=7 * 24 * 60)
    )

    @ma.validates_schema
    def page_rule(self, data, **_kwargs):
        if data.get("kind") == "page" and not data.get("rule"):
            raise ma.ValidationError("网页来源需要填写条目和标题的选择器", "rule")


class OpinionSourcePatch(OpinionSourceIn):
    class Meta:
        json_schema = {"minProperties": 1, **PAGE_NEEDS_RULE}

    name = fields.String(validate=validate.Length(min=1, max=64), metadata={"pattern": NOT_BLANK})
    kind = fields.String(validate=validate.OneOf([k.value for k in SourceKind]))
    url = fields.String(validate=[validate.Length(max=500), validate.Regexp(URL)])
    is_active = fields.Boolean()
    interval_minutes = fields.Integer(validate=validate.Range(min=5, max=7 * 24 * 60))
    rule = fields.Nested(OpinionRuleIn, allow_none=True)

    @ma.validates_schema
    def page_rule(self, data, **_kwargs):
        if not data:
            raise ma.ValidationError("请至少修改一项", "name")
        if data.get("kind") == "page" and not data.get("rule"):
            raise ma.ValidationError("网页来源需要填写条目和标题的选择器", "rule")


WORD = fields.String(validate=validate.Length(min=1, max=32), metadata={"pattern": NOT_BLANK})


class OpinionKeywordsIn(ma.Schema):
    include = fields.List(WORD, required=True, validate=validate.Length(max=500))
    exclude = fields.List(WORD, required=True, validate=validate.Length(max=500))


class OpinionCountArgs(ma.Schema):
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100))
