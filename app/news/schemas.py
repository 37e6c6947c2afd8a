"""News schemas: what staff send, and separate staff and public views of an article."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from app.apispec import NOT_BLANK  # declares what the trim below refuses: only blanks
from app.news.models import BODY_MAX, SUMMARY_MAX, TITLE_MAX, NewsStatus


def _title(**kw: Any) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(min=1, max=TITLE_MAX), metadata={
        "description": f"at most {TITLE_MAX} characters", "pattern": NOT_BLANK}, **kw)  # fmt: skip


def _body(**kw: Any) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(min=1, max=BODY_MAX), metadata={
        "description": "Plain text; each line is a paragraph. HTML is shown as typed, never "
                       "interpreted", "pattern": NOT_BLANK}, **kw)  # fmt: skip


class NewsFields(ma.Schema):
    """The editable fields; blank titles and bodies are refused after trimming."""

    title = _title()
    summary = ma.fields.String(validate=validate.Length(max=SUMMARY_MAX))
    body = _body()
    cover = ma.fields.String(allow_none=True, validate=validate.Length(max=32), metadata={
        "description": "id of a photo uploaded by staff through POST /api/v1/media"})  # fmt: skip

    @ma.pre_load
    def trim(self, data: Any, **_: Any) -> Any:
        """Titles and texts without surrounding blanks (a title of spaces is no title)."""
        if not isinstance(data, dict):
            return data
        return {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}


class NewsCreateIn(NewsFields):
    """A new article (a draft)."""

    title = _title(required=True)
    body = _body(required=True)


class NewsUpdateIn(NewsFields):
    """Changed fields and the version read (409 stale_version if it changed meanwhile)."""

    version = ma.fields.Integer(required=True, metadata={"description": "the version read"})


class NewsStatusIn(ma.Schema):
    """Publish or withdraw; send the version read to get 409 instead of acting on a newer one."""

    version = ma.fields.Integer(allow_none=True)


class NewsListArgs(ma.Schema):
    """Staff list: status filter and paging."""

    status = ma.fields.String(validate=validate.OneOf([s.value for s in NewsStatus]))
    page = ma.fields.Integer(load_default=1, validate=validate.Range(1, 100000))
    per_page = ma.fields.Integer(load_default=20, validate=validate.Range(1, 100))


class PageArgs(ma.Schema):
    """Public list paging."""

    page = ma.fields.Integer(load_default=1, validate=validate.Range(1, 100000))
    per_page = ma.fields.Integer(load_default=10, validate=validate.Range(1, 50))


class CoverOut(ma.Schema):
    id = ma.fields.String()
    url = ma.fields.String(metadata={"description": "short-lived link; read the article again"})


class NewsPublicItemOut(ma.Schema):
    """A line of the public list: no author, no editing data."""

    id = ma.fields.Integer()
    title = ma.fields.String()
    summary = ma.fields.String(metadata={"description": "the summary, or the body's beginning"})
    cover = ma.fields.Nested(CoverOut, allow_none=True)
    published_at = ma.fields.AwareDateTime(allow_none=True)


class NewsPublicOut(NewsPublicItemOut):
    """An article as citizens read it."""

    body = ma.fields.String()
    paragraphs = ma.fields.List(ma.fields.String(), metadata={"description": "the body's lines"})


class NewsPublicListOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(NewsPublicItemOut))
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()


class NewsStaffItemOut(NewsPublicItemOut):
    """A line of the editors' list."""

    summary = ma.fields.String(metadata={"description": "as typed (may be empty)"})
    status = ma.fields.String()
    status_label = ma.fields.String()
    author = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()
    version = ma.fields.Integer()


class NewsStaffOut(NewsStaffItemOut):
    """An article as editors see it."""

    body = ma.fields.String()
    paragraphs = ma.fields.List(ma.fields.String())


class NewsStaffListOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(NewsStaffItemOut))
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
