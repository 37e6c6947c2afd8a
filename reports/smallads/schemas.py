"""Marshmallow schemas of the 牛皮癣 staff APIs."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.apispec import NOT_BLANK
from reports.smallads.models import AdvertiserState

COORD_SYSTEMS = ("gcj02", "wgs84", "bd09")


class AdOcrIn(ma.Schema):
    photo = fields.String(required=True, validate=validate.Length(min=1, max=64))


class AdCaptureIn(ma.Schema):
    photo = fields.String(required=True, validate=validate.Length(min=1, max=64))
    numbers = fields.List(
        fields.String(validate=validate.Length(min=5, max=30)),
        required=True,
        validate=validate.Length(min=1, max=5),
    )
    suggested = fields.List(
        fields.String(validate=validate.Length(max=30)),
        load_default=list,
        validate=validate.Length(max=20),
    )
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    lng = fields.Float(required=True, validate=validate.Range(-180, 180))
    coord_sys = fields.String(load_default="gcj02", validate=validate.OneOf(COORD_SYSTEMS))
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class AdvertiserListArgs(ma.Schema):
    state = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in AdvertiserState])
    )
    phone = fields.String(load_default=None, validate=validate.Length(min=5, max=30))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class AdvertiserActionIn(ma.Schema):
    note = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=200), validate.Regexp(NOT_BLANK)],
    )


class AdNoticeIn(ma.Schema):
    pass
