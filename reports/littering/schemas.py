"""Marshmallow schemas of the 车窗抛物 APIs: citizen in/out, reviewer, enforcement and finance."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

import marshmallow as ma
from marshmallow import fields, validate

from app.apispec import ID, MAX_INT, NOT_BLANK, bounded_date
from reports.littering.models import (
    INVALID_REASONS,
    Channel,
    EntryState,
    LeadState,
    PayoutState,
)
from reports.littering.plates import PLATE_COLOURS

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
COORD_SYSTEMS = ("gcj02", "wgs84", "bd09")
VEHICLE_TYPES = ("car", "suv", "van", "truck", "bus", "taxi", "motorcycle", "other")
ENTRY_STATES = [s.value for s in EntryState]
PAYOUT_STATES = [s.value for s in PayoutState]
COUNT = validate.Range(min=1, max=MAX_INT)
FEN = validate.Range(min=0, max=MAX_INT)


class LocalDateTime(fields.DateTime):
    """An ISO time; one without a zone is read as Beijing time (what a citizen's phone shows)."""

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=LOCAL_TZ)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # a time within hours of year 1 or 9999
            raise ma.ValidationError("时间超出范围") from None


class LitteringIn(ma.Schema):
    plate = fields.String(required=True, validate=validate.Length(min=6, max=12))
    plate_colour = fields.String(required=True, validate=validate.OneOf(list(PLATE_COLOURS)))
    vehicle_type = fields.String(load_default=None, validate=validate.OneOf(VEHICLE_TYPES))
    vehicle_colour = fields.String(load_default=None, validate=validate.Length(max=16))
    occurred_at = LocalDateTime(required=True)
    lat = fields.Float(load_default=None, validate=validate.Range(-90, 90))
    lng = fields.Float(load_default=None, validate=validate.Range(-180, 180))
    coord_sys = fields.String(load_default="gcj02", validate=validate.OneOf(COORD_SYSTEMS))
    address = fields.String(load_default=None, validate=validate.Length(max=200))
    description = fields.String(load_default=None, validate=validate.Length(max=500))
    payee_name = fields.String(load_default=None, validate=validate.Length(max=32))
    media = fields.List(
        fields.String(validate=validate.Length(max=32)),
        required=True,
        validate=validate.Length(min=1, max=9),
    )


class SuggestIn(ma.Schema):
    media = fields.List(
        fields.String(validate=validate.Length(max=32)),
        required=True,
        validate=validate.Length(min=1, max=9),
    )


class PageArgs(ma.Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class StaffListArgs(PageArgs):
    state = fields.String(
        load_default=None, validate=validate.OneOf(["pending", "valid", "invalid", "duplicate"])
    )
    plate = fields.String(load_default=None, validate=validate.Length(max=12))


class ReviewIn(ma.Schema):
    class Meta:  # "invalid" needs its reason
        json_schema = {
            "anyOf": [
                {"properties": {"decision": {"enum": ["valid"]}}},
                {"required": ["reason"], "properties": {"reason": {"type": "string"}}},
            ]
        }

    decision = fields.String(required=True, validate=validate.OneOf(["valid", "invalid"]))
    reason = fields.String(load_default=None, validate=validate.OneOf(list(INVALID_REASONS)))
    note = fields.String(load_default=None, validate=validate.Length(max=500))
    plate = fields.String(load_default=None, validate=validate.Length(min=6, max=12))
    version = fields.Integer(load_default=None)


class LeadArgs(PageArgs):
    state = fields.String(load_default=None, validate=validate.OneOf([s.value for s in LeadState]))
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]))


class LeadIn(ma.Schema):
    class Meta:  # 立案 needs the case number
        json_schema = {
            "anyOf": [
                {"properties": {"state": {"not": {"enum": [LeadState.FILED.value]}}}},
                {
                    "required": ["case_number"],
                    "properties": {"case_number": {"type": "string", "minLength": 1}},
                },
            ]
        }

    state = fields.String(required=True, validate=validate.OneOf([s.value for s in LeadState]))
    case_number = fields.String(load_default=None, validate=validate.Length(max=40))
    penalty_fen = fields.Integer(load_default=None, validate=validate.Range(min=0, max=10**9))
    note = fields.String(load_default=None, validate=validate.Length(max=500))
    version = fields.Integer(load_default=None)


class RuleIn(ma.Schema):
    reward_fen = fields.Integer(validate=validate.Range(min=10, max=10_000_000))
    cap_day_count = fields.Integer(allow_none=True, validate=COUNT)
    cap_day_fen = fields.Integer(allow_none=True, validate=COUNT)
    cap_month_count = fields.Integer(allow_none=True, validate=COUNT)
    cap_month_fen = fields.Integer(allow_none=True, validate=COUNT)
    cap_year_count = fields.Integer(allow_none=True, validate=COUNT)
    cap_year_fen = fields.Integer(allow_none=True, validate=COUNT)
    budget_period = fields.String(validate=validate.OneOf(["month", "quarter", "year"]))
    budget_fen = fields.Integer(allow_none=True, validate=FEN)
    dup_window_minutes = fields.Integer(validate=validate.Range(min=0, max=7 * 24 * 60))
    dup_radius_m = fields.Integer(validate=validate.Range(min=0, max=100_000))
    deadline_hours = fields.Integer(validate=validate.Range(min=1, max=24 * 90))
    region_codes = fields.List(fields.String(validate=validate.Length(max=32)))
    note = fields.String(allow_none=True, validate=validate.Length(max=200))


class BanIn(ma.Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["user", "device", "ip"]))
    value = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class BatchIn(ma.Schema):
    channel = fields.String(
        load_default="wechat", validate=validate.OneOf([c.value for c in Channel])
    )
    entry_ids = fields.List(
        fields.Integer(validate=ID), load_default=None, validate=validate.Length(min=1, max=5000)
    )
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class EntryArgs(PageArgs):
    """GET /api/v1/staff/rewards: rewards by state."""

    state = fields.String(
        load_default=None, validate=validate.OneOf(ENTRY_STATES, error="未知的奖励状态")
    )


class PayoutArgs(PageArgs):
    """GET /api/v1/staff/rewards/payouts: payouts by state."""

    state = fields.String(
        load_default=None, validate=validate.OneOf(PAYOUT_STATES, error="未知的发放状态")
    )


class RetryIn(ma.Schema):
    channel = fields.String(load_default=None, validate=validate.OneOf([c.value for c in Channel]))


class CancelIn(ma.Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class OfflineIn(ma.Schema):
    reference = fields.String(
        required=True, validate=validate.Length(min=1, max=64), metadata={"pattern": NOT_BLANK}
    )
    attachment = fields.String(load_default=None, validate=validate.Length(max=32))


class MonthArgs(ma.Schema):
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100))
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv", "xlsx"]))


class ReconcileArgs(ma.Schema):
    day = bounded_date(load_default=None)


class Anything(ma.Schema):
    """A documented JSON object whose fields the presenter chooses."""

    class Meta:
        unknown = ma.INCLUDE
