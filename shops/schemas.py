"""Request and response schemas of the staff shop registry API (staff see owners unmasked)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.apispec import AT_LEAST_ONE, at_least_one_of, together
from shops import credit_code
from shops.importer import PHONE
from shops.models import ShopStatus

STATUSES = tuple(s.value for s in ShopStatus)
COORD_SYSTEMS = ("gcj02", "wgs84", "bd09")
INDUSTRY_CODE = validate.Regexp(
    r"^[a-z][a-z0-9_]{0,31}$", error="行业编码只能包含小写字母、数字和 _（如 catering）"
)


def _one_of(choices: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(choices, error=f"必须是 {'/'.join(choices)} 之一")


def _credit_code(value: str) -> None:
    try:
        credit_code.validate(value)
    except credit_code.CreditCodeError as exc:
        raise ma.ValidationError(str(exc)) from None


class CreditCodeField(ma.fields.String):
    """A 统一社会信用代码, normalised (upper case, no spaces) and checked."""

    def _deserialize(self, value, attr, data, **kwargs):
        return credit_code.normalize(super()._deserialize(value, attr, data, **kwargs))


# -- industries --------------------------------------------------------------------------------


class IndustryOut(ma.Schema):
    """An industry."""

    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True, metadata={"example": "catering"})
    name = ma.fields.String(required=True, metadata={"example": "餐饮"})
    is_active = ma.fields.Boolean(required=True)


class IndustryCreateIn(ma.Schema):
    """A new industry."""

    code = ma.fields.String(required=True, validate=INDUSTRY_CODE)
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))


class IndustryUpdateIn(ma.Schema):
    """Rename or (de)activate an industry."""

    class Meta:
        json_schema = AT_LEAST_ONE

    name = ma.fields.String(validate=validate.Length(min=1, max=32))
    is_active = ma.fields.Boolean()

    @ma.validates_schema
    def not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("至少提供一个要修改的字段", field_name="_schema")


class IndustryListArgs(ma.Schema):
    """Filters of the industry list."""

    active = ma.fields.Boolean()


# -- shops -------------------------------------------------------------------------------------


class DutyField(ma.Schema):
    """One 门前三包 duty."""

    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))
    detail = ma.fields.String(load_default="", validate=validate.Length(max=200))


class ShopSearchArgs(ma.Schema):
    """Filters and pagination of the staff shop search."""

    q = ma.fields.String(validate=validate.Length(max=50), metadata={"description": "名称包含"})
    credit_code = ma.fields.String(
        validate=validate.Length(max=18), metadata={"description": "统一社会信用代码前缀"}
    )
    industry = ma.fields.String(validate=validate.Length(max=32), metadata={"example": "catering"})
    district = ma.fields.String(validate=validate.Length(max=32), metadata={"example": "210106"})
    status = ma.fields.String(validate=_one_of(STATUSES))
    page = ma.fields.Integer(load_default=1, validate=validate.Range(1, 100000))
    per_page = ma.fields.Integer(load_default=20, validate=validate.Range(1, 100))


EDITABLE = ("name", "industry", "address", "lat", "lng", "owner_name", "owner_phone",
            "business_hours", "duties")  # fmt: skip


class ShopUpdateIn(ma.Schema):
    """What staff may change on a shop (status changes have their own actions)."""

    class Meta:
        json_schema = {"allOf": [at_least_one_of(*EDITABLE), together("lat", "lng")]}

    name = ma.fields.String(validate=validate.Length(min=1, max=100))
    industry = ma.fields.String(validate=validate.Length(min=1, max=32))
    address = ma.fields.String(validate=validate.Length(min=1, max=200))
    lat = ma.fields.Float(validate=validate.Range(-90, 90))
    lng = ma.fields.Float(validate=validate.Range(-180, 180))
    coord_sys = ma.fields.String(load_default="gcj02", validate=_one_of(COORD_SYSTEMS))
    owner_name = ma.fields.String(validate=validate.Length(min=1, max=64))
    owner_phone = ma.fields.String(
        validate=validate.Regexp(PHONE, error="不是有效的手机或固定电话号码")
    )
    business_hours = ma.fields.String(validate=validate.Length(max=100))
    duties = ma.fields.List(ma.fields.Nested(DutyField), validate=validate.Length(max=10))
    version = ma.fields.Integer(metadata={"description": "The version read; 409 if it changed"})

    @ma.validates_schema
    def location_pair(self, data, **kwargs):
        if ("lat" in data) != ("lng" in data):
            raise ma.ValidationError("经纬度需同时提供", field_name="lat")
        if not set(data) - {"coord_sys", "version"}:
            raise ma.ValidationError("至少提供一个要修改的字段", field_name="_schema")


class ShopCreateIn(ShopUpdateIn):
    """A new shop (staff registration)."""

    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    industry = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))
    credit_code = CreditCodeField(required=True, validate=_credit_code)
    address = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    lat = ma.fields.Float(required=True, validate=validate.Range(-90, 90))
    lng = ma.fields.Float(required=True, validate=validate.Range(-180, 180))
    owner_name = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    owner_phone = ma.fields.String(
        required=True, validate=validate.Regexp(PHONE, error="不是有效的手机或固定电话号码")
    )
    business_hours = ma.fields.String(load_default="", validate=validate.Length(max=100))
    status = ma.fields.String(load_default="active", validate=_one_of(STATUSES))


class StatusChangeIn(ma.Schema):
    """Why a shop is suspended, resumed or closed."""

    reason = ma.fields.String(required=True, validate=validate.Length(min=2, max=200))


class ShopOut(ma.Schema):
    """A shop as staff see it (owner data in full)."""

    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    industry = ma.fields.Nested(IndustryOut, required=True)
    credit_code = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    lat = ma.fields.Float(required=True, metadata={"description": "GCJ-02"})
    lng = ma.fields.Float(required=True, metadata={"description": "GCJ-02"})
    coord_sys_in = ma.fields.String(required=True)
    district_code = ma.fields.String(allow_none=True, required=True)
    district_name = ma.fields.String(allow_none=True, required=True)
    street_region_id = ma.fields.Integer(allow_none=True, required=True)
    owner_name = ma.fields.String(required=True)
    owner_phone = ma.fields.String(required=True)
    business_hours = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"example": "active"})
    status_label = ma.fields.String(required=True, metadata={"example": "正常营业"})
    duties = ma.fields.List(ma.fields.Nested(DutyField), required=True)
    source = ma.fields.String(required=True, metadata={"description": "import | generated | staff"})
    version = ma.fields.Integer(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)


class ShopListOut(ma.Schema):
    """A page of shops."""

    items = ma.fields.List(ma.fields.Nested(ShopOut), required=True)
    total = ma.fields.Integer(required=True)
    page = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(required=True)


class ShopCodeOut(ma.Schema):
    """A plate code in the shop's history."""

    code = ma.fields.String(required=True)
    status = ma.fields.Function(lambda c: c.status.value, required=True)
    issued_at = ma.fields.AwareDateTime(required=True)
    revoked_at = ma.fields.AwareDateTime(allow_none=True)
    revoke_reason = ma.fields.String(allow_none=True)


class ShopReportOut(ma.Schema):
    """A report about the shop."""

    number = ma.fields.String(required=True)
    state = ma.fields.Function(lambda r: r.state.value, required=True)
    category = ma.fields.Function(lambda r: r.category.name if r.category else None)
    description = ma.fields.String(required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class ShopDetailOut(ShopOut):
    """A shop with its plate codes (newest last) and recent reports."""

    codes = ma.fields.List(ma.fields.Nested(ShopCodeOut), required=True)
    recent_reports = ma.fields.List(ma.fields.Nested(ShopReportOut), required=True)
