"""Marshmallow schemas of the 文明行为展示 APIs: what citizens send, the public, the author's and
the reviewers' views of a post (separate schemas, never an ``if`` in a view)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from app.apispec import NOT_BLANK
from reports.showcase.models import (
    NOTE_MAX,
    REASON_MAX,
    TEXT_MAX,
    TEXT_MIN,
    FlagReason,
    PostState,
)

# Keyset cursor: "<sort value>.<id>" (microseconds since the epoch, or a like count). Declared
# in full, so every cursor the spec allows is one the server reads.
CURSOR_PATTERN = r"^[0-9]{1,16}\.[0-9]{1,10}$"
MAX_PHOTOS = 2
SORTS = ("newest", "popular")


class ShowcaseTrimmed(ma.Schema):
    """Texts without surrounding blanks (a text of spaces is no text)."""

    @ma.pre_load
    def trim(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}


def _text(max_len: int, min_len: int = 1, **kw: Any) -> fields.String:
    return fields.String(
        validate=validate.Length(min=min_len, max=max_len), metadata={"pattern": NOT_BLANK}, **kw
    )


class ShowcasePostIn(ShowcaseTrimmed):
    """A new post: one or two photos uploaded first through POST /api/v1/media, a few words,
    and the district where it was seen (optional)."""

    text = _text(TEXT_MAX, TEXT_MIN, required=True)
    photos = fields.List(
        fields.String(validate=validate.Length(min=1, max=32)),
        required=True,
        validate=validate.Length(min=1, max=MAX_PHOTOS),
        metadata={"description": "ids of the caller's uploads (POST /api/v1/media), in order"},
    )
    district = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=32),
        metadata={"description": "a district's region code (GET /api/v1/showcase/districts)"},
    )


class ShowcaseFlagIn(ShowcaseTrimmed):
    reason = fields.String(required=True, validate=validate.OneOf([r.value for r in FlagReason]))
    note = _text(NOTE_MAX, load_default=None, allow_none=True)


class ShowcaseReasonIn(ShowcaseTrimmed):
    """Refuse or hide: the reason is shown to the author."""

    reason = _text(REASON_MAX, required=True)


class ShowcaseEmptyIn(ma.Schema):
    """No fields."""


class ShowcaseGalleryArgs(ma.Schema):
    sort = fields.String(
        load_default="newest",
        validate=validate.OneOf(SORTS),
        metadata={"description": "newest: by approval time; popular: most liked first"},
    )
    cursor = fields.String(
        load_default=None,
        validate=validate.Regexp(CURSOR_PATTERN, error="分页标记无效"),
        metadata={"description": "next_cursor of the previous page", "pattern": CURSOR_PATTERN},
    )
    per_page = fields.Integer(load_default=12, validate=validate.Range(1, 50))


class ShowcasePageArgs(ma.Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(1, 100))


class ShowcaseStaffListArgs(ShowcasePageArgs):
    state = fields.String(load_default=None, validate=validate.OneOf([s.value for s in PostState]))
    flagged = fields.Boolean(load_default=False, metadata={"description": "with open reports"})
    featured = fields.Boolean(load_default=False)


# ---------------------------------------------------------------- out


class ShowcasePhotoOut(ma.Schema):
    id = fields.String()
    url = fields.String(metadata={"description": "short-lived link; read the post again"})


class ShowcasePublicPostOut(ma.Schema):
    """A post as the public sees it: the author's masked nickname, never who they are."""

    id = fields.Integer()
    text = fields.String()
    photos = fields.List(fields.Nested(ShowcasePhotoOut))
    author = fields.String(metadata={"description": "masked nickname, e.g. 张**"})
    district = fields.String(allow_none=True)
    published_at = fields.AwareDateTime()
    like_count = fields.Integer()
    liked = fields.Boolean(metadata={"description": "the signed-in citizen likes it"})
    featured = fields.Boolean()


class ShowcaseGalleryOut(ma.Schema):
    items = fields.List(fields.Nested(ShowcasePublicPostOut))
    sort = fields.String()
    next_cursor = fields.String(allow_none=True, metadata={"description": "null on the last page"})


class ShowcaseFeaturedOut(ma.Schema):
    items = fields.List(fields.Nested(ShowcasePublicPostOut))


class ShowcaseDistrictOut(ma.Schema):
    code = fields.String()
    name = fields.String()


class ShowcaseDistrictsOut(ma.Schema):
    items = fields.List(fields.Nested(ShowcaseDistrictOut))


class ShowcaseLikeOut(ma.Schema):
    liked = fields.Boolean()
    like_count = fields.Integer()


class ShowcaseFlagOut(ma.Schema):
    reason = fields.String()
    reason_label = fields.String()
    created_at = fields.AwareDateTime()


class ShowcaseOwnPostOut(ma.Schema):
    """A post as its author sees it: its state and, when refused or hidden, why."""

    id = fields.Integer()
    text = fields.String()
    photos = fields.List(fields.Nested(ShowcasePhotoOut))
    district = fields.String(allow_none=True)
    state = fields.String()
    state_label = fields.String()
    reason = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    published_at = fields.AwareDateTime(allow_none=True)
    like_count = fields.Integer()
    featured = fields.Boolean()


class ShowcaseOwnListOut(ma.Schema):
    items = fields.List(fields.Nested(ShowcaseOwnPostOut))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class ShowcaseStaffFlagOut(ma.Schema):
    reason = fields.String()
    reason_label = fields.String()
    note = fields.String(allow_none=True)
    reporter = fields.String(metadata={"description": "masked nickname"})
    created_at = fields.AwareDateTime()
    open = fields.Boolean()
    resolution_label = fields.String(allow_none=True)


class ShowcaseStaffPostOut(ShowcaseOwnPostOut):
    """A post as reviewers see it: the original photos, the author's nickname, the reports."""

    author = fields.String()
    district_code = fields.String(allow_none=True)
    reviewer = fields.String(allow_none=True)
    reviewed_at = fields.AwareDateTime(allow_none=True)
    featured_at = fields.AwareDateTime(allow_none=True)
    flag_count = fields.Integer(metadata={"description": "open reports"})
    flags = fields.List(fields.Nested(ShowcaseStaffFlagOut))


class ShowcaseStaffListOut(ma.Schema):
    items = fields.List(fields.Nested(ShowcaseStaffPostOut))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
