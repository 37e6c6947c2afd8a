"""Request and response schemas of the staff facility API and the admin facility-kind API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.apispec import AT_LEAST_ONE, MAX_INT, SPACE, at_least_one_of, together
from services_nearby import hours
from services_nearby.models import FacilityStatus

STATUSES = tuple(s.value for s in FacilityStatus)
COORD_SYSTEMS = ("gcj02", "wgs84", "bd09")
LAT = validate.Range(-90, 90, error="纬度应在 -90 到 90 之间")
LNG = validate.Range(-180, 180, error="经度应在 -180 到 180 之间")
KIND_CODE = validate.Regexp(
    r"^[a-z][a-z0-9_]{1,31}$",
    error="类型编码为 2 到 32 位小写字母、数字或 _，以字母开头（如 toilet）",
)
# An OpenStreetMap tag as the importer matches it: key=value, exactly.
OSM_TAG = validate.Regexp(
    rf"^[A-Za-z0-9_:.\-]{{1,40}}=[^={SPACE}](?:[^=]{{0,62}}[^={SPACE}])?$",
    error="OSM 标签格式应为 key=value（如 amenity=toilets）",
)


def _one_of(choices: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(choices, error=f"必须是 {'/'.join(choices)} 之一")


class HoursField(ma.fields.String):
    """Opening hours in the OSM subset of :mod:`services_nearby.hours`, loaded as its normalized
    text (what is stored); a bad value fails with the parser's Chinese message."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return hours.parse(text).text
        except hours.HoursError as exc:
            raise ma.ValidationError(str(exc)) from None


# -- facility kinds (admin) ----------------------------------------------------------------------


class FacilityKindOut(ma.Schema):
    """A facility kind as admins see it."""

    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True, metadata={"example": "toilet"})
    name = ma.fields.String(required=True, metadata={"example": "公共厕所"})
    title = ma.fields.String(required=True, metadata={"example": "找公厕"})
    osm_tags = ma.fields.List(
        ma.fields.String(), required=True, metadata={"example": ["amenity=toilets"]}
    )
    sort_order = ma.fields.Integer(required=True)
    is_active = ma.fields.Boolean(required=True)


class FacilityKindUpdateIn(ma.Schema):
    """What admins may change on a kind (the code is permanent: imports and clients use it)."""

    class Meta:
        json_schema = AT_LEAST_ONE

    name = ma.fields.String(validate=validate.Length(min=1, max=32))
    title = ma.fields.String(
        validate=validate.Length(min=1, max=32),
        metadata={"description": "市民看到的入口名称，如 找公厕"},
    )
    osm_tags = ma.fields.List(ma.fields.String(validate=OSM_TAG), validate=validate.Length(max=20))
    sort_order = ma.fields.Integer(strict=True, validate=validate.Range(-10_000, 10_000))
    is_active = ma.fields.Boolean()

    @ma.validates_schema
    def not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("至少提供一个要修改的字段", field_name="_schema")


class FacilityKindCreateIn(FacilityKindUpdateIn):
    """A new kind; the title defaults to the name, the order to after every other kind."""

    code = ma.fields.String(required=True, validate=KIND_CODE)
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))
    osm_tags = ma.fields.List(
        ma.fields.String(validate=OSM_TAG), load_default=list, validate=validate.Length(max=20)
    )


# -- facilities (staff) --------------------------------------------------------------------------


class FacilityListArgs(ma.Schema):
    """Filters and pagination of the staff facility list."""

    kind = ma.fields.String(validate=validate.Length(max=32), metadata={"example": "toilet"})
    district = ma.fields.String(validate=validate.Length(max=32), metadata={"example": "210102"})
    status = ma.fields.String(validate=_one_of(STATUSES))
    q = ma.fields.String(
        validate=validate.Length(max=50), metadata={"description": "名称或地址包含"}
    )
    source = ma.fields.String(
        validate=validate.Length(max=32),
        metadata={"description": "staff | osm | csv | geojson ..."},
    )
    page = ma.fields.Integer(load_default=1, validate=validate.Range(1, 100_000))
    per_page = ma.fields.Integer(load_default=20, validate=validate.Range(1, 100))


EDITABLE = ("kind", "name", "address", "lat", "lng", "opening_hours", "fee", "accessible",
            "capacity", "free_spaces", "external_id", "feed")  # fmt: skip


class FacilityFields(ma.Schema):
    """The fields staff enter for a facility."""

    kind = ma.fields.String(validate=validate.Length(min=1, max=32))
    name = ma.fields.String(validate=validate.Length(min=1, max=100))
    address = ma.fields.String(validate=validate.Length(max=200))
    lat = ma.fields.Float(validate=LAT)
    lng = ma.fields.Float(validate=LNG)
    coord_sys = ma.fields.String(load_default="gcj02", validate=_one_of(COORD_SYSTEMS))
    opening_hours = HoursField(
        metadata={"description": "OSM 格式，如 Mo-Fr 08:00-18:00; Sa,Su 09:00-17:00；留空表示未知"}
    )
    fee = ma.fields.String(validate=validate.Length(max=64), metadata={"example": "免费"})
    accessible = ma.fields.Boolean(allow_none=True, metadata={"description": "无障碍；null 未知"})
    capacity = ma.fields.Integer(
        allow_none=True, validate=validate.Range(0, MAX_INT, error="容量应为不小于 0 的整数")
    )
    free_spaces = ma.fields.Integer(
        allow_none=True, validate=validate.Range(0, MAX_INT, error="空位数应为不小于 0 的整数")
    )
    external_id = ma.fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "本单位编号（停车系统据此推送）"},
    )
    feed = ma.fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "可推送空位数的数据源名称（仅管理员）"},
    )

    @ma.validates_schema
    def consistent(self, data, **kwargs):
        free, capacity = data.get("free_spaces"), data.get("capacity")
        if free is not None and capacity is not None and free > capacity:
            raise ma.ValidationError("空位数不能大于容量", field_name="free_spaces")


class FacilityUpdateIn(FacilityFields):
    """What staff may change on a facility (removal has its own actions). Moving it means sending
    ``lat`` and ``lng`` (in ``coord_sys``, default GCJ-02)."""

    class Meta:
        json_schema = {"allOf": [at_least_one_of(*EDITABLE), together("lat", "lng")]}

    version = ma.fields.Integer(
        required=True, metadata={"description": "The version read; 409 if it changed"}
    )

    @ma.validates_schema
    def edit_fields(self, data, **kwargs):
        if ("lat" in data) != ("lng" in data):
            raise ma.ValidationError("经纬度需同时提供", field_name="lat")
        if not set(data) - {"coord_sys", "version"}:
            raise ma.ValidationError("至少提供一个要修改的字段", field_name="_schema")


class FacilityCreateIn(FacilityFields):
    """A new facility (entered by staff: source ``staff``)."""

    kind = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    lat = ma.fields.Float(required=True, validate=LAT)
    lng = ma.fields.Float(required=True, validate=LNG)
    address = ma.fields.String(load_default="", validate=validate.Length(max=200))
    opening_hours = HoursField(load_default="")
    fee = ma.fields.String(load_default="", validate=validate.Length(max=64))


class FacilityStatusIn(ma.Schema):
    """Why a facility is removed or restored (optional), and the version read (optional)."""

    reason = ma.fields.String(load_default="", validate=validate.Length(max=200))
    version = ma.fields.Integer(metadata={"description": "The version read; 409 if it changed"})


class FacilityOut(ma.Schema):
    """A facility as staff see it."""

    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata={"example": "parking"})
    kind_name = ma.fields.String(required=True, metadata={"example": "停车场"})
    name = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    lat = ma.fields.Float(required=True, metadata={"description": "GCJ-02"})
    lng = ma.fields.Float(required=True, metadata={"description": "GCJ-02"})
    wgs_lat = ma.fields.Float(required=True, metadata={"description": "WGS-84"})
    wgs_lng = ma.fields.Float(required=True, metadata={"description": "WGS-84"})
    coord_sys_in = ma.fields.String(required=True, metadata={"description": "As entered"})
    district_code = ma.fields.String(allow_none=True, required=True)
    district_name = ma.fields.String(allow_none=True, required=True)
    opening_hours = ma.fields.String(required=True)
    hours_label = ma.fields.String(required=True, metadata={"example": "全天开放"})
    fee = ma.fields.String(required=True)
    accessible = ma.fields.Boolean(allow_none=True, required=True)
    capacity = ma.fields.Integer(allow_none=True, required=True)
    free_spaces = ma.fields.Integer(allow_none=True, required=True)
    free_spaces_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    feed = ma.fields.String(allow_none=True, required=True, metadata={"description": "数据源名称"})
    status = ma.fields.String(required=True, metadata={"example": "active"})
    status_label = ma.fields.String(required=True, metadata={"example": "正常"})
    source = ma.fields.String(required=True)
    external_id = ma.fields.String(allow_none=True, required=True)
    version = ma.fields.Integer(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)


class FacilityListOut(ma.Schema):
    """A page of facilities."""

    items = ma.fields.List(ma.fields.Nested(FacilityOut), required=True)
    total = ma.fields.Integer(required=True)
    page = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(required=True)


# -- the parking feed ----------------------------------------------------------------------------


class FeedUpdateDoc(ma.Schema):
    """One update of a feed batch (documentation; items are checked one by one)."""

    id = ma.fields.Integer(metadata={"description": "设施 id（与 external_id 二选一）"})
    external_id = ma.fields.String(metadata={"description": "设施编号（本数据源的设施之中）"})
    free_spaces = ma.fields.Integer(required=True, metadata={"example": 12})
    at = ma.fields.String(
        required=True,
        metadata={"example": "2026-11-21T22:00:00+08:00", "description": "带时区的 ISO 8601 时间"},
    )


class FeedIn(ma.Schema):
    """A batch of free-space updates (1 to 500)."""

    updates = ma.fields.List(ma.fields.Nested(FeedUpdateDoc), required=True)


class FeedErrorOut(ma.Schema):
    """A refused update: its position in ``updates``, the field and why."""

    index = ma.fields.Integer(required=True)
    field = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)


class FeedOut(ma.Schema):
    """What happened to the batch."""

    applied = ma.fields.Integer(required=True)
    ignored_stale = ma.fields.Integer(
        required=True, metadata={"description": "Not newer than the stored time (retries)"}
    )
    errors = ma.fields.List(ma.fields.Nested(FeedErrorOut), required=True)
