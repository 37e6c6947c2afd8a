"""Request and response schemas of the reference-data admin API and the public category list."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from app.apispec import AT_LEAST_ONE, ID
from app.geo.importer import COORD_SYSTEMS, LEVELS

CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$", error="编码只能包含字母、数字、- 和 _")
DEPARTMENT_TYPE = validate.Regexp(
    r"^[a-z][a-z0-9_]{0,31}$", error="部门类型只能包含小写字母、数字和 _（如 sanitation）"
)
TWO_DIGITS = validate.Regexp(r"^\d{2}$", error="必须是两位数字")
GB_CODE = validate.Regexp(
    r"^\d{4}$", error="必须是四位数字（国标大类+小类，如 0101）；城市自有类别请填 null"
)
DEFINITION_MAX = 1000
KINDS = ("部件", "事件")
TIME_UNITS = ("hours", "days")
DEPARTMENT_KINDS = ("bureau", "district", "street", "unit", "utility")


def _one_of(choices: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(choices, error=f"必须是 {'/'.join(choices)} 之一")


def _nonempty(schema: ma.Schema, data: dict) -> None:
    if not data:
        raise ma.ValidationError("至少提供一个要修改的字段", field_name="_schema")


# -- categories ----------------------------------------------------------------------------------


class QuestionOut(ma.Schema):
    """A follow-up question of a category (reports.questions)."""

    key = ma.fields.String(required=True, metadata={"example": "missing"})
    label = ma.fields.String(required=True, metadata={"example": "井盖是否缺失？"})
    kind = ma.fields.String(required=True, metadata={"description": "yes_no | choice | text"})
    options = ma.fields.List(ma.fields.String(), metadata={"description": "choice only"})
    required = ma.fields.Boolean(required=True)
    urgent_if = ma.fields.List(
        ma.fields.String(), metadata={"description": "answers that make the case urgent"}
    )


QUESTIONS_DOC = {
    "description": "Follow-up questions (at most 5): key, label, kind (yes_no | choice | text), "
    "options (choice), required, urgent_if (answers that make the case urgent); [] for none"
}


class PublicCategoryOut(ma.Schema):
    """A category as citizens choose it."""

    code = ma.fields.String(required=True, metadata={"example": "SJ0102"})
    kind = ma.fields.String(required=True, metadata={"example": "事件"})
    major = ma.fields.String(
        required=True, attribute="major_name", metadata={"example": "市容环境"}
    )
    name = ma.fields.String(required=True, metadata={"example": "暴露垃圾"})
    photo_required = ma.fields.Boolean(required=True)
    definition = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "What belongs in the category and what does not (help text)"},
    )
    questions = ma.fields.Function(
        lambda c: c.questions or [], required=True, metadata={"description": "follow-up questions"}
    )


class CategoryOut(ma.Schema):
    """A category with everything admins manage."""

    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    major_code = ma.fields.String(required=True)
    major_name = ma.fields.String(required=True)
    minor_code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    full_name = ma.fields.String(required=True, metadata={"example": "事件/市容环境/暴露垃圾"})
    time_limit = ma.fields.Integer(required=True)
    time_unit = ma.fields.String(required=True, metadata={"description": "hours | days (working)"})
    time_limit_label = ma.fields.String(required=True, metadata={"example": "4个工作时"})
    department_type = ma.fields.String(required=True, metadata={"example": "sanitation"})
    photo_required = ma.fields.Boolean(required=True)
    shop_related = ma.fields.Boolean(required=True)
    is_active = ma.fields.Boolean(required=True)
    gb_code = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "GB/T 30428.2 class (major + minor); null: the city's own"},
    )
    definition = ma.fields.String(required=True, allow_none=True)
    questions = ma.fields.Function(lambda c: c.questions or [], required=True,
                                   metadata=QUESTIONS_DOC)  # fmt: skip


class CategoryUpdateIn(ma.Schema):
    """What admins may change on a category (no hard delete: set is_active false)."""

    class Meta:
        json_schema = AT_LEAST_ONE

    time_limit = ma.fields.Integer(validate=validate.Range(min=1, max=2000))
    time_unit = ma.fields.String(validate=_one_of(TIME_UNITS))
    department_type = ma.fields.String(validate=DEPARTMENT_TYPE)
    photo_required = ma.fields.Boolean()
    is_active = ma.fields.Boolean()
    gb_code = ma.fields.String(allow_none=True, validate=GB_CODE, metadata={"example": "0103"})
    definition = ma.fields.String(
        allow_none=True, validate=validate.Length(min=1, max=DEFINITION_MAX)
    )
    questions = ma.fields.List(ma.fields.Dict(), allow_none=True, metadata=QUESTIONS_DOC)

    @ma.validates_schema
    def not_empty(self, data, **kwargs):
        _nonempty(self, data)


class CategoryCreateIn(CategoryUpdateIn):
    """A new subcategory (cities extend the national list)."""

    code = ma.fields.String(required=True, validate=[CODE, validate.Length(max=16)])
    kind = ma.fields.String(required=True, validate=_one_of(KINDS))
    major_code = ma.fields.String(required=True, validate=TWO_DIGITS)
    major_name = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))
    minor_code = ma.fields.String(required=True, validate=TWO_DIGITS)
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    time_limit = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=2000))
    time_unit = ma.fields.String(required=True, validate=_one_of(TIME_UNITS))
    department_type = ma.fields.String(required=True, validate=DEPARTMENT_TYPE)
    photo_required = ma.fields.Boolean(load_default=True)
    shop_related = ma.fields.Boolean(load_default=False)
    is_active = ma.fields.Boolean(load_default=True)


class CategoryListArgs(ma.Schema):
    """Filters of the admin category list."""

    active = ma.fields.Boolean(metadata={"description": "Only active (true) or inactive (false)"})


# -- departments ---------------------------------------------------------------------------------


class DepartmentAdminOut(ma.Schema):
    """A department with the department types it handles."""

    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    handles = ma.fields.List(ma.fields.String(), required=True, metadata={"example": ["water"]})
    parent_id = ma.fields.Integer(allow_none=True, required=True)
    is_active = ma.fields.Boolean(required=True)


class DepartmentNodeOut(DepartmentAdminOut):
    """A department and the units below it."""

    children = ma.fields.List(ma.fields.Nested(lambda: DepartmentNodeOut()), required=True)


class DepartmentUpdateIn(ma.Schema):
    """What admins may change on a department (no hard delete: set is_active false)."""

    class Meta:
        json_schema = AT_LEAST_ONE

    name = ma.fields.String(validate=validate.Length(min=1, max=100))
    parent_id = ma.fields.Integer(allow_none=True, validate=ID)
    handles = ma.fields.List(
        ma.fields.String(validate=DEPARTMENT_TYPE),
        validate=validate.Length(max=10),
        metadata={"description": "Department types of the categories it handles"},
    )
    is_active = ma.fields.Boolean()

    @ma.validates_schema
    def not_empty(self, data, **kwargs):
        _nonempty(self, data)


class DepartmentCreateIn(DepartmentUpdateIn):
    """A new department."""

    code = ma.fields.String(required=True, validate=CODE)
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    kind = ma.fields.String(required=True, validate=_one_of(DEPARTMENT_KINDS))
    parent_id = ma.fields.Integer(allow_none=True, load_default=None, validate=ID)
    handles = ma.fields.List(
        ma.fields.String(validate=DEPARTMENT_TYPE),
        validate=validate.Length(max=10),
        load_default=list,
    )
    is_active = ma.fields.Boolean(load_default=True)


# -- regions -------------------------------------------------------------------------------------


class RegionListArgs(ma.Schema):
    """Filters of the region list."""

    level = ma.fields.String(validate=_one_of(LEVELS))
    parent_id = ma.fields.Integer(validate=ID)
    active = ma.fields.Boolean()


class RegionOut(ma.Schema):
    """A region without its polygon."""

    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    level = ma.fields.String(required=True)
    parent_id = ma.fields.Integer(allow_none=True, required=True)
    department = ma.fields.Nested(lambda: RegionDepartmentOut(), allow_none=True, required=True)
    bbox = ma.fields.List(
        ma.fields.Float(), metadata={"description": "[min_lat, min_lng, max_lat, max_lng], GCJ-02"}
    )
    area_m2 = ma.fields.Float(required=True)
    source = ma.fields.String(required=True)
    source_coord_sys = ma.fields.String(required=True)
    is_active = ma.fields.Boolean(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)


class RegionDetailOut(RegionOut):
    """A region with its polygon."""

    geometry = ma.fields.Dict(
        required=True, metadata={"description": "GeoJSON MultiPolygon in GCJ-02"}
    )


class RegionDepartmentOut(ma.Schema):
    """A department reference."""

    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class RegionUpdateIn(ma.Schema):
    """What admins may change on a region (its code and boundary come with a GeoJSON import)."""

    class Meta:
        json_schema = AT_LEAST_ONE

    name = ma.fields.String(validate=validate.Length(min=1, max=100))
    department_id = ma.fields.Integer(allow_none=True, validate=ID)
    is_active = ma.fields.Boolean()

    @ma.validates_schema
    def not_empty(self, data, **kwargs):
        _nonempty(self, data)


class RegionFileIn(ma.Schema):
    """The uploaded GeoJSON FeatureCollection."""

    file = Upload(required=True, error_messages={"required": "请选择要导入的 GeoJSON 文件"})


class RegionImportIn(ma.Schema):
    """How to read the uploaded file."""

    level = ma.fields.String(required=True, validate=_one_of(LEVELS))
    coord_sys = ma.fields.String(required=True, validate=_one_of(COORD_SYSTEMS))
    code_prop = ma.fields.String(load_default="adcode", validate=validate.Length(min=1, max=64))
    name_prop = ma.fields.String(load_default="name", validate=validate.Length(min=1, max=64))
    parent_code = ma.fields.String(validate=validate.Length(min=1, max=32))
    parent_prop = ma.fields.String(validate=validate.Length(min=1, max=64))
    department_prop = ma.fields.String(validate=validate.Length(min=1, max=64))
    source = ma.fields.String(load_default="", validate=validate.Length(max=200))


class RegionImportForm(RegionImportIn):
    """The whole multipart body, for the API docs (parsed as RegionImportIn + RegionFileIn)."""

    file = Upload(required=True, metadata={"description": "GeoJSON FeatureCollection, UTF-8"})


class RegionImportOut(ma.Schema):
    """Codes of the regions an import created and updated."""

    created = ma.fields.List(ma.fields.String(), required=True)
    updated = ma.fields.List(ma.fields.String(), required=True)


# -- calendar ------------------------------------------------------------------------------------


class CalendarYearArgs(ma.Schema):
    """Which year of the working calendar."""

    year = ma.fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))


class CalendarDayIn(ma.Schema):
    """A public holiday, or a weekend day declared a working day (调休上班)."""

    kind = ma.fields.String(required=True, validate=_one_of(("holiday", "workday")))
    name = ma.fields.String(load_default="", validate=validate.Length(max=32))


class CalendarDayOut(ma.Schema):
    """A calendar entry; days not listed follow the weekday rule."""

    day = ma.fields.Date(required=True)
    kind = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class CalendarYearOut(ma.Schema):
    """The entries of one year."""

    year = ma.fields.Integer(required=True)
    days = ma.fields.List(ma.fields.Nested(CalendarDayOut), required=True)
