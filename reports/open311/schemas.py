"""What the Open311 interface reads (a posted request's parameters) and the admin API's bodies
and answers: Open311 clients (never their keys' hashes)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.apispec import AT_LEAST_ONE, NOT_BLANK
from reports.open311.service import DESCRIPTION_MAX, RATE_PERIODS

NAME_PATTERN = {"pattern": NOT_BLANK}
RATE_COUNT = {"validate": validate.Range(1, 100_000),
              "metadata": {"description": "Requests allowed per rate_period"}}  # fmt: skip
RATE_PERIOD = {"validate": validate.OneOf(tuple(RATE_PERIODS))}


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("不能为空白")


class ClientIn(ma.Schema):
    """A new client: its name, who runs it (staff-only), and its rate limit."""

    name = ma.fields.String(
        required=True, validate=[validate.Length(min=1, max=64), _not_blank], metadata=NAME_PATTERN
    )
    contact = ma.fields.String(validate=validate.Length(max=200), allow_none=True)
    rate_count = ma.fields.Integer(load_default=60, **RATE_COUNT)
    rate_period = ma.fields.String(load_default="minute", **RATE_PERIOD)


class ClientPatch(ma.Schema):
    """Change a client: any of its name, contact and rate limit."""

    class Meta:
        json_schema = AT_LEAST_ONE

    name = ma.fields.String(
        validate=[validate.Length(min=1, max=64), _not_blank], metadata=NAME_PATTERN
    )
    contact = ma.fields.String(validate=validate.Length(max=200), allow_none=True)
    rate_count = ma.fields.Integer(**RATE_COUNT)
    rate_period = ma.fields.String(**RATE_PERIOD)


class ClientOut(ma.Schema):
    """A client as admins see it."""

    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    contact = ma.fields.String(required=True, allow_none=True)
    key_hint = ma.fields.String(
        required=True, metadata={"description": "The key's first characters, to tell keys apart"}
    )
    rate_limit = ma.fields.String(required=True, metadata={"description": "e.g. 60/minute"})
    rate_label = ma.fields.String(required=True, metadata={"description": "每分钟60次"})
    is_active = ma.fields.Boolean(required=True)
    created_at = ma.fields.DateTime(required=True)
    key_issued_at = ma.fields.DateTime(required=True)
    revoked_at = ma.fields.DateTime(required=True, allow_none=True)
    last_used_at = ma.fields.DateTime(required=True, allow_none=True)
    requests = ma.fields.Integer(required=True, metadata={"description": "Requests posted"})


class ClientListOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ClientOut), required=True)


class ClientKeyOut(ClientOut):
    """A client with its new key: shown this once, never again."""

    api_key = ma.fields.String(required=True, metadata={"description": "Shown once"})


class RequestIn(ma.Schema):
    """The standard's parameters of POST requests that we use (others are ignored: first_name,
    last_name, email, device_id and account_id are not stored)."""

    class Meta:
        unknown = ma.EXCLUDE

    service_code = ma.fields.String(required=True, validate=validate.Length(min=1, max=16))
    lat = ma.fields.Float(validate=validate.Range(-90, 90))
    lng = ma.fields.Float(data_key="long", validate=validate.Range(-180, 180))
    address = ma.fields.String(data_key="address_string", validate=validate.Length(max=200))
    description = ma.fields.String(validate=validate.Length(max=DESCRIPTION_MAX))
    media_url = ma.fields.Url(schemes={"http", "https"}, validate=validate.Length(max=500))
    phone = ma.fields.String(validate=validate.Length(max=32))

    @ma.validates_schema
    def point_or_address(self, data, **_kwargs):
        """Both coordinates or neither; an address if there is no point."""
        if ("lat" in data) != ("lng" in data):
            raise ma.ValidationError("lat 和 long 需同时提供", "long")
        if "lat" not in data and not (data.get("address") or "").strip():
            raise ma.ValidationError("请提供位置：lat 和 long（WGS-84）或 address_string", "lat")
